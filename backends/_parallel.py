"""Row-parallel float32 scoring of a large matrix: the calling thread and helper threads share it.

A scan of 100,000 x 384 float32 values (150 MB) is bound by memory bandwidth, and one core does
not draw all of it: two threads take ~0.75x the time of one on this 2-core machine (5.1 vs
6.8 ms). The real SDK's Rust core spreads a query over more than one core as well (its CPU time
per query is 1.2-1.7x its wall time at 100k, ``cpu_ms`` in ``bench/vs_moss.py``).

How the work is shared: the rows are cut into chunks of about 4 MiB; every participant (the
caller and each helper) takes the next unclaimed chunk until none is left, and the last one out
wakes the caller. A helper that the scheduler does not run (the other core busy) costs nothing
but the hand-off: the caller scores every chunk itself. The caller waits only for a chunk a
helper has claimed and not finished (a helper preempted mid-chunk costs that much latency),
never for a thread to start, and no thread spins (unlike BLAS's, see
``numpy_vectors._scores32``). numpy's loops release the GIL, so the chunks run truly in
parallel.

Each row's score comes from the same ``vecdot`` loop over the same values whichever thread
computes it, so the scores (and every result built on them) do not depend on the threads used.

Helpers: one fewer than the CPUs this process may use, at most 3; none on a single CPU, or below
``PARALLEL_BYTES`` (48 MiB). Measured by ``bench/vs_moss_ab.py --switch scan_helper`` (the real
SDK's query between any two of ours, as in ``bench/vs_moss.py``, so caches are cold and the
helper asleep; one worker switching the helper on and off query by query, 60 rounds; vector-only
p50, helper on vs off): 100,000 x 384 (150 MB) 6.82 vs 8.06 ms; 50,000 (77 MB) 3.94 vs 4.36 ms;
10,000 (15 MB) 1.35 vs 1.26 ms, where waking the helper (~0.15 ms) costs more than it saves; a
10% filter's gathered rows at 100k (15 MB) likewise. The results are in ``bench/results/``
(``ab_scan_helper_*.json``). The pool is made on first use, and dropped in a forked child (whose
copy has no threads), with its lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from moss_ref._cpus import usable_cpus

__all__ = ["PARALLEL_BYTES", "helpers", "scan_rows"]

PARALLEL_BYTES = 48 << 20  # matrices smaller than this are scored by the calling thread alone
CHUNK_BYTES = 4 << 20
MAX_HELPERS = 3

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def helpers() -> int:
    """How many helper threads a large scan uses: the usable CPUs less one, at most ``MAX_HELPERS``."""
    return max(0, min(MAX_HELPERS, usable_cpus() - 1))


def _executor() -> ThreadPoolExecutor:
    """The helpers' pool, ``MAX_HELPERS`` threads at most (made as needed), one per process."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=MAX_HELPERS, thread_name_prefix="moss_ref-scan")
            _pool_pid = os.getpid()
        return _pool


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads, and a lock another thread held stays held."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Chunks:
    """The chunks of one scan, claimed one at a time by whichever thread is free.

    Everything shared is read and written under ``_lock``: which chunk is next, how many are not
    finished, how many threads are scoring. ``_done`` is set once every chunk is finished *and*
    every thread that scored one has left :meth:`work` and dropped the scoring function, so when
    :meth:`wait` returns no helper still holds the matrix (a later ``put`` can grow it in place).
    """

    __slots__ = ("_active", "_bounds", "_done", "_error", "_left", "_lock", "_next", "_score")

    def __init__(self, bounds: list[tuple[int, int]], score: Callable[[int, int], Any]) -> None:
        self._bounds = bounds
        self._score: Callable[[int, int], Any] | None = score
        self._next = 0  # the first unclaimed chunk
        self._left = len(bounds)  # chunks not finished
        self._active = 0  # threads that scored a chunk and have not left work()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._error: BaseException | None = None

    def _claim(self, joined: bool) -> int:
        """The next unclaimed chunk (-1: none left); a thread's first claim counts it as active."""
        with self._lock:
            i = self._next
            if i >= len(self._bounds):
                return -1
            self._next = i + 1
            if not joined:
                self._active += 1
            return i

    def work(self) -> None:
        """Score unclaimed chunks until none is left.

        A thread takes the scoring function on its first claimed chunk only, so a helper that
        finds nothing left never holds it. A chunk counts as finished even when scoring it
        raised, so the caller never waits forever; the first error is kept for the caller to raise.
        """
        score: Callable[[int, int], Any] | None = None
        i = self._claim(joined=False)
        if i < 0:
            return
        try:
            score = self._score
            assert score is not None  # dropped only once every chunk is finished
            while i >= 0:
                try:
                    score(*self._bounds[i])
                except BaseException as exc:  # handed to the caller, which raises it
                    self._error = self._error or exc
                finally:
                    with self._lock:
                        self._left -= 1
                i = self._claim(joined=True)
        finally:
            score = None  # before counting this thread out: it no longer holds the matrix
            with self._lock:
                self._active -= 1
                if self._left == 0 and self._active == 0:
                    self._done.set()

    def wait(self) -> None:
        """Block until every chunk is scored and every scoring thread is out; raise a chunk's error."""
        self._done.wait()
        self._score = None
        if self._error is not None:
            raise self._error


def scan_rows(
    block: npt.NDArray[np.float32], q: npt.NDArray[np.float32], dot: Callable[..., Any]
) -> npt.NDArray[np.float32]:
    """``dot(block, q)`` (a row-wise float32 dot product taking ``out=``), large blocks in parallel."""
    count = helpers()
    rows = block.shape[0]
    if count == 0 or block.nbytes < PARALLEL_BYTES or rows < 2:
        return dot(block, q)  # type: ignore[no-any-return]
    out = np.empty(rows, dtype=np.float32)
    step = max(1, CHUNK_BYTES // max(1, block.strides[0]))
    bounds = [(start, min(start + step, rows)) for start in range(0, rows, step)]

    def score(start: int, stop: int) -> None:
        with np.errstate(all="ignore"):  # as the caller's: a helper thread has numpy's default state
            dot(block[start:stop], q, out=out[start:stop])

    chunks = _Chunks(bounds, score)
    del score  # the chunks hold it until every thread is done
    for _ in range(min(count, len(bounds) - 1)):
        try:
            _executor().submit(chunks.work)
        except RuntimeError:  # the interpreter is shutting down: the caller scores every chunk
            break
    chunks.work()
    chunks.wait()
    return out
