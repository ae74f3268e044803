"""The keyword signal: BM25 over document text, maintained incrementally (R-Q-2, Q-6).

Rules implemented here:

* tokens are the ``\\w+`` runs (Python ``re``, Unicode) of ``casefold(NFKC(text))``; no stemming,
  no stop words; a document's length is its token count;
* ``idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`` with ``N`` the number of documents in the
  index and ``n_t`` the number containing ``t``; ``k1 = 1.2``, ``b = 0.75``; the average length
  covers every document of the index, not only those passing a filter;
* every query token counts, repeats included (a query ``"red red fox"`` weighs ``red`` twice);
  only documents containing at least one query token enter the keyword list; per-token
  contributions are summed with ``math.fsum`` so the score does not depend on summation order;
* ranking order is (BM25 desc, position asc): ``position`` maps each id to its place in the
  index (first insertion order, kept by an upsert), supplied by the corpus (QRY-6).

All of it *observed: moss 1.21.0* except the tokenizer, where the real SDK also stems, drops stop
words and folds accents (see the departures); it computes in float32, so documents whose
float64 scores differ by less than float32 rounding may come in another order there.

Adding or removing a document updates postings, document frequencies and the total length in
O(tokens of that document); a query touches only the postings of its tokens.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Set
from dataclasses import dataclass

K1 = 1.2
B = 0.75
_K1_PLUS_1 = K1 + 1.0
_ONE_MINUS_B = 1.0 - B
_TOKEN = re.compile(r"\w+")


def inverse_document_frequency(n_docs: int, n_t: int) -> float:
    """``idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))``."""
    return math.log(1.0 + (n_docs - n_t + 0.5) / (n_t + 0.5))


def term_weight(idf: float, tf: int, length: int, avgdl: float) -> float:
    """One query token's BM25 contribution to one document: ``idf * tf * (k1 + 1) / (tf + norm)``.

    ``norm = k1 * (1 - b + b * length / avgdl)`` is the length normalisation. The ranker and
    :meth:`KeywordIndex.term_scores` (query explain) both call this, so they agree bit for bit.
    """
    return idf * tf * _K1_PLUS_1 / (tf + K1 * (_ONE_MINUS_B + B * length / avgdl))


def tokenize(text: str) -> list[str]:
    """NFKC, casefold, then the ``\\w+`` runs (R-Q-2)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True)
class TermScore:
    """One query token's part of one document's BM25 (query explain, EXPL-3).

    ``norm`` is the length normalisation ``k1 * (1 - b + b * doc_length / avgdl)``; a token the
    document does not contain has ``tf == 0`` and contributes 0.
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


class KeywordIndex:
    """Inverted index with BM25 scoring; documents are keyed by id."""

    __slots__ = ("_lengths", "_postings", "_terms", "_total_length")

    def __init__(self) -> None:
        self._postings: dict[str, dict[str, int]] = {}
        self._lengths: dict[str, int] = {}
        self._terms: dict[str, tuple[str, ...]] = {}  # distinct tokens of each document
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, doc_id: str, text: str) -> None:
        """Index ``text`` under ``doc_id``, replacing what was indexed for it before."""
        if doc_id in self._lengths:
            self.remove(doc_id)
        tokens = tokenize(text)
        self._lengths[doc_id] = len(tokens)
        self._total_length += len(tokens)
        counts = Counter(tokens)
        self._terms[doc_id] = tuple(counts)
        for token, tf in counts.items():
            self._postings.setdefault(token, {})[doc_id] = tf

    def remove(self, doc_id: str) -> None:
        """Forget ``doc_id``; unknown ids are ignored."""
        length = self._lengths.pop(doc_id, None)
        if length is None:
            return
        self._total_length -= length
        for token in self._terms.pop(doc_id):
            posting = self._postings[token]
            del posting[doc_id]
            if not posting:
                del self._postings[token]

    def clear(self) -> None:
        self._postings.clear()
        self._lengths.clear()
        self._terms.clear()
        self._total_length = 0

    def scores(self, query: str, allowed: Collection[str] | None = None) -> dict[str, float]:
        """BM25 of every document (in ``allowed``, when given) containing a query token."""
        n_docs = len(self._lengths)
        if n_docs == 0:
            return {}
        avgdl = self._total_length / n_docs
        lengths = self._lengths
        parts: dict[str, list[float]] = {}
        for token in tokenize(query):
            posting = self._postings.get(token)
            if not posting:
                continue
            n_t = len(posting)
            idf = inverse_document_frequency(n_docs, n_t)
            if allowed is None:
                items: Iterable[tuple[str, int]] = posting.items()
            elif isinstance(allowed, Set) and len(allowed) < n_t:  # walk the shorter side (no repeats in a set)
                items = [(d, posting[d]) for d in allowed if d in posting]
            else:
                items = [(d, tf) for d, tf in posting.items() if d in allowed]
            for doc_id, tf in items:
                contribution = term_weight(idf, tf, lengths[doc_id], avgdl)
                found = parts.get(doc_id)
                if found is None:
                    parts[doc_id] = [contribution]
                else:
                    found.append(contribution)
        return {doc_id: math.fsum(p) for doc_id, p in parts.items()}

    def term_scores(self, query: str, doc_id: str) -> list[TermScore]:
        """Each query token's contribution to ``doc_id``'s BM25, repeats included (EXPL-3).

        The same :func:`inverse_document_frequency` and :func:`term_weight` as :meth:`scores`, so
        ``math.fsum`` of the contributions is the score the ranker used, exactly.
        """
        n_docs = len(self._lengths)
        length = self._lengths.get(doc_id)
        if n_docs == 0 or length is None:
            return []
        avgdl = self._total_length / n_docs
        norm = K1 * (_ONE_MINUS_B + (B * length / avgdl if avgdl else 0.0))  # avgdl 0: every document empty
        out: list[TermScore] = []
        for token in tokenize(query):
            posting = self._postings.get(token) or {}
            tf = posting.get(doc_id, 0)
            idf = inverse_document_frequency(n_docs, len(posting)) if posting else 0.0
            contribution = term_weight(idf, tf, length, avgdl) if tf else 0.0
            out.append(TermScore(token, tf, len(posting), idf, length, avgdl, K1, B, norm, contribution))
        return out

    def rank(
        self, query: str, k: int, position: Mapping[str, int], allowed: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best ``(id, bm25)`` by BM25 desc, then ``position[id]`` asc."""
        if k <= 0:
            return []
        return heapq.nsmallest(k, self.scores(query, allowed).items(), key=lambda item: (-item[1], position[item[0]]))
