"""A hybrid query's keyword ranking on a helper thread, beside its vector ranking (QRY-5).

A hybrid query needs a vector list and a keyword list, and neither reads what the other
computes. The numpy vector backend's scan is one long call outside the GIL (bound by memory
bandwidth), so the keyword ranking can run meanwhile on another core, and the query costs about
its vector side alone. The keyword ranking is handed over before the query vector is
normalised, so the helper has that long to wake up before the scan lets go of the GIL (often,
not always: see below); an embedder (user code) has run by then, so nothing of the caller's runs
beside the helper.

Only backends that say so take part: ``parallel_rank = True`` on both classes (the numpy ones
set it; their ranking spends its time in numpy). A pure-Python backend holds the GIL
throughout, so the two rankings would only take turns: they run one after the other, as they do
when ``enabled`` is False, below ``MIN_VALUES`` or above ``MAX_VALUES`` stored vector
components, on a single CPU, or when another session's query holds the helper (a query never
queues behind another).

Measured with ``bench/vs_moss_ab.py --switch rank_overlap`` (the real SDK's query before each of
ours, 60 rounds, p50 of the common-word hybrid query, helper on vs off, 384-d): 10,000 documents
1.39 vs 1.65 ms; 5,000: 1.21 vs 1.30 ms; 2,000: 1.20 vs 1.07 ms, where the hand-off costs more
than the scan hides; 100,000: 8.50 vs 8.33 ms, and 7.79 vs 7.78 ms in an earlier run (the numpy
scan has its own helper threads from 48 MiB on, so both cores are busy already). Hence
``MIN_VALUES``, about 5,000 documents of 384 components, and ``MAX_VALUES``, the numpy scan's
threshold.

Waking a sleeping thread can take longer than the scan: with the other CPU idle between
queries (a virtual machine's, say), measured at 10,000 documents with a 3 ms pause before each
query, the helper started 0.32 ms after the hand-off at the median, 1.4 ms at the 90th
percentile, and ranked the keywords after the vector side had finished in 74 of 400 queries. So
the caller takes the keyword ranking back when its vector side is done and the helper has not
started it yet, and runs it itself: a query never waits for the helper to wake up, and costs at
most what ranking in turn does. Common-word hybrid at 10,000, 300 queries each way alternating,
on a busy machine: p50 2.25 vs 2.32 ms and p90 4.5 vs 5.7 ms with a 3 ms pause before each; p50
2.09 vs 2.13 and p99 4.0 vs 6.4 ms without.

What a caller sees is what the sequential order (vectors, then keywords) gives: the same lists
and the same exception, the vector side's when it raises, else the keyword side's. The helper's
work is always waited for before returning or raising, so nothing reads the index once the
query is over (the session holds its lock throughout the query, so nothing writes it
meanwhile), and each backend still sees one call at a time. The helper is one daemon thread,
made on first use, and made again in a forked child (which has no copy of it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Optional, TypeVar

from ._cpus import usable_cpus

__all__ = ["MAX_VALUES", "MIN_VALUES", "both", "wanted"]

MIN_VALUES = 2_000_000  # stored vector components (5,200 documents at 384-d): below, in turn
MAX_VALUES = 12_582_912  # 48 MiB of float32 (32,768 documents at 384-d): above, the scan has helpers
enabled = True  # bench/vs_moss_ab.py --switch rank_overlap turns it off to measure it

A = TypeVar("A")
B = TypeVar("B")


def wanted(documents: int, dimension: int, *backends: object) -> bool:
    """Whether a hybrid query over ``documents`` vectors of ``dimension`` should rank its keywords
    on the helper."""
    return (
        enabled
        and MIN_VALUES <= documents * dimension <= MAX_VALUES
        and usable_cpus() > 1
        and all(getattr(type(b), "parallel_rank", False) is True for b in backends)
    )


_IDLE, _HANDED, _RUNNING, _DONE = "idle", "handed", "running", "done"


class _Helper:
    """One thread that runs one task at a time: ``start`` hands it over, ``finish`` takes it back
    if the thread has not started it yet, else waits for it.

    Everything the hand-off knows lives under one condition (``_cv``): the state (idle, handed,
    running, done), the task, its result and error. Every wait re-checks the state, so an
    interrupt (Ctrl-C) in a wait loses nothing, and a late wake-up that finds nothing handed over
    (a task taken back) goes back to sleep: nothing is counted, nothing has to be acknowledged.
    """

    def __init__(self) -> None:
        self._cv = threading.Condition(threading.Lock())
        self._state = _IDLE
        self._task: Optional[Callable[[], object]] = None
        self._result: object = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._loop, name="moss_ref-rank", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        cv = self._cv
        while True:
            with cv:
                while self._state != _HANDED:
                    cv.wait()
                task, self._task = self._task, None
                self._state = _RUNNING
            result: object = None
            error: Optional[BaseException] = None
            try:
                assert task is not None
                result = task()
            except BaseException as exc:  # handed to the caller, which raises it
                error = exc
            task = None  # before saying done: the thread no longer holds what the task held
            with cv:
                self._result, self._error, self._state = result, error, _DONE
                cv.notify_all()
            result = error = None

    def start(self, task: Callable[[], object]) -> bool:
        """Hand ``task`` over; False (nothing handed) while the thread still runs an earlier one."""
        with self._cv:
            if self._state == _RUNNING:
                return False
            self._task, self._result, self._error, self._state = task, None, None, _HANDED
            self._cv.notify()
        return True

    def finish(self, run: bool) -> tuple[object, Optional[BaseException]]:
        """The task's result and error. Not started by the thread yet: taken back, and run here
        when ``run`` (else dropped, as ranking in turn would never have reached it). Started:
        waited for, through an interrupt (Ctrl-C), which is raised once the task is over: a
        hand-off never outlives its query, and the next query never gets this one's result."""
        with self._cv:
            task = None
            if self._state == _HANDED:
                task, self._task, self._state = self._task, None, _IDLE
        if task is not None:
            if not run:
                return None, None
            try:
                return task(), None
            except BaseException as exc:  # as the thread would have: the caller raises it
                return None, exc
        interrupted: Optional[BaseException] = None
        out: tuple[object, Optional[BaseException]] = (None, None)
        while True:
            try:
                with self._cv:
                    while self._state == _RUNNING:
                        self._cv.wait()
                    if self._state == _DONE:
                        out = self._result, self._error
                        self._result, self._error, self._state = None, None, _IDLE
                break
            except BaseException as exc:  # KeyboardInterrupt from a signal handler, say
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
        return out


