"""The pure-Python vector backend ``python`` (stdlib only): compact storage, exact ranking.

Storage: one contiguous ``array('f')`` holding every vector row after row, an ``array('d')`` of
row norms, an id -> row dict and a row -> id list. Deleting swaps the last row into the hole, so
rows stay contiguous and nothing is rebuilt (VEC-2).

Ranking follows the exact rule of :mod:`moss_ref._protocols` (VEC-3..VEC-5): a fast, inexact
float64 kernel ``sum(map(mul, q, row))`` scores every row; a rigorous error bound turns each
score into an interval that surely holds the exact dot product; every row whose interval can
reach the k-th best lower bound is rescored exactly with ``math.fsum`` (each float32 x float32
product is exact in float64, so the result is the correctly rounded exact dot product); the
shortlist is sorted by (s desc, id asc).

Error bound (VEC-4; Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., eq. 3.5):
the products are exact, and recursive float64 summation of ``n`` terms errs by at most
``gamma(n-1) * sum|p_i|`` with ``gamma(m) = m*u / (1 - m*u)``, ``u = 2**-53`` (the compensated
``sum`` of Python >= 3.12 is more accurate still). By Cauchy-Schwarz ``sum|p_i| <= |q| |d|``. We
use ``e = (2n + 8) * u * |q| * |d|``: more than twice the bound, which also absorbs the rounding
of the computed norms, of ``e`` itself and of ``s - e`` / ``s + e``. No overflow or harmful
underflow is possible: a product of two float32 values is exact in float64 (at most 48 significant
bits, exponent within [-298, 256]) and a sum of such products stays far below the float64 range.

Not thread-safe by itself; the session serialises access.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Collection, Iterable, Sequence
from operator import mul
from typing import TYPE_CHECKING, Final

from ._errors import invalid
from ._protocols import VectorBackend, rank_key

__all__ = ["PythonVectors", "create", "error_bound_factor", "shortlist"]

_U64: Final = 2.0**-53


def error_bound_factor(dimension: int, unit_roundoff: float = _U64) -> float:
    """``c`` such that ``|inexact - exact| <= c * |q| * |d|`` with a 2x margin (VEC-4)."""
    return (2 * dimension + 8) * unit_roundoff


def shortlist(scores: Sequence[float], bounds: Sequence[float], k: int) -> list[int]:
    """Positions that may be among the ``k`` best, given ``|scores[j] - exact[j]| <= bounds[j]``.

    ``tau`` = k-th largest lower bound: at least k rows have exact s >= tau, so the k-th best
    *rounded* similarity is >= tau (rounding is monotone and tau is a float). A row whose rounded
    similarity is >= tau has exact s > nextafter(tau, -inf), hence its upper bound is >= that.
    Requires ``0 < k < len(scores)``.
    """
    lower = [s - e for s, e in zip(scores, bounds)]
    tau = heapq.nlargest(k, lower)[-1]
    threshold = math.nextafter(tau, -math.inf)
    return [j for j, (s, e) in enumerate(zip(scores, bounds)) if s + e >= threshold]


class PythonVectors:
    """``VectorBackend`` over one ``array('f')``; see the module docstring."""

    name = "python"

    __slots__ = ("_data", "_dim", "_ids", "_norms", "_rows")

    def __init__(self) -> None:
        self._dim = 0  # 0 while empty: the first put after empty fixes the dimension
        self._data = array("f")
        self._norms = array("d")
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<PythonVectors n={len(self._ids)} dimension={self._dim}>"

    @property
    def dimension(self) -> int:
        """Length of the stored vectors (0 while empty)."""
        return self._dim

    # -- mutation -----------------------------------------------------------------------------

    def put(self, ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        if len(ids) != len(vectors):
            raise invalid(f"put() got {len(ids)} ids but {len(vectors)} vectors.")
        dim = self._dim if self._ids else 0
        rows: list[tuple[array[float], float]] = []
        for i, vector in enumerate(vectors):  # validate the whole batch before changing anything
            row = array("f", vector)
            dim = dim or len(row)
            if len(row) != dim or dim == 0:
                raise invalid(f"vectors[{i}] has {len(row)} components; expected {dim or 'at least 1'}.")
            norm2 = math.fsum(map(mul, row, row))
            if not math.isfinite(norm2):
                raise invalid(f"vectors[{i}] has a component that is not a finite float32 value.")
            rows.append((row, math.sqrt(norm2)))
        self._dim = dim
        data, norms, row_of, order = self._data, self._norms, self._rows, self._ids
        for doc_id, (row, norm) in zip(ids, rows):
            r = row_of.get(doc_id)
            if r is None:
                row_of[doc_id] = len(order)
                order.append(doc_id)
                data.extend(row)
                norms.append(norm)
            else:
                data[r * dim : (r + 1) * dim] = row
                norms[r] = norm

    def load_rows(self, ids: Sequence[str], rows: array[float], dimension: int) -> None:
        """Bulk load into an empty backend (VEC-7): one copy of the block, one norm per row."""
        if self._ids:
            raise invalid("load_rows() needs an empty vector backend.")
        data, d = array("f", rows), dimension
        norms = array("d")
        for r in range(len(ids)):
            row = data[r * d : (r + 1) * d]
            norms.append(math.sqrt(math.fsum(map(mul, row, row))))
        self._data, self._norms, self._dim = data, norms, d
        self._ids = list(ids)
        self._rows = {doc_id: r for r, doc_id in enumerate(self._ids)}

    def export_rows(self, ids: Sequence[str]) -> array[float]:
        """The rows of ``ids`` concatenated in order (VEC-7)."""
        data, d, row_of = self._data, self._dim, self._rows
        out = array("f")
        for doc_id in ids:
            r = row_of[doc_id]
            out.extend(data[r * d : (r + 1) * d])
        return out

    def remove(self, ids: Iterable[str]) -> None:
        data, norms, row_of, order, dim = self._data, self._norms, self._rows, self._ids, self._dim
        for doc_id in ids:
            r = row_of.pop(doc_id, None)
            if r is None:
                continue
            last = len(order) - 1
            if r != last:  # swap-remove: the last row fills the hole
                data[r * dim : (r + 1) * dim] = data[last * dim :]
                norms[r] = norms[last]
                moved = order[r] = order[last]
                row_of[moved] = r
            del data[last * dim :]
            norms.pop()
            order.pop()

    def clear(self) -> None:
        self._data = array("f")
        self._norms = array("d")
        self._ids = []
        self._rows = {}
        self._dim = 0

    # -- reads --------------------------------------------------------------------------------

    def get(self, doc_id: str) -> list[float] | None:
        r = self._rows.get(doc_id)
        if r is None:
            return None
        return self._data[r * self._dim : (r + 1) * self._dim].tolist()

    def _query(self, query: Sequence[float]) -> list[float]:
        q = array("f", query)
        if len(q) != self._dim:
            raise invalid(f"The query has {len(q)} components; the stored vectors have {self._dim}.")
        return q.tolist()

    def _exact(self, q: list[float], r: int) -> float:
        d = self._dim
        return math.fsum(map(mul, q, self._data[r * d : (r + 1) * d]))

    def rank(self, query: Sequence[float], k: int, allowed: Collection[str] | None) -> list[tuple[str, float]]:
        if k <= 0 or not self._ids:
            return []
        q = self._query(query)
        data, d = self._data, self._dim
        rows: Sequence[int]
        if allowed is None:
            rows = range(len(self._ids))
        else:
            row_of = self._rows
            rows = sorted({row_of[i] for i in allowed if i in row_of})
        if k < len(rows):  # shortlist with the fast kernel, then rescore exactly
            if allowed is None:
                it = iter(data)  # map() stops when q ends, so each sum consumes exactly one row
                scores = [sum(map(mul, q, it)) for _ in rows]
            else:
                scores = [sum(map(mul, q, data[r * d : (r + 1) * d])) for r in rows]
            factor = error_bound_factor(d) * math.sqrt(math.fsum(map(mul, q, q)))
            norms = self._norms
            bounds = [factor * norms[r] for r in rows]
            rows = [rows[j] for j in shortlist(scores, bounds, k)]
        ids = self._ids
        ranked = [(ids[r], self._exact(q, r)) for r in rows]
        ranked.sort(key=rank_key)
        del ranked[k:]
        return ranked

    def similarities(self, query: Sequence[float], ids: Iterable[str]) -> dict[str, float]:
        q = self._query(query) if self._ids else []
        row_of = self._rows
        return {i: self._exact(q, row_of[i]) for i in ids if i in row_of}


def create(**options: object) -> PythonVectors:
    """Registry factory for ``python``. It takes no options."""
    if options:
        raise invalid(f"The python vector backend takes no options; got {', '.join(sorted(options))}.")
    return PythonVectors()


if TYPE_CHECKING:  # static proof that the class satisfies the protocol (mypy --strict)
    _protocol_check: VectorBackend = PythonVectors()
