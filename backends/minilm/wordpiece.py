"""Pure-Python BERT-uncased WordPiece tokenizer (stdlib only), id for id the ``tokenizers`` package's.

all-MiniLM-L6-v2 is tokenized by Hugging Face's Rust ``tokenizers`` (``BertNormalizer`` +
``BertPreTokenizer`` + ``WordPiece``). This module does the same steps in the same order:

1. **special tokens** — exact occurrences of ``[PAD] [UNK] [CLS] [SEP] [MASK]`` in the raw text
   become those tokens (the model's ``added_tokens``; longest match, left to right);
2. **clean** — drop NUL, U+FFFD, control/format/private-use characters (and lone surrogates);
   map whitespace to a space;
3. **CJK** — put spaces around every CJK ideograph, so each is a word of its own;
4. **strip accents** — NFD, then drop nonspacing marks;
5. **lowercase**, character by character;
6. **pre-tokenize** — split on spaces, and split off every punctuation character;
7. **WordPiece** — greedy longest-match-first against the vocabulary, continuation pieces
   prefixed ``##``; a word longer than 100 characters, or one with an unmatched rest, is ``[UNK]``;
8. ``[CLS] pieces [SEP]``, truncated to ``max_length`` tokens (256, R-M-5) by dropping pieces
   from the end. Batches are padded with ``[PAD]`` (id 0) to the longest text of the batch only.

The character classes come from ``_unicode_tables`` (probed from ``tokenizers``), not from
``unicodedata.category``: the Rust code uses older Unicode tables for them. ``unicodedata`` is used
for NFD and lowercase only, with the few differences listed in the tables. The truncation and
padding settings stored in the shipped ``tokenizer.json`` (128) are ignored on purpose.
"""

from __future__ import annotations

import bisect
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from moss_ref._errors import model_unavailable

from . import _unicode_tables as _t

__all__ = ["DEFAULT_MAX_LENGTH", "SPECIAL_TOKENS", "WordPieceTokenizer"]

DEFAULT_MAX_LENGTH = 256  # R-M-5: sentence-transformers' max_seq_length for all-MiniLM-L6-v2
SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_CHUNK = 16384  # long texts are normalized in chunks cut at spaces (exact: nothing spans a space)
_ASCII_PUNCT = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum())


def _table(ranges: Sequence[tuple[int, int]]) -> tuple[list[int], list[int]]:
    return [a for a, _ in ranges], [b for _, b in ranges]


_CONTROL = _table(_t.CONTROL)
_CJK = _table(_t.CJK)
_MARKS = _table(_t.NONSPACING_MARKS)


def _in(cp: int, table: tuple[list[int], list[int]]) -> bool:
    i = bisect.bisect_right(table[0], cp) - 1
    return i >= 0 and cp <= table[1][i]


def _char_class(chars: str, ranges: Sequence[tuple[int, int]]) -> str:
    parts = [re.escape(c) for c in chars]
    parts += [f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges]
    return "".join(parts)


_PUNCT = _char_class(_ASCII_PUNCT, _t.PUNCTUATION)
_WORD_RE = re.compile(f"[{_PUNCT}]|[^{_PUNCT} ]+")
_OPAQUE_RE = re.compile("([" + "".join(f"\\U{c:08x}" for c in sorted(_t.NFD_OPAQUE)) + "])")


class _CleanMap(dict[int, "str | None"]):
    """``str.translate`` table of steps 2 and 3, filled lazily one code point at a time."""

    def __missing__(self, cp: int) -> str | None:
        value: str | None
        if _in(cp, _CONTROL) or 0xD800 <= cp <= 0xDFFF:
            value = None
        elif cp in _t.WHITESPACE:
            value = " "
        elif _in(cp, _CJK):
            value = f" {chr(cp)} "
        else:
            value = chr(cp)
        self[cp] = value
        return value


