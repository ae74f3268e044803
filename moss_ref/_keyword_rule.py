"""The exact BM25 rule every keyword backend reproduces bit for bit (QRY-3, QRY-6, KW-1..KW-3).

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
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Final

from ._bm25 import K1, B

__all__ = ["K1_PLUS_1", "ONE_MINUS_B", "exact_rank", "idf", "length_norm", "shortlist_floor", "weight"]

K1_PLUS_1: Final = K1 + 1.0
ONE_MINUS_B: Final = 1.0 - B
_U64: Final = 2.0**-53


def idf(n_docs: int, df: int) -> float:
    """``ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`` (KW-1)."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def length_norm(length: int, avgdl: float) -> float:
    """``K1 * (1 - B + B * length / avgdl)`` (KW-1)."""
    return K1 * (ONE_MINUS_B + B * length / avgdl)


def weight(term_idf: float, tf: int, norm: float) -> float:
    """One token occurrence's contribution ``idf * tf * (K1 + 1) / (tf + norm)`` (KW-1)."""
    return term_idf * tf * K1_PLUS_1 / (tf + norm)


def shortlist_floor(kth_score: float, terms: int) -> float:
    """A threshold below every exact score that can reach the top k (KW-2 error bound).

    ``kth_score`` is the k-th largest of float sums (any order, any grouping) of at most
    ``terms`` positive contributions per document (a repeated token may be one product
    ``count * w``, one more rounding). With ``g = gamma(terms + 1)`` every inexact sum ``s``
    and the exact sum ``E`` satisfy ``|s - E| <= g E``; at least k documents have
    ``E >= kth / (1 + g)``, so a document of the final top k (or tied with its k-th) has
    ``E >= kth (1 - u) / ((1 + g)(1 + u))`` and ``s >= E (1 - g)``. The floor used,
    ``kth (1 - 4 (terms + 4) u)`` rounded down, is below that with room for its own roundings.
    """
    return math.nextafter(kth_score * (1.0 - 4.0 * (terms + 4) * _U64), -math.inf)


def exact_rank(scores: Iterable[tuple[str, float]], k: int, position: Mapping[str, int]) -> list[tuple[str, float]]:
    """The ``k`` first of ``scores`` by (score desc, position asc) (KW-3)."""
    ranked = sorted(scores, key=lambda item: (-item[1], position[item[0]]))
    del ranked[k:]
    return ranked
