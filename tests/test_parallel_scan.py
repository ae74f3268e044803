"""The numpy vector backend's threaded scan (``backends/_parallel.py``): same results, no hang.

The scan only runs in parallel on large matrices (48 MiB and up) with a spare CPU; these tests
force it on small ones, with chunks of one or a few rows, so every chunk boundary is exercised
against the exact reference of ``test_vector_backends``.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")

from helpers import check_in_forked_child  # noqa: E402
from moss_ref_backends import _parallel  # noqa: E402
from moss_ref_backends.numpy_vectors import NumpyVectors  # noqa: E402
from test_vector_backends import apply, reference_rank, scenarios  # noqa: E402


@contextmanager
def threaded(chunk_bytes: int, helpers: int = 2) -> Iterator[None]:
    """Every scan in parallel, ``helpers`` helper threads, chunks of ``chunk_bytes`` (one row at least)."""
    with (
        mock.patch.object(_parallel, "PARALLEL_BYTES", 0),
        mock.patch.object(_parallel, "CHUNK_BYTES", chunk_bytes),
        mock.patch.object(_parallel, "helpers", lambda: helpers),
    ):
        yield


@settings(max_examples=150)
@given(scenario=scenarios(), chunk_rows=st.integers(1, 5), helpers=st.integers(1, 3))
def test_threaded_scan_equals_the_exact_reference(
    scenario: tuple[int, list[tuple[Any, ...]], list[tuple[list[float], int, list[str] | None]]],
    chunk_rows: int,
    helpers: int,
) -> None:
    dim, ops, queries = scenario
    backend = NumpyVectors()
    model: dict[str, list[float]] = {}
    with threaded(chunk_rows * 4 * dim, helpers):
        apply(ops, [backend], model)
        for q, k, allowed in queries:
            assert backend.rank(q, k, allowed) == reference_rank(model, q, k, allowed)


@pytest.mark.parametrize("chunk_rows", [1, 3, 64, 10_000])
def test_threaded_scan_on_clustered_vectors_with_ties(chunk_rows: int) -> None:
    """Clustered unit vectors (many near ties), exact duplicates, and a k larger than a chunk."""
    rng = random.Random(chunk_rows)
    dim = 16
    centres = [[rng.gauss(0, 1) for _ in range(dim)] for _ in range(4)]
    ids, vectors = [], []
    for i in range(600):
        c = centres[i % 4]
        v = [x + rng.gauss(0, 0.05) for x in c] if i % 7 else list(centres[0])  # every 7th: a duplicate
        norm = sum(x * x for x in v) ** 0.5
        ids.append(f"d{i:04d}")
        vectors.append([x / norm for x in v])
    backend = NumpyVectors()
    model: dict[str, list[float]] = {}
    with threaded(chunk_rows * 4 * dim):
        apply([("put", ids, vectors), ("remove", ids[::11])], [backend], model)
        for j in range(6):
            q = [x + rng.gauss(0, 0.1) for x in centres[j % 4]]
            for k in (1, 5, 40, 250):
                assert backend.rank(q, k, None) == reference_rank(model, q, k, None)
            allowed = ids[j::3]
            assert backend.rank(q, 30, allowed) == reference_rank(model, q, 30, allowed)


class _Recorder:
    """A row-wise dot product that records, per thread, the first row of each chunk it scored."""

    def __init__(self, block: Any) -> None:
        self._base = block.__array_interface__["data"][0]
        self._row_bytes = block.strides[0]
        self._lock = threading.Lock()
        self.starts: dict[int, list[int]] = {}  # thread id -> first rows

    def __call__(self, rows: Any, vector: Any, out: Any = None) -> Any:
        start = (rows.__array_interface__["data"][0] - self._base) // self._row_bytes
        with self._lock:
            self.starts.setdefault(threading.get_ident(), []).append(start)
        return np.vecdot(rows, vector, out=out)


def test_scan_rows_is_the_plain_product_and_scores_every_chunk_once() -> None:
    rng = np.random.default_rng(3)
    block = rng.standard_normal((1000, 8)).astype(np.float32)
    q = rng.standard_normal(8).astype(np.float32)
    dot = _Recorder(block)
    with threaded(7 * 4 * 8):  # 7 rows a chunk
        scores = _parallel.scan_rows(block, q, dot)
    assert np.array_equal(scores, np.vecdot(block, q))
    assert 1 <= len(dot.starts) <= 3
    assert sorted(s for starts in dot.starts.values() for s in starts) == list(range(0, 1000, 7))  # each once


def test_two_threads_really_share_a_scan_and_let_go_of_the_matrix() -> None:
    """The caller's first chunk waits until the helper has scored one, so both score chunks; when
    scan_rows returns, no helper still holds a view of the block (a later put may grow it)."""
    rng = np.random.default_rng(4)
    block = rng.standard_normal((600, 8)).astype(np.float32)
    q = rng.standard_normal(8).astype(np.float32)
    caller = threading.get_ident()
    helper_scored = threading.Event()
    record = _Recorder(block)

    def dot(rows: Any, vector: Any, out: Any) -> Any:
        if threading.get_ident() == caller:
            assert helper_scored.wait(10), "the helper never scored a chunk"
        else:
            helper_scored.set()
        return record(rows, vector, out=out)

    before = sys.getrefcount(block)
    with threaded(10 * 4 * 8):  # 10 rows a chunk
        scores = _parallel.scan_rows(block, q, dot)
    assert np.array_equal(scores, np.vecdot(block, q))
    assert len(record.starts) == 2 and caller in record.starts  # both threads scored chunks
    assert sorted(s for starts in record.starts.values() for s in starts) == list(range(0, 600, 10))
    assert sys.getrefcount(block) == before


def test_a_pool_that_refuses_work_leaves_the_caller_to_score_everything() -> None:
    class ShutDown:
        def submit(self, fn: Any) -> None:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    block = np.ones((100, 2), dtype=np.float32)
    q = np.ones(2, dtype=np.float32)
    dot = _Recorder(block)
    with threaded(4 * 2), mock.patch.object(_parallel, "_executor", lambda: ShutDown()):
        scores = _parallel.scan_rows(block, q, dot)
    assert scores.tolist() == [2.0] * 100 and list(dot.starts) == [threading.get_ident()]


def test_a_failing_chunk_raises_in_the_caller_and_nothing_hangs() -> None:
    block = np.ones((500, 4), dtype=np.float32)
    q = np.ones(4, dtype=np.float32)
    calls = []

    def dot(rows: Any, vector: Any, out: Any) -> Any:
        calls.append(rows.shape[0])
        if len(calls) == 30:
            raise MemoryError("chunk 30")
        return np.vecdot(rows, vector, out=out)

    with threaded(4 * 4 * 4), pytest.raises(MemoryError, match="chunk 30"):
        _parallel.scan_rows(block, q, dot)
    assert len(calls) == 125  # every chunk was still scored (or tried): the wait ended


def test_a_helper_that_never_runs_leaves_the_caller_to_score_everything() -> None:
    """A helper the scheduler does not run (the other core busy) costs nothing but the hand-off."""

    class Stalled:
        def submit(self, fn: Any) -> None:  # never runs it
            pass

    block = np.arange(400 * 3, dtype=np.float32).reshape(400, 3)
    q = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    with threaded(4 * 3), mock.patch.object(_parallel, "_executor", lambda: Stalled()):
        scores = _parallel.scan_rows(block, q, np.vecdot)
    assert np.array_equal(scores, np.vecdot(block, q))


def test_a_late_helper_finds_no_chunk_and_scores_nothing() -> None:
    gate = threading.Event()
    late: list[Any] = []

    class Late:
        def submit(self, fn: Any) -> None:
            def run() -> None:
                gate.wait()
                fn()
                late.append(True)

            threading.Thread(target=run).start()

    block = np.ones((50, 2), dtype=np.float32)
    q = np.ones(2, dtype=np.float32)
    dot = _Recorder(block)
    with threaded(4 * 2), mock.patch.object(_parallel, "_executor", lambda: Late()):
        scores = _parallel.scan_rows(block, q, dot)
    gate.set()
    deadline = time.monotonic() + 10
    while not late and time.monotonic() < deadline:
        time.sleep(0.01)
    assert late and list(dot.starts) == [threading.get_ident()] and scores.tolist() == [2.0] * 50


def test_small_blocks_and_a_single_cpu_stay_on_the_calling_thread() -> None:
    block = np.ones((10, 2), dtype=np.float32)
    q = np.ones(2, dtype=np.float32)
    with mock.patch.object(_parallel, "_executor", side_effect=AssertionError("no thread for a small block")):
        assert _parallel.scan_rows(block, q, np.vecdot).tolist() == [2.0] * 10
        with mock.patch.object(_parallel, "PARALLEL_BYTES", 0), mock.patch.object(_parallel, "helpers", lambda: 0):
            assert _parallel.scan_rows(block, q, np.vecdot).tolist() == [2.0] * 10


def test_helpers_are_the_usable_cpus_less_one_at_most_three() -> None:
    for cpus, expected in ((1, 0), (2, 1), (4, 3), (64, 3)):
        with mock.patch.object(os, "sched_getaffinity", lambda pid, n=cpus: set(range(n)), create=True):
            assert _parallel.helpers() == expected


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_makes_its_own_helper_pool() -> None:
    block = np.ones((300, 4), dtype=np.float32)
    q = np.ones(4, dtype=np.float32)
    with threaded(4 * 4):
        _parallel.scan_rows(block, q, np.vecdot)  # the parent's pool exists now
        # the child's copy of the pool has no thread, and its lock is a fresh one
        ok = check_in_forked_child(
            lambda: _parallel.scan_rows(block, q, np.vecdot).tolist() == [4.0] * 300, _parallel._pool_lock
        )
    assert ok
