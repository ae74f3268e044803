"""The keyword signal: BM25 over document text, maintained incrementally (R-Q-2, Q-6).

Rules implemented here (all *observed: moss 1.21.0*):

* the tokenizer (:func:`words`, :func:`tokenize`, :func:`term_ids`): transliterate to ASCII
  (:mod:`._fold`), lowercase, split into words by the Unicode word-boundary rules on that ASCII
  text (:data:`_WORD`: runs of letters, digits and ``_``, joined across one ``:``, ``.`` or ``'``
  between two letters and one ``,``, ``;``, ``.`` or ``'`` between two digits, so ``a.b``,
  ``3.14``, ``world.com``, ``don't`` and ``3,000`` are one word each and ``e-mail`` is two; a
  word of ``_`` alone is none), drop the English stop words (:mod:`._stopwords`), stem the rest
  with Porter2 (:mod:`._stem`); a document's length is its number of remaining words;
* the index identifies a word by the 32-bit FxHash of its stem (:func:`term_id`), as the SDK
  does: two stems with the same hash are the same term (``basin`` and ``basque`` match each
  other; such pairs have the same length and usually the same first three letters);
* ``idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`` with ``N`` the number of documents in the
  index and ``n_t`` the number containing ``t``; ``k1 = 1.2``, ``b = 0.75``; the average length
  covers every document of the index, not only those passing a filter;
* every query term counts, repeats included (a query ``"red red fox"`` weighs ``red`` twice);
  only documents containing at least one query term enter the keyword list; per-term
  contributions are summed with ``math.fsum`` so the score does not depend on summation order;
* ranking order is (BM25 desc, position asc): ``position`` maps each id to its place in the
  index (first insertion order, kept by an upsert), supplied by the corpus (QRY-6).

The real SDK computes in float32, so documents whose float64 scores differ by less than float32
rounding may come in another order there; its transliteration of scripts beyond Latin, Greek and
Cyrillic is only approximated (see the departures).

The scoring formula itself is in :mod:`moss_ref._keyword_rule` (KW-1..KW-3), the index in a
keyword backend (``_keywords`` pure Python, ``moss_ref_backends.numpy_keywords``), which receives
the term ids of :func:`term_ids`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

from ._fold import fold
from ._stem import stem
from ._stopwords import STOP_WORDS

K1 = 1.2
B = 0.75
# Unicode word boundaries (UAX #29) restricted to ASCII: ALetter, Numeric, ExtendNumLet (_),
# MidLetter (:), MidNum (, ;), MidNumLet (. and the single quote).
_WORD = re.compile(r"[a-z0-9_]+(?:(?:(?<=[a-z])[:.'](?=[a-z])|(?<=[0-9])[,;.'](?=[0-9]))[a-z0-9_]+)*")
_MASK = 0xFFFFFFFF
_SEED = 0x27220A95
_NOT_A_TERM = -1
_BOUNDARY = -2


def words(text: str) -> list[str]:
    """The words of ``text``: folded to ASCII, lowercased, split at word boundaries."""
    folded = fold(text).lower()
    found = _WORD.findall(folded)
    if "_" in folded:
        found = [w for w in found if w.strip("_")]
    return found


def tokenize(text: str) -> list[str]:
    """The stems of the words of ``text`` that are not stop words, in text order."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS]


def term_id(token: str) -> int:
    """The 32-bit FxHash of ``token`` (its UTF-8 bytes, then ``0xff``): the index's key for it.

    Four bytes at a time read little-endian, then the remaining bytes one by one; each step is
    ``h = (rotl(h, 5) ^ word) * 0x27220a95 mod 2**32``.
    """
    data = token.encode()
    h = 0
    n = len(data)
    i = 0
    while n - i >= 4:
        h = ((((h << 5) | (h >> 27)) & _MASK) ^ int.from_bytes(data[i : i + 4], "little")) * _SEED & _MASK
        i += 4
    while i < n:
        h = ((((h << 5) | (h >> 27)) & _MASK) ^ data[i]) * _SEED & _MASK
        i += 1
    return ((((h << 5) | (h >> 27)) & _MASK) ^ 0xFF) * _SEED & _MASK


