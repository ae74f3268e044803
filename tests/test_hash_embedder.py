"""hash-v1 (docs/rules/hash_embedder.md): golden values derived by hand, and a naive
re-implementation written straight from the spec text, independent of the module's code."""

from __future__ import annotations

import hashlib
import math
import os
import struct
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_ref import _hash_embedder
from moss_ref._errors import InvalidArgumentError
from moss_ref._hash_embedder import create, feature_hash, tokenize
from moss_ref._protocols import Embedder, EmbedderFingerprint

MODELS = ("moss-minilm", "moss-mediumlm", "moss-litelm")

# -- the naive re-implementation (straight from docs/rules/hash_embedder.md) --------------------

WORD_CATEGORIES = {"Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No"}


def spec_is_word_char(ch: str) -> bool:
    return ch == "_" or unicodedata.category(ch) in WORD_CATEGORIES


def spec_tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    tokens, current = [], ""
    for ch in folded:
        if spec_is_word_char(ch):
            current += ch
        elif current:
            tokens.append(current)
            current = ""
    if current:
        tokens.append(current)
    return tokens


def spec_hash(seed: str, feature: str) -> tuple[int, int]:
    digest = hashlib.sha256((seed + "|" + feature).encode("utf-8")).digest()
    (h,) = struct.unpack("<Q", digest[:8])
    return h % 384, (-1 if (h >> 63) & 1 else 1)


def spec_embed(seed: str, text: str) -> list[float]:
    v = [0] * 384
    for token in spec_tokens(text):
        feats = [("w|" + token, 3)]
        padded = "<" + token + ">"
        feats += [("t|" + padded[i : i + 3], 1) for i in range(len(padded) - 2)]
        for feature, weight in feats:
            bucket, sign = spec_hash(seed, feature)
            v[bucket] += sign * weight
    if all(x == 0 for x in v):
        bucket, sign = spec_hash(seed, "e|")
        v[bucket] = sign
    norm = math.sqrt(float(sum(x * x for x in v)))
    return [struct.unpack("<f", struct.pack("<f", float(x) / norm))[0] for x in v]


# -- golden values: SHA-256 prefixes from `printf '%s' FEATURE | sha256sum`, arithmetic by hand --

# feature -> (first 8 digest bytes as hex, uint64 little-endian, bucket = h % 384, sign from bit 63)
GOLDEN_HASHES = {
    ("moss-minilm", "w|hello"): ("e931b757fbfae62d", 0x2DE6FAFB57B731E9, 233, +1),
    ("moss-minilm", "t|<he"): ("c990eff48809b59f", 0x9FB50988F4EF90C9, 329, -1),
    ("moss-minilm", "t|hel"): ("064fd46aa4ebc6d0", 0xD0C6EBA46AD44F06, 134, -1),
    ("moss-minilm", "t|ell"): ("64fb9e323d87a895", 0x95A8873D329EFB64, 100, -1),
    ("moss-minilm", "t|llo"): ("43dda24c782a73b4", 0xB4732A784CA2DD43, 323, -1),
    ("moss-minilm", "t|lo>"): ("2d6784691e8f75e9", 0xE9758F1E6984672D, 173, -1),
    ("moss-minilm", "e|"): ("c08beb8791295cbf", 0xBF5C299187EB8BC0, 192, -1),
    ("moss-mediumlm", "e|"): ("08bb29ab94091b3e", 0x3E1B0994AB29BB08, 8, +1),
    ("moss-litelm", "e|"): ("3c0534793f17a2a8", 0xA8A2173F7934053C, 60, -1),
    ("moss-litelm", "w|hello"): ("53298df6e9b2fe07", 0x07FEB2E9F68D2953, 211, +1),
}

# "hello" under moss-minilm: six features in six distinct buckets, v = [+3, -1, -1, -1, -1, -1],
# |v|^2 = 14; float32(3/sqrt(14)) has bits 0x3f4d41b3, float32(1/sqrt(14)) has bits 0x3e88d677.
HELLO_MINILM = {233: 0x3F4D41B3, 329: 0xBE88D677, 134: 0xBE88D677, 100: 0xBE88D677, 323: 0xBE88D677, 173: 0xBE88D677}
BLANK = {"moss-minilm": (192, -1.0), "moss-mediumlm": (8, 1.0), "moss-litelm": (60, -1.0)}


def f32_bits(x: float) -> int:
    return int(struct.unpack("<I", struct.pack("<f", x))[0])


def test_golden_feature_hashes() -> None:
    for (seed, feature), (prefix, h, bucket, sign) in GOLDEN_HASHES.items():
        digest = hashlib.sha256(f"{seed}|{feature}".encode()).digest()
        assert digest[:8].hex() == prefix
        assert int.from_bytes(bytes.fromhex(prefix), "little") == h
        assert (h % 384, -1 if h >= 2**63 else 1) == (bucket, sign)
        assert feature_hash(seed, feature) == (bucket, sign)


def test_golden_vector_hello() -> None:
    vector = create("moss-minilm").embed(["hello"])[0]
    assert len(vector) == 384
    nonzero = {i: f32_bits(x) for i, x in enumerate(vector) if x != 0.0}
    assert nonzero == HELLO_MINILM
    # counts scale v, so repetition and case do not change the unit vector
    assert create("moss-minilm").embed(["Hello, HELLO! hello"])[0] == vector