_helper: Optional[_Helper] = None
_busy = threading.Lock()  # held by the query whose keyword ranking the helper runs


def _after_fork_in_child() -> None:
    """A forked child has no helper thread, and a lock held in the parent stays held in the child."""
    global _helper, _busy
    _helper, _busy = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def both(here: Callable[[], A], there: Callable[[], B], *, overlap: bool) -> tuple[A, B]:
    """``(here(), there())``, with ``there`` on the helper thread when ``overlap`` and it is free
    (or here, after ``here``, when the helper has not started it by then).

    Raises what ``here()`` then ``there()`` would: ``here``'s exception first.
    """
    global _helper
    if not overlap or not _busy.acquire(blocking=False):
        first = here()
        return first, there()
    try:
        try:
            if _helper is None:
                _helper = _Helper()
            helper = _helper
        except RuntimeError:  # no new thread (the interpreter is shutting down): in turn
            first = here()
            return first, there()
        try:
            if not helper.start(there):  # still busy with an interrupted query's task: in turn
                first = here()
                return first, there()
            first = here()
        except BaseException:
            helper.finish(run=False)  # the helper is done (or never starts) before the error goes on
            raise
        second, error = helper.finish(run=True)  # here, if the helper has not started it yet
        if error is not None:
            raise error
        return first, second  # type: ignore[return-value]  # what ``there`` returned
    finally:
        _busy.release()