class _TermCache(dict[str, int]):
    """word -> term id of its stem, or ``_NOT_A_TERM`` for a stop word."""

    def __missing__(self, word: str) -> int:
        if word == "\x00":
            return _BOUNDARY  # the separator of term_id_lists, never a word
        value = _NOT_A_TERM if word in STOP_WORDS else term_id(stem(word))
        if len(self) >= 1_000_000:
            self.clear()
        self[word] = value
        return value


_TERMS = _TermCache()


def term_ids(text: str) -> list[int]:
    """The term ids of ``text`` in text order (stop words dropped): ``map(term_id, tokenize(text))``."""
    return list(filter(_NOT_A_TERM.__ne__, map(_TERMS.__getitem__, words(text))))


# Many texts at once, two ways. Fast: every byte of the folded, lowercased texts that no word can
# hold becomes a space, so ``bytes.split`` cuts them into *chunks* (runs of word and joiner
# characters) with a lone NUL between texts; a chunk holds the same words as the regex finds in
# it (a match never crosses a space), and a cache maps each chunk to the term id of its one word,
# or to 0 when it has none (or a stop word), so ``filter(None, ...)`` drops those. A rare chunk —
# two or more words (``x:1``) or a word whose term id is 0 — is never cached and sends the batch
# the other way: the texts joined by NUL, which no word contains and no joiner crosses (a joiner
# needs a letter or digit on both sides), one regex scan, with a NUL match between texts.
_CHUNK = 2048
_BATCH_WORD = re.compile(_WORD.pattern + "|\x00")
_KEEP = b"abcdefghijklmnopqrstuvwxyz0123456789_:.',;\x00"
_SEPARATORS = bytes(c if c in _KEEP else 0x20 for c in range(256))


class _ChunkCache(dict[bytes, int]):
    """chunk -> term id of its one word, or 0 for none; ``rare`` is set by a chunk it cannot map."""

    rare = False

    def __missing__(self, chunk: bytes) -> int:
        if chunk == b"\x00":
            return _BOUNDARY
        found = [w for w in _WORD.findall(chunk.decode("ascii")) if w.strip("_")]
        value = _TERMS[found[0]] if len(found) == 1 else _NOT_A_TERM
        if len(found) > 1 or value == 0:
            self.rare = True  # not cached: every batch holding it takes the regex way
            return _BOUNDARY
        value = 0 if value == _NOT_A_TERM else value
        if len(self) >= 1_000_000:
            self.clear()
        self[chunk] = value
        return value


_CHUNKS = _ChunkCache()
_CHUNKS_LOCK = threading.Lock()  # guards ``rare`` (sessions in other threads tokenize too)


def term_id_lists(texts: Sequence[str]) -> list[list[int]]:
    """``[term_ids(t) for t in texts]``, with one split and one lookup pass per chunk of texts."""
    if len(texts) > _CHUNK:  # bounded chunks: the words of all texts at once would be a large transient
        return [ids for i in range(0, len(texts), _CHUNK) for ids in term_id_lists(texts[i : i + _CHUNK])]
    if not texts:
        return []
    folded = [fold(t).lower() for t in texts]
    joined = " \x00 ".join(folded)  # ASCII: fold transliterates every code point (QRY-3)
    if joined.count("\x00") == len(texts) - 1:
        chunks = joined.encode("ascii").translate(_SEPARATORS).split()
        with _CHUNKS_LOCK:
            _CHUNKS.rare = False
            ids = list(filter(None, map(_CHUNKS.__getitem__, chunks)))
            rare = _CHUNKS.rare
        if not rare:
            return _per_text(ids, len(texts))
    joined = "\x00".join(folded)
    if "_" in joined or joined.count("\x00") != len(texts) - 1:
        return [term_ids(t) for t in texts]  # underscore words to drop, or a NUL inside a text
    return _per_text(list(filter(_NOT_A_TERM.__ne__, map(_TERMS.__getitem__, _BATCH_WORD.findall(joined)))), len(texts))


def _per_text(ids: list[int], n: int) -> list[list[int]]:
    """Cut the term ids of ``n`` texts at the ``n - 1`` boundaries between them."""
    out: list[list[int]] = []
    index = ids.index
    start = 0
    for _ in range(n - 1):
        end = index(_BOUNDARY, start)
        out.append(ids[start:end])
        start = end + 1
    out.append(ids[start:])
    return out
