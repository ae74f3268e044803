"""The numpy vector backend ``numpy``: a float32 matrix, same results as ``python`` bit for bit.

Storage: one float32 matrix with capacity doubling (amortised O(1) appends), float64 row norms,
an id -> row dict and a row -> id list; deleting swaps the last row into the hole (VEC-2).

Ranking (VEC-3..VEC-6): ``M[rows] @ q`` in float32 scores the rows (only the allowed rows when a
filter is given); a rigorous float32 error bound widens an ``argpartition``-style shortlist; the
shortlist is rescored exactly (float32 x float32 products are exact in float64, summed with
``math.fsum``) and sorted by (s desc, id asc). The exact step is the same as the ``python``
backend's, so ids, order and similarities are identical.

Float32 error bound: for any summation order (BLAS may block, pair or use FMA),
``|fl(q.d) - q.d| <= gamma(n) * sum|q_i d_i|`` with ``u = 2**-24`` (Higham eq. 3.5, products
rounded too), and ``sum|q_i d_i| <= |q| |d|``. The bound used is ``(2n + 8) u |q| |d|`` (twice
that, covering the rounding of norms and of ``s -+ e``) plus an absolute
``n * 2**-120 * (1 + |q| + |d|)`` that covers float32 underflow, even with flush-to-zero. A
float32 overflow (huge custom vectors) shows up as a non-finite score; the affected query is
then scored in float64 instead, with the float64 bound of the ``python`` backend.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from moss_ref._errors import invalid
from moss_ref._protocols import VectorBackend, rank_key
from moss_ref._registry import missing_extra

try:
    import numpy as np
    import numpy.typing as npt
except ImportError as exc:  # pragma: no cover - exercised only without numpy
    raise missing_extra("numpy", "numpy") from exc

__all__ = ["NumpyVectors", "create"]

_U32 = 2.0**-24
_U64 = 2.0**-53
_TINY = 2.0**-120
_MIN_CAPACITY = 16


class NumpyVectors:
    """``VectorBackend`` over a float32 matrix; see the module docstring."""

    name = "numpy"

    __slots__ = ("_ids", "_matrix", "_norms", "_rows")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._matrix: npt.NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self._norms: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<NumpyVectors n={len(self._ids)} dimension={self.dimension}>"

    @property
    def dimension(self) -> int:
        """Length of the stored vectors (0 while empty)."""
        return int(self._matrix.shape[1]) if self._ids else 0

    # -- mutation -----------------------------------------------------------------------------

    def _reserve(self, n: int, dim: int) -> None:
        """Make room for ``n`` rows of ``dim`` (capacity doubling; a new dim starts afresh)."""
        m = self._matrix
        if m.shape[1] != dim:
            self._matrix = np.zeros((max(_MIN_CAPACITY, n), dim), dtype=np.float32)
            self._norms = np.zeros(max(_MIN_CAPACITY, n), dtype=np.float64)
            return
        capacity = m.shape[0]
        if n <= capacity:
            return
        while capacity < n:
            capacity = max(_MIN_CAPACITY, capacity * 2)
        grown = np.zeros((capacity, dim), dtype=np.float32)
        grown[: len(self._ids)] = m[: len(self._ids)]
        norms = np.zeros(capacity, dtype=np.float64)
        norms[: len(self._ids)] = self._norms[: len(self._ids)]
        self._matrix, self._norms = grown, norms

    def put(self, ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        if len(ids) != len(vectors):
            raise invalid(f"put() got {len(ids)} ids but {len(vectors)} vectors.")
        if not ids:
            return
        block = self._as_block(vectors, self.dimension)
        wide = block.astype(np.float64)
        norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))
        row_of, order = self._rows, self._ids
        self._reserve(len(order) + len(ids), block.shape[1])
        matrix, norm_store = self._matrix, self._norms
        for j, doc_id in enumerate(ids):
            r = row_of.get(doc_id)
            if r is None:
                r = row_of[doc_id] = len(order)
                order.append(doc_id)
            matrix[r] = block[j]
            norm_store[r] = norms[j]

    @staticmethod
    def _as_block(vectors: Sequence[Sequence[float]], dim: int) -> npt.NDArray[np.float32]:
        """The batch as a float32 matrix, validated as a whole before anything changes."""
        try:
            with np.errstate(over="ignore"):
                block = np.asarray(vectors, dtype=np.float64).astype(np.float32)
        except ValueError:  # ragged: find the offending vector below
            block = np.zeros((0, 0), dtype=np.float32)
        if block.ndim != 2 or block.shape[1] != (dim or block.shape[1]) or block.shape[1] == 0:
            dim = dim or len(vectors[0])
            for i, vector in enumerate(vectors):
                if len(vector) != dim or dim == 0:
                    raise invalid(f"vectors[{i}] has {len(vector)} components; expected {dim or 'at least 1'}.")
            raise invalid("vectors must be sequences of numbers.")
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise invalid(f"vectors[{i}] has a component that is not a finite float32 value.")
        return block

    def remove(self, ids: Iterable[str]) -> None:
        matrix, norms, row_of, order = self._matrix, self._norms, self._rows, self._ids
        for doc_id in ids:
            r = row_of.pop(doc_id, None)
            if r is None:
                continue
            last = len(order) - 1
            if r != last:  # swap-remove: the last row fills the hole
                matrix[r] = matrix[last]
                norms[r] = norms[last]
                moved = order[r] = order[last]
                row_of[moved] = r
            order.pop()

    def clear(self) -> None:
        self._reset()

    # -- reads --------------------------------------------------------------------------------

    def get(self, doc_id: str) -> list[float] | None:
        r = self._rows.get(doc_id)
        if r is None:
            return None
        return [float(x) for x in self._matrix[r].tolist()]

    def _query(self, query: Sequence[float]) -> npt.NDArray[np.float32]:
        with np.errstate(over="ignore"):
            q = np.asarray(query, dtype=np.float64).astype(np.float32)
        if q.ndim != 1 or q.size != self.dimension:
            raise invalid(f"The query has {q.size} components; the stored vectors have {self.dimension}.")
        return q

    def _exact(self, q: npt.NDArray[np.float32], rows: npt.NDArray[np.intp]) -> list[float]:
        """Correctly rounded exact dot products: exact float64 products, then ``math.fsum``."""
        products = self._matrix[rows].astype(np.float64) * q.astype(np.float64)
        return [math.fsum(p) for p in products.tolist()]

    def _bounded_scores(
        self, q: npt.NDArray[np.float32], rows: npt.NDArray[np.intp] | None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Inexact scores and per-row error bounds (see the module docstring)."""
        n = len(self._ids)
        block = self._matrix[:n] if rows is None else self._matrix[rows]
        norms = self._norms[:n] if rows is None else self._norms[rows]
        dim = q.size
        q_norm = math.sqrt(math.fsum(x * x for x in q.astype(np.float64).tolist()))
        with np.errstate(over="ignore", invalid="ignore"):
            scores = (block @ q).astype(np.float64)
        if np.isfinite(scores).all():
            bounds = (2 * dim + 8) * _U32 * q_norm * norms + dim * _TINY * (1.0 + q_norm + norms)
        else:  # float32 overflow: score in float64 (products exact, no overflow possible)
            scores = block.astype(np.float64) @ q.astype(np.float64)
            bounds = (2 * dim + 8) * _U64 * q_norm * norms
        return scores, bounds

    def rank(self, query: Sequence[float], k: int, allowed: Collection[str] | None) -> list[tuple[str, float]]:
        if k <= 0 or not self._ids:
            return []
        q = self._query(query)
        n = len(self._ids)
        subset: npt.NDArray[np.intp] | None = None
        if allowed is not None:
            row_of = self._rows
            subset = np.fromiter(sorted({row_of[i] for i in allowed if i in row_of}), dtype=np.intp)
        m = n if subset is None else subset.size
        if k < m:
            scores, bounds = self._bounded_scores(q, subset)
            lower = scores - bounds
            tau = np.partition(lower, m - k)[m - k]  # k-th largest lower bound
            threshold = np.nextafter(tau, -np.inf)
            keep = np.flatnonzero(scores + bounds >= threshold)
            rows = keep if subset is None else subset[keep]
        else:
            rows = np.arange(n, dtype=np.intp) if subset is None else subset
        ids = self._ids
        ranked = list(zip([ids[r] for r in rows.tolist()], self._exact(q, rows)))
        ranked.sort(key=rank_key)
        del ranked[k:]
        return ranked

    def similarities(self, query: Sequence[float], ids: Iterable[str]) -> dict[str, float]:
        if not self._ids:
            return {}
        q = self._query(query)
        row_of = self._rows
        wanted = list(dict.fromkeys(i for i in ids if i in row_of))
        rows = np.fromiter((row_of[i] for i in wanted), dtype=np.intp, count=len(wanted))
        return dict(zip(wanted, self._exact(q, rows)))


def create(**options: Any) -> NumpyVectors:
    """Registry factory for ``numpy``. It takes no options."""
    if options:
        raise invalid(f"The numpy vector backend takes no options; got {', '.join(sorted(options))}.")
    return NumpyVectors()


if TYPE_CHECKING:  # static proof that the class satisfies the protocol (mypy --strict)
    _protocol_check: VectorBackend = NumpyVectors()