class _StripLowerMap(dict[int, "str | None"]):
    """``str.translate`` table of steps 4 (after NFD) and 5."""

    def __missing__(self, cp: int) -> str | None:
        value = None if _in(cp, _MARKS) else _t.LOWER_EXTRA.get(cp, chr(cp).lower())
        self[cp] = value
        return value


_CLEAN = _CleanMap()
_STRIP_LOWER = _StripLowerMap()


def normalize(text: str) -> str:
    """Steps 2-5 (the ``BertNormalizer`` of the uncased model) on text without special tokens."""
    text = text.translate(_CLEAN)
    if text.isascii():
        return text.lower()
    if _OPAQUE_RE.search(text) is None:
        text = unicodedata.normalize("NFD", text)
    else:  # characters the Rust NFD does not know stay as they are and act as starters
        parts = _OPAQUE_RE.split(text)
        text = "".join(p if i % 2 else unicodedata.normalize("NFD", p) for i, p in enumerate(parts))
    return text.translate(_STRIP_LOWER)


def pre_tokenize(normalized: str) -> list[str]:
    """Step 6: words split on spaces, each punctuation character a word of its own."""
    return _WORD_RE.findall(normalized)


def _chunks(text: str) -> Iterator[str]:
    start, n = 0, len(text)
    while n - start > _CHUNK:
        cut = text.rfind(" ", start + 1, start + _CHUNK)
        if cut == -1:
            cut = text.find(" ", start + _CHUNK)
            if cut == -1:
                break
        yield text[start:cut]
        start = cut
    yield text[start:]


