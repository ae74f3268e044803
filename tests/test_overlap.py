"""``moss_ref._overlap``: a hybrid query's keyword ranking on a helper thread (QRY-5 unchanged).

What a caller sees must be what the two rankings in turn give: the same lists, the same
exception (the vector side's first), the helper always done before the call returns, and no
helper used when the backends do not allow it or another query holds it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from helpers import check_in_forked_child

from moss_ref import _overlap

np = pytest.importorskip("numpy")

from moss_ref_backends.numpy_keywords import NumpyKeywords  # noqa: E402
from moss_ref_backends.numpy_vectors import NumpyVectors  # noqa: E402


@contextmanager
def forced() -> Iterator[None]:
    """The helper used at any size, whatever the CPUs."""
    with mock.patch.object(_overlap, "MIN_VALUES", 0), mock.patch.object(_overlap, "usable_cpus", lambda: 2):
        with mock.patch.object(_overlap, "enabled", True):
            yield


def test_both_runs_the_second_on_the_helper_and_returns_both_results() -> None:
    here_thread: list[int] = []
    there_thread: list[int] = []
    started = threading.Event()

    def here() -> str:
        here_thread.append(threading.get_ident())
        assert started.wait(5)  # the helper has taken it (else the caller would take it back)
        return "vectors"

    def there() -> str:
        there_thread.append(threading.get_ident())
        started.set()
        return "keywords"

    assert _overlap.both(here, there, overlap=True) == ("vectors", "keywords")
    assert here_thread == [threading.get_ident()]
    assert there_thread and there_thread[0] != threading.get_ident()
    assert _overlap.both(here, there, overlap=False) == ("vectors", "keywords")
    assert there_thread[1] == threading.get_ident()  # no overlap: in turn, on the caller's thread


def test_the_first_sides_error_wins_and_the_helper_is_always_done_first() -> None:
    finished: list[str] = []
    gate = threading.Event()
    started = threading.Event()

    def slow_keywords() -> str:
        started.set()
        gate.wait(5)
        finished.append("keywords")
        return "keywords"

    def failing_vectors() -> str:
        started.wait(5)  # the helper runs the keywords (not yet started, they would be dropped)
        gate.set()
        raise ValueError("vector side")

    with pytest.raises(ValueError, match="vector side"):
        _overlap.both(failing_vectors, slow_keywords, overlap=True)
    assert finished == ["keywords"]  # waited for before the error came out

    def failing_keywords() -> str:
        raise KeyError("keyword side")

    with pytest.raises(KeyError, match="keyword side"):
        _overlap.both(lambda: "vectors", failing_keywords, overlap=True)
    with pytest.raises(ValueError, match="vector side"):  # both fail: the vector side's, as in turn
        _overlap.both(failing_vectors, failing_keywords, overlap=True)
    assert _overlap.both(lambda: 1, lambda: 2, overlap=True) == (1, 2)  # the helper still works


class SlowToWake(_overlap._Helper):
    """A helper whose thread wakes only when told (``wake``), as a sleeping CPU's might late."""

    def __init__(self) -> None:
        self.wake = threading.Event()
        super().__init__()

    def _loop(self) -> None:
        self.wake.wait()
        super()._loop()


def test_a_keyword_ranking_the_helper_has_not_started_is_taken_back_and_run_by_the_caller() -> None:
    """A helper slow to wake never delays the query: once the vector side is done, the caller
    runs the keyword side itself; the thread, waking later, finds nothing to do, and the next
    hand-off goes to it as usual."""
    me = threading.get_ident()
    ran: list[int] = []
    helper = SlowToWake()
    with mock.patch.object(_overlap, "_helper", helper):
        out = _overlap.both(lambda: "vectors", lambda: ran.append(threading.get_ident()) or "keywords", overlap=True)
        assert out == ("vectors", "keywords") and ran == [me]
        helper.wake.set()  # the late wake-up: nothing handed over, back to sleep
        started = threading.Event()

        def here() -> str:
            assert started.wait(5)
            return "v"

        def there() -> int:
            started.set()
            return threading.get_ident()

        first, second = _overlap.both(here, there, overlap=True)
        assert first == "v" and second not in (me, None)


def test_a_taken_back_keyword_ranking_fails_or_is_skipped_as_in_turn() -> None:
    """Taken back, the keyword side's error comes out as ranking in turn gives it; when the
    vector side fails first, the keyword side never runs (in turn it would not have either)."""

    def keywords_fail() -> str:
        raise KeyError("keyword side")

    def vectors_fail() -> str:
        raise ValueError("vector side")

    ran: list[str] = []
    for here, there, error in [
        (lambda: "v", keywords_fail, KeyError),
        (vectors_fail, lambda: ran.append("keywords"), ValueError),
    ]:
        helper = SlowToWake()
        with mock.patch.object(_overlap, "_helper", helper):
            with pytest.raises(error):
                _overlap.both(here, there, overlap=True)
            helper.wake.set()
            assert _overlap.both(lambda: 1, lambda: 2, overlap=True) == (1, 2)  # the helper works on
    assert ran == []


