"""The exact BM25 rule every keyword backend reproduces bit for bit (QRY-3, QRY-6, QRY-17, KW-1..KW-3).

KW-1 — one contribution, one float64 expression in one order. For a query token ``t`` found in a
document of ``length`` tokens with term frequency ``tf`` (ints), in an index of ``n`` documents,
``df`` of which contain ``t``, with ``avgdl = total_length / n`` (true division)::

    idf  = log(1.0 + (n - df + 0.5) / (df + 0.5))
    norm = K1 * ((1.0 - B) + B * length / avgdl)          # (B * length) / avgdl
    w    = idf * tf * (K1 + 1.0) / (tf + norm)            # ((idf * tf) * (K1 + 1)) / (tf + norm)

Each step is one IEEE-754 float64 operation (ints convert exactly), so numpy's elementwise
float64 arithmetic gives the same bits as Python's.

KW-2 — a document's score is ``math.fsum`` of its contributions, one per query token
*occurrence* (a token repeated in the query is repeated in the sum): the correctly rounded sum,
so it does not depend on summation order. Every contribution is > 0 (``idf > 0`` since
``df <= n``), so any float sum of them is within a relative ``gamma(m) = m u / (1 - m u)``
(``u = 2**-53``) of the exact sum — the bound a backend's inexact shortlist relies on
(:func:`shortlist_floor`).

KW-3 — order: (score desc, position asc), ``position`` being a document's place in the index.
Only documents containing at least one query token are ranked.

QRY-17 — the keyword document of a record is its text followed by each metadata key and its value,
every one tokenized by the same tokenizer (:func:`document_terms`), so metadata words match
queries, count in ``df`` and add to the document's length (observed: moss 1.21.0). The id and the
payload are not part of it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Optional

from ._bm25 import K1, B, term_id_lists, term_ids, tokenize

__all__ = [
    "FLOAT32_UNIT",
    "FLOAT64_UNIT",
    "K1_PLUS_1",
    "NOT_INDEXED",
    "ONE_MINUS_B",
    "TERMS_VERSION",
    "TermScore",
    "TermStats",
    "document_terms",
    "documents_terms",
    "exact_rank",
    "idf",
    "is_blank_document",
    "length_norm",
    "shortlist_floor",
    "weight",
]

K1_PLUS_1: Final = K1 + 1.0
ONE_MINUS_B: Final = 1.0 - B
#: Names the function from a record to its term ids (:func:`document_terms`: the tokenizer of
#: ``_bm25``, the 32-bit term hash and QRY-17's metadata rule). Stored terms carry it, and a
#: resume uses them only when it is this one; change it whenever any of those changes the ids of
#: some record (``tests/test_store_format.py`` pins a sample).
TERMS_VERSION: Final = "moss_ref-terms-1"
#: A document length in stored terms meaning "not in the keyword index" (blank, QRY-17).
NOT_INDEXED: Final = 0xFFFFFFFF
#: Unit roundoff of float64 and float32 arithmetic (the error bounds of :func:`shortlist_floor`).
FLOAT64_UNIT: Final = 2.0**-53
FLOAT32_UNIT: Final = 2.0**-24


def idf(n_docs: int, df: int) -> float:
    """``ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`` (KW-1)."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def length_norm(length: int, avgdl: float) -> float:
    """``K1 * (1 - B + B * length / avgdl)`` (KW-1)."""
    return K1 * (ONE_MINUS_B + B * length / avgdl)


def weight(term_idf: float, tf: int, norm: float) -> float:
    """One token occurrence's contribution ``idf * tf * (K1 + 1) / (tf + norm)`` (KW-1)."""
    return term_idf * tf * K1_PLUS_1 / (tf + norm)


def shortlist_floor(kth_score: float, terms: int, unit: float = FLOAT64_UNIT) -> float:
    """A threshold below every exact score that can reach the top k (KW-2 error bound).

    ``kth_score`` is the k-th largest of float sums (any order, any grouping) of at most
    ``terms`` positive contributions per document (a repeated token may be one product
    ``count * w``, one more rounding), in an arithmetic of unit roundoff ``unit``: float64 by
    default, or ``FLOAT32_UNIT`` for float32 sums of the contributions rounded to float32 (that
    rounding is one more again: at most ``terms + 1`` in all, no underflow). With
    ``g = gamma(terms + 1)`` every inexact sum ``s`` and the exact sum ``E`` satisfy
    ``|s - E| <= g E``; at least k documents have ``E >= kth / (1 + g)``, so a document of the
    final top k (or tied with its k-th) has ``E >= kth (1 - u) / ((1 + g)(1 + u))`` and
    ``s >= E (1 - g)``. The floor used, ``kth (1 - 4 (terms + 4) u)`` rounded down (in float64),
    is below that with room for its own roundings. A float32 caller rounds it down to float32.
    """
    return math.nextafter(kth_score * (1.0 - 4.0 * (terms + 4) * unit), -math.inf)