class WordPieceTokenizer:
    """BERT-uncased WordPiece over a fixed vocabulary; see the module docstring for the steps.

    Thread-safe: the only mutable state is a per-word cache of WordPiece results.
    """

    def __init__(
        self,
        vocab: Mapping[str, int],
        *,
        special_tokens: Iterable[str] = SPECIAL_TOKENS,
        unk_token: str = "[UNK]",
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        continuing_subword_prefix: str = "##",
        max_input_chars_per_word: int = 100,
        cache_size: int = 200_000,
    ) -> None:
        self.vocab: dict[str, int] = dict(vocab)
        missing = [t for t in (unk_token, cls_token, sep_token, pad_token) if t not in self.vocab]
        if missing:
            raise model_unavailable(f"the tokenizer vocabulary lacks the special tokens {missing}")
        self.unk_id = self.vocab[unk_token]
        self.cls_id = self.vocab[cls_token]
        self.sep_id = self.vocab[sep_token]
        self.pad_id = self.vocab[pad_token]
        self.max_input_chars_per_word = max_input_chars_per_word
        n = len(continuing_subword_prefix)
        self._continuation = {k[n:]: v for k, v in self.vocab.items() if k.startswith(continuing_subword_prefix)}
        self._max_piece = max((len(k) for k in self.vocab), default=1)
        self._max_continuation = max((len(k) for k in self._continuation), default=1)
        specials = sorted({t for t in special_tokens if t in self.vocab}, key=lambda t: (-len(t), t))
        self._special_re = re.compile("|".join(re.escape(t) for t in specials)) if specials else None
        self._cache: dict[str, tuple[int, ...]] = {}
        self._cache_size = cache_size
        self._inverse: dict[int, str] | None = None

    # -- construction from the model's files ------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> WordPieceTokenizer:
        """Read ``tokenizer.json`` (by its ``.json`` suffix) or a BERT ``vocab.txt``."""
        data = Path(path).read_bytes()
        return cls.from_tokenizer_json(data) if str(path).endswith(".json") else cls.from_vocab_txt(data)

    @classmethod
    def from_vocab_txt(cls, data: bytes | str) -> WordPieceTokenizer:
        """A BERT ``vocab.txt``: one token per line, the id is the line number."""
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        vocab: dict[str, int] = {}
        for i, token in enumerate(lines):
            vocab.setdefault(token.rstrip("\r"), i)
        return cls(vocab)

    @classmethod
    def from_tokenizer_json(cls, data: bytes | str) -> WordPieceTokenizer:
        """A Hugging Face ``tokenizer.json`` with a WordPiece model (its truncation/padding are ignored)."""
        try:
            spec = json.loads(data)
            model = spec["model"]
            if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
                raise ValueError("not a WordPiece model")
            added = spec.get("added_tokens") or []
            for token in added:
                if token.get("normalized") or token.get("lstrip") or token.get("rstrip") or token.get("single_word"):
                    raise ValueError(f"unsupported added token options: {token!r}")
            vocab = {str(k): int(v) for k, v in model["vocab"].items()}
            return cls(
                vocab,
                special_tokens=[str(t["content"]) for t in added],
                unk_token=str(model.get("unk_token", "[UNK]")),
                continuing_subword_prefix=str(model.get("continuing_subword_prefix", "##")),
                max_input_chars_per_word=int(model.get("max_input_chars_per_word", 100)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise model_unavailable(f"tokenizer.json could not be read: {exc}") from exc

    # -- tokenization -----------------------------------------------------------------------

    def _wordpiece(self, word: str) -> tuple[int, ...]:
        n = len(word)
        if n > self.max_input_chars_per_word:
            return (self.unk_id,)
        pieces: list[int] = []
        start = 0
        while start < n:
            table = self.vocab if start == 0 else self._continuation
            end = min(n, start + (self._max_piece if start == 0 else self._max_continuation))
            while end > start:
                token_id = table.get(word[start:end])
                if token_id is not None:
                    pieces.append(token_id)
                    break
                end -= 1
            else:
                return (self.unk_id,)
            start = end
        return tuple(pieces)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        ids = self._cache.get(word)
        if ids is None:
            ids = self._wordpiece(word)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[word] = ids
        return ids

    def _iter_ids(self, text: str) -> Iterator[tuple[int, ...]]:
        """Token ids of ``text`` without [CLS]/[SEP], one tuple per word, lazily."""
        segments: list[tuple[str, int | None]] = []
        pos = 0
        if self._special_re is not None:
            for m in self._special_re.finditer(text):
                segments.append((text[pos : m.start()], None))
                segments.append(("", self.vocab[m.group()]))
                pos = m.end()
        segments.append((text[pos:], None))
        for segment, special in segments:
            if special is not None:
                yield (special,)
                continue
            for chunk in _chunks(segment):
                for word in pre_tokenize(normalize(chunk)):
                    yield self._word_ids(word)

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of ``text`` as strings, without [CLS]/[SEP] and untruncated."""
        if self._inverse is None:
            self._inverse = {v: k for k, v in self.vocab.items()}
        return [self._inverse[i] for ids in self._iter_ids(text) for i in ids]

    def encode(self, text: str, max_length: int | None = DEFAULT_MAX_LENGTH) -> list[int]:
        """``[CLS] pieces [SEP]`` ids, at most ``max_length`` in all (None: no truncation)."""
        if max_length is not None and max_length < 2:
            raise ValueError(f"max_length must be at least 2 (room for [CLS] and [SEP]), got {max_length}")
        limit = None if max_length is None else max_length - 1  # ids kept before [SEP], [CLS] included
        ids = [self.cls_id]
        for word_ids in self._iter_ids(text):
            ids.extend(word_ids)
            if limit is not None and len(ids) >= limit:
                del ids[limit:]
                break
        ids.append(self.sep_id)
        return ids

    def encode_batch(
        self, texts: Sequence[str], max_length: int | None = DEFAULT_MAX_LENGTH
    ) -> tuple[list[list[int]], list[list[int]]]:
        """``(input_ids, attention_mask)`` padded with [PAD] to the longest text of the batch."""
        encoded = [self.encode(t, max_length) for t in texts]
        width = max((len(ids) for ids in encoded), default=0)
        input_ids = [ids + [self.pad_id] * (width - len(ids)) for ids in encoded]
        mask = [[1] * len(ids) + [0] * (width - len(ids)) for ids in encoded]
        return input_ids, mask