def test_a_busy_helper_makes_the_query_rank_in_turn_rather_than_wait() -> None:
    assert _overlap._busy.acquire(blocking=False)
    try:
        seen: list[int] = []
        out = _overlap.both(lambda: "v", lambda: seen.append(threading.get_ident()) or "k", overlap=True)
    finally:
        _overlap._busy.release()
    assert out == ("v", "k") and seen == [threading.get_ident()]


def test_no_thread_to_be_had_means_in_turn() -> None:
    with (
        mock.patch.object(_overlap, "_helper", None),
        mock.patch.object(_overlap, "_Helper", side_effect=RuntimeError("can't start new thread")),
    ):
        assert _overlap.both(lambda: "v", lambda: threading.get_ident(), overlap=True) == ("v", threading.get_ident())


def test_only_backends_that_allow_it_at_a_size_that_pays_and_with_a_second_cpu() -> None:
    numpy_pair = (NumpyVectors(), NumpyKeywords())
    at_least = _overlap.MIN_VALUES // 384 + 1
    with mock.patch.object(_overlap, "usable_cpus", lambda: 2):
        assert _overlap.wanted(at_least, 384, *numpy_pair)
        assert not _overlap.wanted(at_least - 2, 384, *numpy_pair)
        at_most = _overlap.MAX_VALUES // 384
        assert _overlap.wanted(at_most, 384, *numpy_pair)
        assert not _overlap.wanted(at_most + 1, 384, *numpy_pair)  # the scan has helpers of its own there
        from moss_ref._keywords import PythonKeywords
        from moss_ref._vectors import PythonVectors

        assert not _overlap.wanted(20_000, 384, NumpyVectors(), PythonKeywords())  # pure Python holds the GIL
        assert not _overlap.wanted(20_000, 384, PythonVectors(), NumpyKeywords())
        with mock.patch.object(_overlap, "enabled", False):
            assert not _overlap.wanted(20_000, 384, *numpy_pair)
    with mock.patch.object(_overlap, "usable_cpus", lambda: 1):
        assert not _overlap.wanted(20_000, 384, *numpy_pair)


def _session_results(overlap: bool, queries: list[tuple[str, Any]]) -> list[list[tuple[str, float]]]:
    import moss_ref
    from moss_ref import DocumentInfo

    rng = np.random.default_rng(3)
    words = ["alpha", "beta", "gamma", "delta", "stone", "river", "cloud", "ember", "lumen", "quartz"]
    docs = []
    for i in range(600):
        text = " ".join(words[j] for j in rng.integers(0, len(words), 6))
        docs.append(DocumentInfo(f"d{i}", text, {"bucket": f"b{i % 3}"}, rng.standard_normal(8).tolist()))

    async def go() -> list[list[tuple[str, float]]]:
        client = moss_ref.MossClient("p", "k", vector_backend="numpy", keyword_backend="numpy")
        session = await client.session("overlap", model_id="custom")
        await session.add_docs(docs)
        out = []
        with mock.patch.object(_overlap, "enabled", overlap):
            for text, options in queries:
                found = await session.query(text, options)
                out.append([(d.id, d.score) for d in found.docs])
        await session.close()
        return out

    return asyncio.run(go())


def test_hybrid_queries_give_the_same_results_with_and_without_the_helper() -> None:
    from moss_ref import QueryOptions

    rng = np.random.default_rng(5)
    queries = []
    for i in range(40):
        text = ["stone river", "alpha beta gamma", "quartz", "ember ember lumen", "nothing here"][i % 5]
        flt = {"field": "bucket", "condition": {"$eq": "b1"}} if i % 4 == 0 else None
        queries.append((text, QueryOptions(embedding=rng.standard_normal(8).tolist(), top_k=7, alpha=0.6, filter=flt)))
    ran: list[int] = []
    real_start = _overlap._Helper.start

    def spy(self: Any, task: Any) -> None:
        ran.append(1)
        real_start(self, task)

    with forced(), mock.patch.object(_overlap._Helper, "start", spy):
        on = _session_results(True, queries)
    assert len(ran) == len(queries)  # every hybrid query used the helper
    with forced():
        off = _session_results(False, queries)
    assert on == off and any(on)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_makes_its_own_helper() -> None:
    with forced():
        assert _overlap.both(lambda: 1, lambda: 2, overlap=True) == (1, 2)  # the parent's helper exists

        def in_child() -> bool:  # no helper thread, a fresh lock
            ident: list[int] = []
            started = threading.Event()

            def there() -> int:
                ident.append(threading.get_ident())
                started.set()
                return 2

            out = _overlap.both(lambda: started.wait(5) and 1, there, overlap=True)  # the helper runs it
            return out == (1, 2) and ident[0] != threading.get_ident()

        ok = check_in_forked_child(in_child, _overlap._busy)  # as if a query held it at the fork
    assert ok