def exact_rank(scores: Iterable[tuple[str, float]], k: int, position: Mapping[str, int]) -> list[tuple[str, float]]:
    """The ``k`` first of ``scores`` by (score desc, position asc) (KW-3).

    Only the documents scoring at least the k-th largest score can be among the first k, so
    only they are ordered by position (a position is a lookup in a large dict, the scores a
    sort of floats).
    """
    ranked = list(scores)
    if len(ranked) > k > 0:
        kth = sorted([s for _, s in ranked], reverse=True)[k - 1]
        ranked = [item for item in ranked if item[1] >= kth]
    ranked.sort(key=lambda item: (-item[1], position[item[0]]))
    del ranked[k:]
    return ranked


def document_terms(text: str, metadata: Optional[Mapping[str, str]]) -> list[int]:
    """QRY-17: the term ids of a record's keyword document — its text, then each metadata key and
    value in the metadata's order (the order changes no score: BM25 counts a bag of terms)."""
    return _with_metadata(term_ids(text), metadata)


#: Unicode White_Space (what the real SDK's trim removes; Python's str.isspace also takes U+001C..U+001F).
_WHITE_SPACE: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def is_blank_document(text: str, metadata: Optional[Mapping[str, str]]) -> bool:
    """QRY-17: a document with a blank text (empty or Unicode white space only) and no metadata
    field is not in the keyword index: it counts in neither N nor the average length (observed:
    moss 1.21.0). A text of punctuation or stop words only is in it, with no terms."""
    return not metadata and all(c in _WHITE_SPACE for c in text)


def documents_terms(records: Iterable[tuple[str, Optional[Mapping[str, str]]]]) -> list[list[int]]:
    """:func:`document_terms` of many ``(text, metadata)`` at once (the texts in one tokenizer pass)."""
    pairs = list(records)
    out = term_id_lists([text for text, _ in pairs])
    pair_terms = _PAIR_TERMS
    for terms, (_, metadata) in zip(out, pairs):
        if metadata:
            for item in metadata.items():  # plain str pairs: DocumentInfo copies them (API-6)
                found = pair_terms.get(item)
                terms += _pair_terms(*item) if found is None else found
    return out


#: (metadata key, value) -> their term ids (fields and values repeat across records); bounded like
#: the tokenizer's caches.
_PAIR_TERMS: dict[tuple[str, str], tuple[int, ...]] = {}


def _pair_terms(key: str, value: str) -> tuple[int, ...]:
    found = _field_terms(key) + _field_terms(value)
    if len(_PAIR_TERMS) >= 1 << 16:
        _PAIR_TERMS.clear()
    _PAIR_TERMS[(key, value)] = found
    return found


def _with_metadata(terms: list[int], metadata: Optional[Mapping[str, str]]) -> list[int]:
    if metadata:
        for key, value in metadata.items():  # plain str: DocumentInfo copies them (API-6)
            terms += _field_terms(key)
            terms += _field_terms(value)
    return terms


@lru_cache(maxsize=1 << 16)
def _field_terms(text: str) -> tuple[int, ...]:
    """``term_ids`` of a metadata key or value, cached: fields and their values repeat across records."""
    return tuple(term_ids(text))


@dataclass(frozen=True)
class TermScore:
    """One query term occurrence's part of one document's BM25 (query explain, EXPL-3).

    ``term`` is the stem (``tokenize``'s output); ``norm`` the length normalisation
    :func:`length_norm`; a term the document does not contain has ``tf == 0`` and contributes 0.
    """

    term: str
    tf: int
    df: int
    idf: float
    doc_length: int
    avgdl: float
    k1: float
    b: float
    norm: float
    contribution: float


class TermStats:
    """N, document frequencies, lengths and avgdl of a corpus's keyword documents (for explain).

    Backend-independent: it counts the term ids of each record's keyword document
    (:func:`document_terms`, QRY-17), so the numbers are the ones every keyword backend ranks with
    (KW-1), whatever backend is in use.
    """

    def __init__(self, documents: Mapping[str, Sequence[int]]) -> None:
        self._tf: dict[str, Counter[int]] = {}
        self._length: dict[str, int] = {}
        df: Counter[int] = Counter()
        for doc_id, terms in documents.items():
            counts = Counter(terms)
            self._tf[doc_id], self._length[doc_id] = counts, len(terms)
            df.update(counts.keys())
        self._df = df
        self.n_docs = len(documents)
        self.avgdl = sum(self._length.values()) / self.n_docs if self.n_docs else 0.0

    def term_scores(self, query: str, doc_id: str) -> list[TermScore]:
        """Each query term occurrence's contribution to ``doc_id``, repeats included (KW-2): their
        ``math.fsum`` is exactly the score a keyword backend ranked ``doc_id`` with."""
        length = self._length.get(doc_id)
        if length is None:
            return []
        tfs = self._tf[doc_id]
        norm = length_norm(length, self.avgdl) if self.avgdl else K1 * ONE_MINUS_B  # avgdl 0: every text empty
        out = []
        for stem, term in zip(tokenize(query), term_ids(query)):
            tf, df = tfs.get(term, 0), self._df.get(term, 0)
            term_idf = idf(self.n_docs, df) if df else 0.0
            contribution = weight(term_idf, tf, norm) if tf else 0.0
            out.append(TermScore(stem, tf, df, term_idf, length, self.avgdl, K1, B, norm, contribution))
        return out
