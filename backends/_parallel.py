"""Row-parallel float32 scoring of a large matrix: the calling thread and helper threads share it.

A scan of 100,000 x 384 float32 values (150 MB) is bound by memory bandwidth, and one core does
not draw all of it: two threads take ~0.75x the time of one on this 2-core machine (5.1 vs
6.8 ms). The real SDK's Rust core spreads a query over more than one core as well (its CPU time
per query is 1.2-1.7x its wall time at 100k, ``cpu_ms`` in ``bench/vs_moss.py``).

How the work is shared: the rows are cut into chunks of about 4 MiB; every participant (the
caller and each helper) takes the next unclaimed chunk until none is left, and the last chunk
finished wakes the caller. A helper that the scheduler does not run (the other core busy) then
costs nothing but the hand-off: the caller scores every chunk itself, so a busy machine never
waits on a thread, unlike BLAS's spinning ones (see ``numpy_vectors._scores32``). numpy's loops
release the GIL, so the chunks run truly in parallel.

Each row's score comes from the same ``vecdot`` loop over the same values whichever thread
computes it, so the scores (and every result built on them) do not depend on the threads used.

Helpers: one fewer than the CPUs this process may use, at most 3; none on a single CPU, or below
``PARALLEL_BYTES`` (48 MiB). Measured by ``bench/vs_moss_ab.py --switch scan_helper`` (the real
SDK's query between any two of ours, as in ``bench/vs_moss.py``, so caches are cold and the
helper asleep; one worker switching the helper on and off query by query, 60 rounds; vector-only
p50, helper on vs off): 100,000 x 384 (150 MB) 6.82 vs 8.06 ms; 50,000 (77 MB) 3.94 vs 4.36 ms;
10,000 (15 MB) 1.35 vs 1.26 ms, where waking the helper (~0.15 ms) costs more than it saves; a
10% filter's gathered rows at 100k (15 MB) likewise. The results are in ``bench/results/``
(``ab_scan_helper_*.json``). The pool is made on first use and made again in a forked child
(whose copy has no threads).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["PARALLEL_BYTES", "helpers", "scan_rows"]

PARALLEL_BYTES = 48 << 20  # matrices smaller than this are scored by the calling thread alone
CHUNK_BYTES = 4 << 20
MAX_HELPERS = 3

Visitor = TypeVar("Visitor", bound=Callable[[int, npt.NDArray[np.float32]], Any])

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def helpers() -> int:
    """How many helper threads a large scan uses: the usable CPUs less one, at most ``MAX_HELPERS``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    return max(0, min(MAX_HELPERS, cpus - 1))


def _executor(count: int) -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="moss_ref-scan")
            _pool_pid = os.getpid()
        return _pool


class _Chunks:
    """The chunks of one scan, claimed one at a time by whichever thread is free."""

    __slots__ = ("_bounds", "_claim", "_done", "_error", "_left", "_lock", "_participant")

    def __init__(self, bounds: list[tuple[int, int]], participant: Callable[[], Callable[[int, int], Any]]) -> None:
        self._bounds = bounds
        self._participant: Callable[[], Callable[[int, int], Any]] | None = participant
        self._claim = itertools.count().__next__  # atomic under the GIL
        self._left = len(bounds)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._error: BaseException | None = None

    def work(self) -> None:
        """Score unclaimed chunks until none is left; the one finishing the last sets ``_done``.

        A thread makes its scoring function (and visitor) on its first claimed chunk only, so a
        helper that finds nothing left adds no visitor. A chunk counts as finished even when
        scoring it raised, so the caller never waits forever; the first error is kept for the
        caller to raise.
        """
        score: Callable[[int, int], Any] | None = None
        while True:
            i = self._claim()
            if i >= len(self._bounds):
                return
            try:
                if score is None:
                    participant = self._participant
                    assert participant is not None  # dropped only once every chunk is finished
                    score = participant()
                score(*self._bounds[i])
            except BaseException as exc:  # handed to the caller, which raises it
                self._error = self._error or exc
            finally:
                with self._lock:
                    self._left -= 1
                    if self._left == 0:
                        self._done.set()

    def wait(self) -> None:
        """Block until every chunk is scored, drop the reference to the matrix, raise a chunk's error."""
        self._done.wait()
        self._participant = None  # a helper that starts late finds no chunk and never reads it
        if self._error is not None:
            raise self._error


def scan_rows(
    block: npt.NDArray[np.float32],
    q: npt.NDArray[np.float32],
    dot: Callable[..., Any],
    visitor: Callable[[], Visitor] | None = None,
) -> tuple[npt.NDArray[np.float32], list[Visitor]]:
    """``dot(block, q)`` (a row-wise float32 dot product taking ``out=``), large blocks in parallel.

    With ``visitor``, each participating thread makes one (``visitor()``) and calls it as
    ``v(start, scores[start:stop])`` on each chunk it scores, while the scores are in its cache;
    the visitors come back with the scores (one visitor seeing the whole block when it is small).
    """
    count = helpers()
    rows = block.shape[0]
    if count == 0 or block.nbytes < PARALLEL_BYTES or rows < 2:
        out = dot(block, q)
        visitors = [] if visitor is None else [visitor()]
        for v in visitors:
            v(0, out)
        return out, visitors
    out = np.empty(rows, dtype=np.float32)
    step = max(1, CHUNK_BYTES // max(1, block.strides[0]))
    bounds = [(start, min(start + step, rows)) for start in range(0, rows, step)]
    made: list[Visitor] = []

    def participant() -> Callable[[int, int], None]:
        v = None if visitor is None else visitor()
        if v is not None:
            made.append(v)  # list.append is atomic

        def score(start: int, stop: int) -> None:
            with np.errstate(all="ignore"):  # as the caller's: a helper thread has numpy's default state
                dot(block[start:stop], q, out=out[start:stop])
                if v is not None:
                    v(start, out[start:stop])

        return score

    chunks = _Chunks(bounds, participant)
    pool = _executor(count)
    for _ in range(min(count, len(bounds) - 1)):
        pool.submit(chunks.work)
    chunks.work()
    chunks.wait()
    return out, made