class InterruptedWaits:
    """The helper's condition, seen from the caller: its first ``wait`` calls raise
    KeyboardInterrupt (as a signal handler would) after ``before`` runs; the thread keeps the
    real condition, whose state both share."""

    def __init__(self, cv: threading.Condition, interrupts: int, before: Any) -> None:
        self.cv, self.interrupts, self.before = cv, interrupts, before

    def __enter__(self) -> bool:
        return self.cv.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.cv.__exit__(*exc)

    def wait(self, timeout: float | None = None) -> bool:
        if self.interrupts:
            self.interrupts -= 1
            self.before()
            raise KeyboardInterrupt
        return self.cv.wait(timeout)

    def notify(self, n: int = 1) -> None:
        self.cv.notify(n)


@pytest.mark.parametrize("interrupts", [1, 3])
def test_an_interrupt_while_waiting_for_the_helper_waits_it_out_then_raises(interrupts: int) -> None:
    """Ctrl-C in the caller's wait, once or again and again: the helper's task still ends before
    the interrupt comes out, and the next query gets its own keyword list, not this one's."""
    with forced():
        primed = threading.Event()
        assert _overlap.both(lambda: primed.wait(5) and 0, lambda: primed.set() or 0, overlap=True) == (0, 0)
        helper = _overlap._helper
        assert helper is not None
        real_cv = helper._cv
        gate = threading.Event()
        ended: list[str] = []
        started = threading.Event()

        def slow_keywords() -> str:
            started.set()
            gate.wait(5)
            ended.append("first")
            return "first keywords"

        helper._cv = InterruptedWaits(real_cv, interrupts, gate.set)  # type: ignore[assignment]
        try:
            with pytest.raises(KeyboardInterrupt):
                _overlap.both(lambda: started.wait(5) and "vectors", slow_keywords, overlap=True)  # on the helper
            assert ended == ["first"]  # done before the interrupt came out
        finally:
            helper._cv = real_cv
        again = threading.Event()
        out = _overlap.both(lambda: again.wait(5) and "v2", lambda: again.set() or "second keywords", overlap=True)
        assert out == ("v2", "second keywords")


def test_an_interrupt_as_the_keywords_are_handed_over_never_leaves_them_running() -> None:
    """Ctrl-C as ``start`` returns (the task handed over, the query not yet ranking): the query
    raises it, and the keyword ranking is taken back, never run after the query is over."""
    ran: list[str] = []
    helper = SlowToWake()
    real_start = helper.start

    def start_then_interrupt(task: Any) -> bool:
        real_start(task)
        raise KeyboardInterrupt

    with mock.patch.object(_overlap, "_helper", helper), mock.patch.object(helper, "start", start_then_interrupt):
        with pytest.raises(KeyboardInterrupt):
            _overlap.both(lambda: "v", lambda: ran.append("keywords"), overlap=True)
    helper.wake.set()
    with mock.patch.object(_overlap, "_helper", helper):
        started = threading.Event()
        out = _overlap.both(lambda: started.wait(5) and "v", lambda: started.set() or "k", overlap=True)
    assert out == ("v", "k") and ran == []


def test_a_helper_still_running_an_earlier_task_means_in_turn() -> None:
    """Never a second task on a running thread (it would mix two queries' results): in turn."""
    helper = SlowToWake()
    with mock.patch.object(_overlap, "_helper", helper):
        with helper._cv:
            helper._state = _overlap._RUNNING
        try:
            seen: list[int] = []
            out = _overlap.both(lambda: "v", lambda: seen.append(threading.get_ident()) or "k", overlap=True)
        finally:
            with helper._cv:
                helper._state = _overlap._IDLE
    assert out == ("v", "k") and seen == [threading.get_ident()]


def test_the_query_embedder_runs_before_the_keyword_ranking_is_handed_over() -> None:
    """An embedder is user code: it may use the session. It runs before the helper gets a task."""
    from moss_ref import _query

    order: list[str] = []
    real_both = _overlap.both

    def spy_both(here: Any, there: Any, *, overlap: bool) -> Any:
        order.append("hand-over")
        return real_both(here, there, overlap=overlap)

    class Plan:
        text = "stone river"
        embedding = None
        dimension = None
        alpha = 0.5

    class Corpus:
        dimension = 3
        vectors = keywords = None

        def __init__(self) -> None:
            self.position: dict[str, int] = {}

        def __len__(self) -> int:
            return 0

    def embed(text: str) -> list[float]:
        order.append("embed")
        return [1.0, 0.0, 0.0]

    with mock.patch.object(_query, "both", spy_both), mock.patch.object(_query, "rank_vectors", lambda *a: []):
        with mock.patch.object(_query, "rank_keywords", lambda *a: []):
            _query._fuse(Plan(), Corpus(), embed, None, 4)  # type: ignore[arg-type]
    assert order == ["embed", "hand-over"]
