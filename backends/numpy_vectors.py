"""The numpy vector backend ``numpy``: a float32 matrix, same results as ``python`` bit for bit.

Storage: one float32 matrix, float64 bounds of the row norms (``_norms_above``), an id -> row
dict and a row -> id list; deleting swaps the last row into the hole (VEC-2). The matrix is
grown in place when it can be, without a copy, so a bulk load does not hold two copies at once;
when some other view of the matrix exists, growth falls back to allocate-and-copy.

Where the matrix lives: under 4 MiB, a numpy array, whose capacity doubles from 16 rows (grown by
``ndarray.resize``, a ``realloc``). From 4 MiB on, on Linux, an anonymous private mapping of its
own (``mmap``), a multiple of 2 MiB long and marked ``MADV_HUGEPAGE``, grown to the rows needed
rounded up to 2 MiB by ``mmap.resize`` (``mremap`` moves page tables, no data is copied, so no
slack is kept beyond that). The kernel backs the mapping with 2 MiB pages (a mapping that is a
multiple of 2 MiB is 2 MiB-aligned, and stays so when moved). A ``realloc``-grown block gets
4 KiB pages, scattered among the heap's, and a product over it that must come from memory
(another process used the cache meanwhile) takes ~1.4x as long: 0.86 vs 0.61 ms at 10,000 x 384.
Elsewhere, or when the kernel refuses the mapping, the matrix stays a numpy array, which from
8 MiB on grows by 1/64 (still geometric: amortised O(1) appends; at most ~1.6% unused rows).
tracemalloc does not see the mapping (its size is ``len(self._map)``); resident memory does.

Filters: ``rank`` maps the allowed ids to rows with one C-level pass (``map(dict.__getitem__)``)
and a sort; the rows of an allowed *frozenset* are cached (keyed by the frozenset, whose hash
Python caches; least recently used out; at most 32 entries and 4 rows per stored vector in all,
i.e. 32 bytes per vector) until the next mutation, so a repeated filter costs a dict lookup.

Ranking (VEC-3..VEC-6): ``vecdot(M[rows], q)`` in float32 scores the rows (only the allowed rows
when a filter is given; ``_scores32`` says why not ``M @ q``), a large matrix in chunks shared by
the calling thread and a helper (``_parallel``: the scan is bound by memory bandwidth, which one
core does not use up); a rigorous float32 error bound (one uniform bound, see ``_shortlist``)
gives a shortlist that surely holds the k best, picked in one sampled pass over the scores once
the scan is over (``_kth.rows_near_top``; at 100,000 rows that is 0.3 ms cheaper than picking
chunk by chunk as each thread finished one: 5.5 vs 5.8 ms a shortlist, caches cold). The
shortlist is rescored exactly (float32 x float32 products are exact in float64, summed with
``math.fsum``) and sorted by (s desc, id asc). The exact step is the same
as the ``python`` backend's, so ids, order and similarities are identical.

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
import mmap
import sys
from array import array
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

from ._exact_dot import exact_dots
from ._kth import floor32, rows_near_top
from ._parallel import scan_rows

__all__ = ["NumpyVectors", "create"]

_U32 = 2.0**-24
_U64 = 2.0**-53
_TINY = 2.0**-120
_NO_OVERFLOW = 2.0**100  # |q| max|d| below this: no float32 score or partial sum can overflow
_MIN_CAPACITY = 16
_DOUBLING_BYTES = 8 << 20  # below this the matrix doubles; above it grows by 1/64
_GROWTH_SHIFT = 6
_ROW_CACHE_SIZE = 32
_VECDOT = getattr(np, "vecdot", None)  # numpy >= 2
_MAP_BYTES = 4 << 20  # from this size on the matrix lives in a mapping of its own (see the module docstring)
_HUGE_PAGE = 2 << 20
_MAPPED = sys.platform.startswith("linux") and hasattr(mmap, "MAP_ANONYMOUS") and hasattr(mmap, "MADV_HUGEPAGE")


class NumpyVectors:
    """``VectorBackend`` over a float32 matrix; see the module docstring."""

    name = "numpy"
    parallel_rank = True  # the scan runs outside the GIL: keywords may rank meanwhile (moss_ref._overlap)

    __slots__ = ("_ids", "_map", "_matrix", "_max_norm", "_norms", "_row_cache", "_rows")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._matrix: npt.NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self._map: mmap.mmap | None = None  # the mapping ``_matrix`` views, if it is one
        self._norms: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._row_cache: dict[frozenset[str], npt.NDArray[np.intp]] = {}
        self._max_norm = 0.0  # >= every stored row norm (exact after a remove, maybe larger after a replace)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<NumpyVectors n={len(self._ids)} dimension={self.dimension}>"

    @property
    def dimension(self) -> int:
        """Length of the stored vectors (0 while empty)."""
        return int(self._matrix.shape[1]) if self._ids else 0

    # -- mutation -----------------------------------------------------------------------------

    def _own(self) -> None:
        """Copy a matrix borrowed from :meth:`load_rows` before anything writes to it."""
        if not self._matrix.flags.writeable:
            self._move(*self._matrix.shape)
            self._fit_norms()

    def _reserve(self, n: int, dim: int) -> None:
        """Make room for ``n`` rows of ``dim`` (see the module docstring; a new dim starts afresh)."""
        if self._matrix.shape[1] != dim:
            self._map = None
            self._matrix = np.zeros((0, dim), dtype=np.float32)
            self._move(max(_MIN_CAPACITY, n), dim)
            self._fit_norms()
            return
        capacity = self._matrix.shape[0]
        if n <= capacity:
            return
        if self._map is not None or (_MAPPED and n * dim * 4 >= _MAP_BYTES):
            capacity = n  # a mapping: whole 2 MiB more, moved by mremap rather than copied, so no slack
        else:
            step = capacity if self._matrix.nbytes < _DOUBLING_BYTES else max(capacity >> _GROWTH_SHIFT, _MIN_CAPACITY)
            capacity = max(n, capacity + step, _MIN_CAPACITY)  # one growth step, or exactly n for a bigger batch
        if not self._grow_in_place(capacity, dim):
            self._move(capacity, dim)
        self._fit_norms()

    def _fit_norms(self) -> None:
        """Give the norms as many rows as the matrix has (a mapping may hold a few rows more)."""
        capacity = self._matrix.shape[0]
        if self._norms.shape[0] == capacity:
            return
        try:
            self._norms.resize(capacity, refcheck=True)
        except ValueError:  # some other view of the norms exists
            norms = np.zeros(capacity, dtype=np.float64)
            norms[: len(self._ids)] = self._norms[: len(self._ids)]
            self._norms = norms

    def _grow_in_place(self, capacity: int, dim: int) -> bool:
        """Grow the matrix to at least ``capacity`` rows without a copy; False if it cannot be done so
        (some other view of it exists, or it is to move into a mapping)."""
        if _MAPPED and capacity * dim * 4 >= _MAP_BYTES:
            mapping = self._map
            if mapping is None:
                return False
            self._matrix = np.zeros((0, dim), dtype=np.float32)  # drop this backend's own view of it
            try:
                mapping.resize(_mapping_size(capacity, dim))  # mremap: pages move, nothing is copied
            except (BufferError, OSError):  # BufferError: another view of it exists
                return False
            finally:
                self._matrix = _rows_of(mapping, dim)
            return True
        try:  # realloc (no second copy for large blocks); refuses when views exist
            self._matrix.resize((capacity, dim), refcheck=True)
        except ValueError:
            return False
        return True

    def _move(self, capacity: int, dim: int) -> None:
        """Copy the rows into new storage of at least ``capacity`` rows (see the module docstring)."""
        used = len(self._ids)
        mapping = None
        if _MAPPED and capacity * dim * 4 >= _MAP_BYTES:
            try:
                mapping = mmap.mmap(-1, _mapping_size(capacity, dim), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            except OSError:  # the kernel declines: a numpy array will do
                mapping = None
            else:
                try:
                    mapping.madvise(mmap.MADV_HUGEPAGE)
                except OSError:  # no transparent huge pages: still a mapping that grows without a copy
                    pass
        grown = np.zeros((capacity, dim), dtype=np.float32) if mapping is None else _rows_of(mapping, dim)
        grown[:used] = self._matrix[:used]
        self._matrix, self._map = grown, mapping

    def put(self, ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        if len(ids) != len(vectors):
            raise invalid(f"put() got {len(ids)} ids but {len(vectors)} vectors.")
        if not ids:
            return
        block = self._as_block(vectors, self.dimension)
        norms = _norms_above(block)
        row_of, order = self._rows, self._ids
        self._row_cache.clear()
        self._own()
        self._reserve(len(order) + len(ids), block.shape[1])
        matrix, norm_store = self._matrix, self._norms
        rows = []
        for doc_id in ids:
            r = row_of.get(doc_id)
            if r is None:
                r = row_of[doc_id] = len(order)
                order.append(doc_id)
            rows.append(r)
        if len(set(rows)) == len(rows):
            index = np.asarray(rows, dtype=np.intp)
            matrix[index] = block
            norm_store[index] = norms
        else:  # a repeated id: apply in order, the last one wins
            for j, r in enumerate(rows):
                matrix[r] = block[j]
                norm_store[r] = norms[j]
        self._max_norm = max(self._max_norm, float(norms.max()))

    @staticmethod
    def _as_block(vectors: Sequence[Sequence[float]], dim: int) -> npt.NDArray[np.float32]:
        """The batch as a float32 matrix, validated as a whole before anything changes."""
        try:
            with np.errstate(over="ignore"):
                if isinstance(vectors, np.ndarray) and vectors.dtype in (np.float32, np.float64):
                    block = vectors.astype(np.float32, copy=False)  # no float64 detour for arrays
                elif _float32_rows(vectors):  # array('f') rows (the core's): their bytes, one copy
                    block = np.frombuffer(b"".join(vectors), dtype=np.float32).reshape(len(vectors), -1)  # type: ignore[arg-type]
                else:  # Python numbers are float64: convert exactly, then round once to float32
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

    def load_rows(self, ids: Sequence[str], rows: array[float], dimension: int) -> None:
        """Bulk load into an empty backend (VEC-7): norms in one pass, and the block not copied.

        The matrix is a read-only view of ``rows`` (which the caller no longer changes) until the
        first change, which copies it (:meth:`_own`): a resume does not copy 150 MB at 100,000
        vectors of 384 before its first query, and never writes into a store's own array.
        """
        if self._ids:
            raise invalid("load_rows() needs an empty vector backend.")
        n = len(ids)
        matrix = np.frombuffer(memoryview(rows), dtype=np.float32, count=n * dimension).reshape(n, dimension)
        matrix.flags.writeable = False
        self._matrix, self._map = matrix, None
        self._norms = _norms_above(matrix)
        self._ids = list(ids)
        self._rows = dict(zip(self._ids, range(n)))
        self._row_cache.clear()
        self._max_norm = float(self._norms.max()) if n else 0.0

    def export_rows(self, ids: Sequence[str]) -> array[float]:
        """The rows of ``ids`` concatenated in order (VEC-7), without a Python float per value."""
        out = array("f")
        if ids:
            n = len(ids)
            index = np.fromiter(map(self._rows.__getitem__, ids), dtype=np.intp, count=n)
            if n == len(self._ids) and bool((index == np.arange(n)).all()):
                block = self._matrix[:n]  # every row, in row order (a session without deletes): no gather
            else:
                block = self._matrix[index]
            out.frombytes(np.ascontiguousarray(block).data.cast("B"))  # one copy, straight into the array
        return out

    def remove(self, ids: Iterable[str]) -> None:
        self._row_cache.clear()
        self._own()
        matrix, norms, row_of, order = self._matrix, self._norms, self._rows, self._ids
        removed = False
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
            removed = True
        if removed:
            self._max_norm = float(norms[: len(order)].max()) if order else 0.0

    def clear(self) -> None:
        self._reset()

    # -- reads --------------------------------------------------------------------------------

    def get(self, doc_id: str) -> list[float] | None:
        r = self._rows.get(doc_id)
        if r is None:
            return None
        return self._matrix[r].tolist()  # type: ignore[no-any-return]  # Python floats already

    def _query(self, query: Sequence[float]) -> npt.NDArray[np.float32]:
        try:  # array('f') rounds each float64 to float32 as numpy's cast does, from a list at C speed
            if isinstance(query, (bytes, bytearray, memoryview)):  # array('f') would read raw bytes
                raise TypeError("a bytes-like query")
            q = np.frombuffer(array("f", query), dtype=np.float32)
        except (TypeError, OverflowError, NotImplementedError):  # not flat numbers: numpy says what it is
            try:
                with np.errstate(over="ignore"):
                    q = np.asarray(query, dtype=np.float64).astype(np.float32)
            except (TypeError, ValueError, OverflowError) as exc:
                raise invalid(f"The query must be a flat sequence of numbers; got {type(query).__name__}.") from exc
        if q.ndim != 1:
            raise invalid(f"The query must be a flat sequence of numbers; got an array of shape {q.shape}.")
        if q.size != self.dimension:
            raise invalid(f"The query has {q.size} components; the stored vectors have {self.dimension}.")
        return q

    def _exact(self, q: npt.NDArray[np.float32], rows: npt.NDArray[np.intp]) -> list[float]:
        """Correctly rounded exact dot products: ``math.fsum`` of the exact products (``exact_dots``)."""
        return exact_dots(self._matrix[rows], q)

    def _shortlist(
        self, q: npt.NDArray[np.float32], subset: npt.NDArray[np.intp] | None, k: int
    ) -> npt.NDArray[np.intp]:
        """Rows (of ``subset``, or of all rows) that may be among the ``k`` best; ``k`` < their number.

        One uniform bound ``e`` (that of the largest stored norm, which bounds every row's error)
        keeps the work to the float32 scores: ``top`` = the k-th largest score; at least k rows
        have an exact similarity >= ``top - e``, so a row of the final top k has a score >=
        ``top - 2e`` (VEC-5 with a uniform bound). The threshold used, ``top - 2.5e`` rounded down
        to float32, only widens that: the extra ``e/2`` exceeds every rounding involved, since
        ``e >= (2n + 8) 2**-24 |q| max|d|`` while ``|top| <= |q| max|d| (1 + ...)``.
        """
        n = len(self._ids)
        block = self._matrix[:n] if subset is None else self._matrix[subset]
        m = block.shape[0]
        dim = q.size
        q_norm = _norm_above(q)
        max_norm = self._max_norm
        e = (2 * dim + 8) * _U32 * q_norm * max_norm + dim * _TINY * (1.0 + q_norm + max_norm)
        if q_norm * max_norm < _NO_OVERFLOW:
            # Then every component is finite (the norms bound them, and are inf or NaN otherwise)
            # and every |partial sum| <= |q| |d|: every score is finite, nothing to check or silence.
            scores = _scores32(block, q)
            finite = True
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                scores = _scores32(block, q)
            finite = bool(np.isfinite(scores).all())
        if finite:
            margin = 2.5 * e
            _, keep = rows_near_top(scores, k, lambda top: floor32(top - margin))  # top: the k-th largest
        else:  # float32 overflow: score in float64 (products exact, no overflow possible), per-row bounds
            wide = block.astype(np.float64) @ q.astype(np.float64)
            norms = self._norms[:n] if subset is None else self._norms[subset]
            bounds = (2 * dim + 8) * _U64 * q_norm * norms
            lower = wide - bounds
            tau = np.partition(lower, m - k)[m - k]  # k-th largest lower bound
            keep = np.flatnonzero(wide + bounds >= np.nextafter(tau, -np.inf))
        return keep if subset is None else subset[keep]

    def _narrow(self, q: npt.NDArray[np.float32], rows: npt.NDArray[np.intp], k: int) -> npt.NDArray[np.intp]:
        """The rows of a float32 shortlist that may still be among the ``k`` best, by float64 scores.

        The float32 bound is loose (about ``1e-4`` at 384 dimensions), so clustered vectors can give
        a shortlist several times ``k``; exact rescoring costs ~10 us a row. Each float32 x float32
        product is exact in float64, so a float64 sum errs by at most ``gamma(n) sum|q_i d_i| <=
        gamma(n) |q| |d|``; the bound used, ``(2n + 8) 2**-53 |q| |d|`` per row (``|d|`` the stored
        bound of the row's norm, ``_norms_above``), covers that and the roundings of ``s -+ e``. A row of the
        final top k (or tied with its k-th) has an upper bound at least the k-th largest lower
        bound, so keeping those rows loses none (VEC-5).
        """
        if rows.size <= k:
            return rows
        dim = q.size
        q64 = q.astype(np.float64)
        wide = np.einsum("ij,j->i", self._matrix[rows].astype(np.float64), q64)
        q_norm = _norm_above(q)
        bounds = (2 * dim + 8) * _U64 * q_norm * self._norms[rows]
        lower = wide - bounds
        tau = np.partition(lower, rows.size - k)[rows.size - k]  # k-th largest lower bound
        keep: npt.NDArray[np.bool_] = wide + bounds >= np.nextafter(tau, -np.inf)
        return rows[keep]

    def rank(self, query: Sequence[float], k: int, allowed: Collection[str] | None) -> list[tuple[str, float]]:
        if k <= 0 or not self._ids:
            return []
        q = self._query(query)
        n = len(self._ids)
        subset = None if allowed is None else self._allowed_rows(allowed)
        m = n if subset is None else subset.size
        if k < m:
            rows = self._narrow(q, self._shortlist(q, subset, k), k)
        else:
            rows = np.arange(n, dtype=np.intp) if subset is None else subset
        ids = self._ids
        ranked = list(zip([ids[r] for r in rows.tolist()], self._exact(q, rows)))
        ranked.sort(key=rank_key)
        del ranked[k:]
        return ranked

    def _allowed_rows(self, allowed: Collection[str]) -> npt.NDArray[np.intp]:
        """Sorted distinct rows of the ids in ``allowed`` (unknown ids ignored); cached for frozensets."""
        key = allowed if isinstance(allowed, frozenset) and type(allowed) is frozenset else None
        cache = self._row_cache
        if key is not None:
            cached = cache.pop(key, None)
            if cached is not None:
                cache[key] = cached  # most recently used last
                return cached
        row_of = self._rows
        try:  # every id known (what the core passes): one C-level pass
            rows = np.fromiter(map(row_of.__getitem__, allowed), dtype=np.intp, count=len(allowed))
        except KeyError:
            rows = np.fromiter((row_of[i] for i in allowed if i in row_of), dtype=np.intp)
        rows.sort()  # memory order for the gather
        if not isinstance(allowed, (set, frozenset)) and rows.size > 1:  # a list may repeat ids
            rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]
        rows.flags.writeable = False
        if key is not None:
            # least recently used first out, keeping the cached rows within 4 * len(self) + 1024 entries
            budget = 4 * len(self._ids) + 1024 - rows.size
            try:
                while cache and (len(cache) >= _ROW_CACHE_SIZE or sum(r.size for r in cache.values()) > budget):
                    del cache[next(iter(cache))]
            except (KeyError, RuntimeError, StopIteration):  # a concurrent reader changed it first
                pass
            cache[key] = rows
        return rows

    def similarities(self, query: Sequence[float], ids: Iterable[str]) -> dict[str, float]:
        if not self._ids:
            return {}
        q = self._query(query)
        row_of = self._rows
        wanted = list(dict.fromkeys(i for i in ids if i in row_of))
        rows = np.fromiter((row_of[i] for i in wanted), dtype=np.intp, count=len(wanted))
        return dict(zip(wanted, self._exact(q, rows)))


def _scores32(block: npt.NDArray[np.float32], q: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The float32 dot product of every row of ``block`` with ``q`` (any summation order will do).

    ``np.vecdot`` (numpy >= 2) calls the BLAS ``sdot`` once per row: single-threaded, so it never
    waits on OpenBLAS's threads (on a busy machine they spin against each other and ``M @ q``
    takes 2-50x as long), yet 1.7x as fast as ``einsum``'s loop at 10,000 x 384 (0.32 vs 0.56 ms)
    and 1.3x at 100,000 (5.4 vs 6.9 ms, memory-bound). The threads are this backend's own
    (``_parallel``), which never spin: a busy helper leaves its chunks to the caller. numpy 1.x
    falls back to ``einsum``, on the calling thread.
    """
    if _VECDOT is not None:
        return scan_rows(block, q, _VECDOT)
    scores: npt.NDArray[np.float32] = np.einsum("ij,j->i", block, q)
    return scores


def _norm_above(q: npt.NDArray[np.float32]) -> float:
    """``|q|`` or a little more (a relative ``(n + 2) 2**-53`` at most), as the bounds want it.

    The squares of float32 values are exact in float64 and not negative, so their float64 sum in
    any order errs by at most ``gamma(n - 1)`` of the exact sum; the square root halves that and
    adds half an ulp, and the factor ``1 + (n + 2) 2**-53`` covers both and its own rounding.
    """
    q64 = q.astype(np.float64)
    return math.sqrt(float(np.dot(q64, q64))) * (1.0 + (q.size + 2) * _U64)


def _norms_above(block: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Each row's norm ``|d|`` or a little more (relative ``(n + 3) 2**-23`` at most): the norms
    serve only as bounds (``_shortlist``, ``_narrow``, ``_max_norm``).

    The float32 sum of the squares (``vecdot``, any order, FMA or not) errs by at most
    ``gamma(n)`` of the exact sum, plus what underflow loses, less than ``2**-126`` a square
    even with flush-to-zero: ``n 2**-126`` is added. The square root and the casts add an ulp or
    two; the factor ``1 + (n + 3) 2**-23`` covers all of it. At a quarter of the cost of the
    float64 ``einsum`` (which reads the rows through a float64 buffer); a row whose float32
    squares overflow is measured in float64 instead (``_norms_above64``).
    """
    n = block.shape[1]
    if _VECDOT is None or n >= 1 << 20:
        return _norms_above64(block)
    with np.errstate(over="ignore"):
        squares = _VECDOT(block, block).astype(np.float64)
    squares += n * 2.0**-126
    norms: npt.NDArray[np.float64] = np.sqrt(squares)
    norms *= 1.0 + (n + 3) * 2.0**-23
    wide = ~np.isfinite(norms)
    if wide.any():
        norms[wide] = _norms_above64(block[wide])
    return norms


def _norms_above64(block: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """:func:`_norms_above` in float64 (squares of float32 values exact; the sum within
    ``gamma(n)``, the root and the product an ulp each): for float32 overflow or numpy 1.x."""
    norms: npt.NDArray[np.float64] = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
    norms *= 1.0 + (block.shape[1] + 3) * 2.0**-52
    return norms


def _mapping_size(capacity: int, dim: int) -> int:
    """Bytes of a mapping for ``capacity`` rows of ``dim``: rounded up to a multiple of 2 MiB."""
    return -(-capacity * dim * 4 // _HUGE_PAGE) * _HUGE_PAGE


def _rows_of(mapping: mmap.mmap, dim: int) -> npt.NDArray[np.float32]:
    """The whole rows of ``dim`` float32 values that ``mapping`` holds, as a writable matrix."""
    rows = len(mapping) // (4 * dim)
    return np.frombuffer(mapping, dtype=np.float32, count=rows * dim).reshape(rows, dim)


def _float32_rows(vectors: Sequence[Sequence[float]]) -> bool:
    """True when every vector is an ``array('f')`` of one length (at least 1)."""
    first = vectors[0]
    if type(first) is not array or first.typecode != "f" or not first:
        return False
    n = len(first)
    return all(type(v) is array and v.typecode == "f" and len(v) == n for v in vectors)


def create(**options: Any) -> NumpyVectors:
    """Registry factory for ``numpy``. It takes no options."""
    if options:
        raise invalid(f"The numpy vector backend takes no options; got {', '.join(sorted(options))}.")
    return NumpyVectors()


if TYPE_CHECKING:  # static proof that the class satisfies the protocol (mypy --strict)
    _protocol_check: VectorBackend = NumpyVectors()