@pytest.mark.parametrize("model_id", MODELS)
@pytest.mark.parametrize("text", ["", "   ", "!?,.;-", "\u0301\u0302"])
def test_blank_text_embeds_to_the_fixed_unit_vector(model_id: str, text: str) -> None:
    bucket, value = BLANK[model_id]
    expected = [0.0] * 384
    expected[bucket] = value
    assert create(model_id).embed([text]) == [expected]


def test_tokenizer_examples() -> None:
    assert tokenize("Straße ﬁne_tuning 42x, naïve") == ["strasse", "fine_tuning", "42x", "naïve"]
    assert tokenize("Ⅻ ½ x²") == ["xii", "1", "2", "x2"]
    assert tokenize("日本語テキスト") == ["日本語テキスト"]
    assert tokenize("हिन्दी") == ["ह", "न", "द"]  # combining marks (Mn, Mc) are not word characters
    assert tokenize("e\u0301t\u00e9") == ["été"]  # NFKC composes first


def test_word_characters_are_letters_numbers_and_underscore() -> None:
    """HASH-3: Python's ``\\w`` equals ``[\\p{L}\\p{N}_]`` on every code point of this UCD."""
    import re

    word = re.compile(r"\w")
    mismatches = [cp for cp in range(sys.maxunicode + 1) if bool(word.match(chr(cp))) != spec_is_word_char(chr(cp))]
    assert mismatches == []


@settings(max_examples=200)
@given(text=st.text(max_size=60), model_id=st.sampled_from(MODELS))
def test_matches_naive_spec_implementation(text: str, model_id: str) -> None:
    assert tokenize(text) == spec_tokens(text)
    assert create(model_id).embed([text]) == [spec_embed(model_id, text)]


@pytest.mark.parametrize(
    "text",
    ["The quick brown fox", "naïve café ÇA VA", "moss_ref 1.21 → 2", "🙂 emoji 🙂", "a" * 500, "x y " * 50],
)
def test_fixed_texts_match_spec(text: str) -> None:
    for model_id in MODELS:
        assert create(model_id).embed([text]) == [spec_embed(model_id, text)]


@settings(max_examples=100)
@given(texts=st.lists(st.text(alphabet="abc xyzé", max_size=30), max_size=6))
def test_unit_length_float32_and_batch_independent(texts: list[str]) -> None:
    embedder = create("moss-minilm")
    batch = embedder.embed(texts)
    assert batch == [embedder.embed([t])[0] for t in texts]
    for vector in batch:
        assert len(vector) == 384
        assert all(struct.unpack("<f", struct.pack("<f", x))[0] == x for x in vector)
        assert abs(math.sqrt(math.fsum(x * x for x in vector)) - 1.0) < 1e-6


def test_model_ids_are_separate_spaces() -> None:
    texts = ["hello world", ""]
    vectors = [create(m).embed(texts) for m in MODELS]
    for i in range(len(MODELS)):
        for j in range(i + 1, len(MODELS)):
            assert vectors[i][0] != vectors[j][0] and vectors[i][1] != vectors[j][1]
    assert {i for i, x in enumerate(create("moss-litelm").embed(["hello"])[0]) if x > 0.5} == {211}


def test_related_words_are_closer_than_unrelated_ones() -> None:
    run, running, banana = create("moss-minilm").embed(["run", "running", "banana"])

    def dot(a: list[float], b: list[float]) -> float:
        return math.fsum(x * y for x, y in zip(a, b))

    assert dot(run, running) > 0.1 > abs(dot(run, banana))  # 2 shared trigrams: 2 / sqrt(12 * 16)


def test_cache_eviction_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"token{i} shared words" for i in range(50)]
    expected = create("moss-minilm").embed(texts)
    monkeypatch.setattr(_hash_embedder, "_CACHE_LIMIT", 3)
    assert create("moss-minilm").embed(texts) == expected


def test_same_vector_in_another_process_with_another_hash_seed() -> None:
    code = "from moss_ref._hash_embedder import create; print(repr(create('moss-mediumlm').embed(['Seeds vary'])[0]))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == repr(create("moss-mediumlm").embed(["Seeds vary"])[0])


def test_fingerprint_and_protocol() -> None:
    embedder = create("moss-mediumlm")
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == "moss-mediumlm"
    assert embedder.fingerprint == EmbedderFingerprint("hash-v1", "1", 384, "")


@pytest.mark.parametrize("model_id", ["custom", "moss-large", "", "MOSS-MINILM"])
def test_rejects_model_ids_it_does_not_serve(model_id: str) -> None:
    with pytest.raises(InvalidArgumentError, match="moss-minilm"):
        create(model_id)


def test_rejects_bad_arguments() -> None:
    embedder = create("moss-minilm")
    with pytest.raises(InvalidArgumentError, match="single str"):
        embedder.embed("hello")
    with pytest.raises(InvalidArgumentError, match=r"texts\[1\]"):
        embedder.embed(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="no options"):
        create("moss-minilm", seed="x")
