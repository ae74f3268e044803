"""The client's cloud methods over a store (C-3..C-18, T-5..T-11, T-16; docs/rules/stores.md CLD-*)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, Optional

import pytest
from helpers import STORE_KINDS, store_of_kind
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_ref import (
    DocumentInfo,
    GetDocumentsOptions,
    IndexInfo,
    InvalidArgumentError,
    JobStatus,
    LoadIndexesResult,
    ModelRef,
    MossClient,
    MossError,
    MutationOptions,
    MutationResult,
    ParentGrouping,
    QueryOptions,
)
from moss_ref._jobs import JobHandle
from moss_ref.stores.base import IndexSummary, JobRecord, Store, StoredIndex
from moss_ref.stores.memory import MemoryStore

P, K = "proj", "key"
DOCS = [
    {"id": "a", "text": "refund for a billing issue", "metadata": {"topic": "billing", "n": "1"}},
    {"id": "b", "text": "pruning tomato plants in the garden", "metadata": {"topic": "garden", "n": "2"}},
    {"id": "c", "text": "billing cycle and invoice dates", "metadata": {"topic": "billing", "n": "3"}},
]
VECS = [DocumentInfo("x", "red apple", {"c": "r"}, [1.0, 0.0]), DocumentInfo("y", "green pear", None, [0.0, 1.0])]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(params=STORE_KINDS)
def store(request: Any, tmp_path: Any) -> Iterator[Store]:
    """Every store, the HTTP one a moss-ref serve service (SRV-16)."""
    with store_of_kind(request.param, tmp_path) as s:
        yield s


def make(store: Store, key: str = K, **kw: Any) -> MossClient:
    return MossClient(P, key, store=store, embedder="hash-v1", vector_backend="python", **kw)


# -- create_index (C-6, C-7) ------------------------------------------------------------------


def test_create_index_resolves_the_model_and_returns_a_mutation_result(store: Store) -> None:
    c = make(store)
    result = run(c.create_index("text", DOCS))
    assert isinstance(result, MutationResult) and (result.index_name, result.doc_count) == ("text", 3)
    assert run(c.get_index("text")).model.id == "moss-minilm"
    run(c.create_index("vecs", VECS))
    assert run(c.get_index("vecs")).model == ModelRef("custom", "")
    run(c.create_index("lite", DOCS, "moss-litelm"))
    assert run(c.get_index("lite")).model == ModelRef("moss-litelm", "hash-v1:1")
    status = run(c.get_job_status(result.job_id))
    assert status.status == JobStatus.COMPLETED and status.progress == 100.0


def test_create_index_validation_happens_before_the_store(store: Store) -> None:
    make(store).session_sync("x", auto_load_on_init=False)  # registers K
    wrong = make(store, key="wrong")  # validation errors come before credentials (C-7)
    with pytest.raises(InvalidArgumentError) as info:
        run(wrong.create_index("i", [VECS[0], DocumentInfo("z", "no vector")], "custom"))
    assert info.value.detail == "Validation error: Model 'custom' requires all documents to have embeddings"
    with pytest.raises(InvalidArgumentError) as info:
        run(wrong.create_index("i", [VECS[0], DocumentInfo("z", "no vector")], "moss-minilm"))
    assert info.value.detail == "Validation error: Mixed embeddings: either all documents must have embeddings or none"
    with pytest.raises(InvalidArgumentError) as info:  # model None + one embedding → custom → all needed
        run(wrong.create_index("i", [VECS[0], DocumentInfo("z", "no vector")]))
    assert "requires all documents to have embeddings" in str(info.value.detail)
    with pytest.raises(ValueError, match="chunker and chunking cannot be used with model_id='custom'"):
        run(wrong.create_index("i", VECS, "custom", chunker=lambda t: [t]))
    with pytest.raises(InvalidArgumentError, match="Invalid model_id"):
        run(wrong.create_index("i", DOCS, "bogus"))
    with pytest.raises(MossError) as err:
        run(wrong.create_index("i", DOCS))
    assert err.value.code == "UNAUTHORIZED"
    assert make(store).session_sync("i").doc_count == 0


def test_create_index_on_an_existing_name_fails_and_changes_nothing(store: Store) -> None:
    c = make(store)
    run(c.create_index("i", DOCS))
    version = run(c.get_index("i")).version
    with pytest.raises(InvalidArgumentError, match="Index 'i' already exists"):
        run(c.create_index("i", DOCS[:1]))
    assert run(c.get_index("i")).version == version and run(c.get_index("i")).doc_count == 3


def test_create_index_without_waiting_returns_a_job_handle(store: Store) -> None:
    c = make(store)
    handle = run(c.create_index("i", DOCS, wait=False))
    assert isinstance(handle, JobHandle) and handle.job_id.startswith("job_")
    status = run(handle.status())
    assert status.job_id == handle.job_id and status.status.value == "completed"
    assert run(handle.wait(poll_interval_seconds=0.01, timeout_seconds=1)) == status
    assert run(c.get_index("i")).doc_count == 3


def test_create_index_applies_a_chunker(store: Store) -> None:
    c = make(store)
    run(c.create_index("i", [{"id": "doc", "text": "one. two"}], chunker=lambda t: t.split(". ")))
    docs = run(c.get_docs("i"))
    assert [(d.id, d.text, d.metadata) for d in docs] == [
        ("doc#0", "one", {"parentId": "doc"}),
        ("doc#1", "two", {"parentId": "doc"}),
    ]


# -- add_docs / delete_docs / get_docs (C-9, C-10) -------------------------------------------


def test_add_and_delete_docs_apply_session_rules(store: Store) -> None:
    c = make(store)
    run(c.create_index("i", DOCS[:2]))
    result = run(c.add_docs("i", [{"id": "b", "text": "changed"}, DOCS[2]]))
    assert (result.index_name, result.doc_count) == ("i", 2)  # the documents of this mutation (CLD-3)
    run(c.add_docs("i", [{"id": "a", "text": "ignored"}], MutationOptions(upsert=False)))
    texts = {d.id: d.text for d in run(c.get_docs("i"))}
    assert texts == {"a": DOCS[0]["text"], "b": "changed", "c": DOCS[2]["text"]}
    deleted = run(c.delete_docs("i", ["a", "zzz", "a"]))
    assert deleted.doc_count == 3 and [d.id for d in run(c.get_docs("i"))] == ["b", "c"]  # the ids sent
    assert run(c.get_job_status(deleted.job_id)).status.value == "completed"
    session = c.session_sync("i")  # the stored index is what a session resumes
    assert session.doc_count == 2


def test_mutation_doc_count_is_the_size_of_the_mutation_not_the_index(store: Store) -> None:
    """CLD-3 (observed: moss 1.21.0): adding 5,000 to an index of 1,000 reports 5,000; deleting 5,000 reports 5,000."""
    c = make(store)

    def docs(start: int, n: int) -> list[DocumentInfo]:
        return [DocumentInfo(f"d{i:05d}", f"t{i}", embedding=[1.0, float(i % 7)]) for i in range(start, start + n)]

    created = run(c.create_index("big", docs(0, 1000)))
    assert created.doc_count == 1000
    added = run(c.add_docs("big", docs(1000, 5000)))
    assert added.doc_count == 5000 and run(c.get_index("big")).doc_count == 6000
    deleted = run(c.delete_docs("big", [f"d{i:05d}" for i in range(5000)]))
    assert deleted.doc_count == 5000 and run(c.get_index("big")).doc_count == 1000
    assert run(c.get_job_status(added.job_id)).status.value == "completed"


def test_mutations_of_a_missing_index_are_not_found(store: Store) -> None:
    c = make(store)
    for call in (
        lambda: c.add_docs("nope", DOCS),
        lambda: c.delete_docs("nope", ["a"]),
        lambda: c.get_docs("nope"),
        lambda: c.get_index("nope"),
        lambda: c.load_index("nope"),
    ):
        with pytest.raises(MossError) as info:
            run(call())
        assert info.value.code == "NOT_FOUND" and info.value.detail == "Index not found: nope"


def test_custom_index_mutations_need_embeddings(store: Store) -> None:
    c = make(store)
    run(c.create_index("v", VECS))
    with pytest.raises(ValueError, match=r"Documents missing \.embedding for custom model: \['z'\]"):
        run(c.add_docs("v", [DocumentInfo("z", "t")]))
    with pytest.raises(ValueError, match="chunker and chunking cannot be used"):
        run(c.add_docs("v", [DocumentInfo("z", "t", embedding=[1, 1])], chunker=lambda t: [t]))
    run(c.add_docs("v", [DocumentInfo("z", "t", embedding=[1, 1])]))
    docs = run(c.get_docs("v"))
    assert [d.embedding for d in docs] == [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]


def test_get_docs_options(store: Store) -> None:
    c = make(store)
    run(c.create_index("i", DOCS))
    by_filter = run(c.get_docs("i", GetDocumentsOptions(filter={"field": "topic", "condition": {"$eq": "billing"}})))
    assert [d.id for d in by_filter] == ["a", "c"]
    assert [d.id for d in run(c.get_docs("i", GetDocumentsOptions(doc_ids=["c", "x", "a"])))] == ["c", "a"]
    assert [d.id for d in run(c.get_docs("i", GetDocumentsOptions(sort_by="n", ascending=False)))] == ["c", "b", "a"]
    assert all(d.embedding is None for d in run(c.get_docs("i")))


def test_concurrent_mutations_are_never_lost(store: Store) -> None:
    """CLD-4: compare-and-swap with retry. Test threads here; processes in test_crash_processes."""
    make(store).session_sync("x", auto_load_on_init=False)
    run(make(store).create_index("i", [{"id": "seed", "text": "s"}]))

    def worker(w: int) -> None:
        c = make(store)
        for j in range(4):
            run(c.add_docs("i", [{"id": f"w{w}-{j}", "text": "t"}]))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert run(make(store).get_index("i")).doc_count == 13


# -- index info (C-10, T-10, T-11) -------------------------------------------------------------


def test_index_info_and_listing(store: Store) -> None:
    c = make(store)
    run(c.create_index("b", DOCS))
    run(c.create_index("a", VECS))
    info = run(c.get_index("b"))
    assert isinstance(info, IndexInfo)
    assert (info.name, info.status, info.doc_count, info.model) == (
        "b",
        "Ready",
        3,
        ModelRef("moss-minilm", "hash-v1:1"),
    )
    assert len(info.id) == 32 and info.version and info.created_at <= info.updated_at
    run(c.add_docs("b", [{"id": "z", "text": "t"}]))
    later = run(c.get_index("b"))
    assert later.id == info.id and later.version != info.version and later.created_at == info.created_at
    assert [i.name for i in run(c.list_indexes())] == ["a", "b"]
    assert run(c.delete_index("a")) is True and run(c.delete_index("a")) is False
    assert [i.name for i in run(c.list_indexes())] == ["b"]


# -- jobs (C-10..C-12) -----------------------------------------------------------------------


def _job(store: Store, status: str, error: Optional[str] = None) -> str:
    job_id = "job_" + status.replace("_", "")[:8].ljust(32, "0")
    store.save_job(P, JobRecord(job_id, "i", "push", status, 0, "t0", "t1", None, error))
    return job_id


def test_job_lookups_and_waiting(store: Store) -> None:
    c = make(store)
    run(c.list_indexes())  # registers the key
    with pytest.raises(MossError) as info:
        run(c.get_job_status("job_unknown"))
    assert info.value.code == "NOT_FOUND" and info.value.detail == "Job not found: job_unknown"
    with pytest.raises(InvalidArgumentError):
        run(c.get_job_status(123))  # type: ignore[arg-type]
    failed = _job(store, "failed", "boom")
    with pytest.raises(RuntimeError) as err:
        run(c.wait_for_job(failed, poll_interval_seconds=0.001))
    assert str(err.value) == f"Moss job {failed} failed: boom" and not isinstance(err.value, MossError)
    pending = _job(store, "building")
    status = run(c.get_job_status(pending))
    assert status.status == JobStatus.BUILDING and status.current_phase is not None and status.progress < 100
    with pytest.raises(TimeoutError) as timeout:
        run(c.wait_for_job(pending, poll_interval_seconds=0.001, timeout_seconds=0))
    assert str(timeout.value) == f"Moss job {pending} did not finish within 0s"
    with pytest.raises(TimeoutError, match="did not finish within 0s"):
        run(c.wait_for_job(pending, poll_interval_seconds=0.01, timeout_seconds=0.025))


# -- load, query, unload (C-13..C-18) ---------------------------------------------------------


def test_query_needs_a_loaded_index(store: Store) -> None:
    c = make(store)
    run(c.create_index("i", DOCS))
    with pytest.raises(MossError) as info:
        run(c.query("i", "refund"))
    assert info.value.code == "NOT_FOUND" and info.value.detail is None
    assert str(info.value) == (
        "Index 'i' is not loaded. Call load_index('i') or load_indexes([...]) before querying; "
        "queries run locally and there is no cloud query fallback."
    )
    assert run(c.load_index("i")) == "i"
    result = run(c.query("i", "refund billing"))
    session = c.session_sync("i")
    expected = run(session.query("refund billing"))
    assert [(d.id, d.score) for d in result.docs] == [(d.id, d.score) for d in expected.docs]
    assert result.index_name == "i" and result.model_id == "moss-minilm" and result.query == "refund billing"
    filtered = run(c.query("i", "billing", QueryOptions(filter={"field": "n", "condition": {"$gt": 1}})))
    assert {d.id for d in filtered.docs} == {"b", "c"}
    assert run(c.was_served_stale("i")) is False


def test_unload(store: Store) -> None:
    c = make(store)
    run(c.create_index("i", DOCS))
    run(c.load_index("i"))
    assert run(c.unload_index("i")) is None
    for call in (lambda: c.unload_index("i"), lambda: c.was_served_stale("i")):
        with pytest.raises(MossError) as info:
            run(call())
        assert (info.value.code, str(info.value), info.value.detail) == (
            "NOT_FOUND",
            "Index is not loaded.",
            "Index not loaded: i",
        )
    run(c.unload_indexes(["i", "never-loaded"]))  # idempotent
    with pytest.raises(MossError, match="not loaded"):
        run(c.query("i", "x"))


def test_reload_checks_the_version(store: Store) -> None:
    """C-13: unchanged → nothing read; changed → swapped in; no auto refresh by default."""
    c = make(store)
    run(c.create_index("i", DOCS))
    run(c.load_index("i"))
    core = c._loaded.get("i").core  # type: ignore[union-attr]
    run(c.load_index("i"))
    assert c._loaded.get("i").core is core  # type: ignore[union-attr]
    run(make(store).add_docs("i", [{"id": "new", "text": "kumquat"}]))
    assert run(c.query("i", "kumquat", QueryOptions(alpha=0.0))).docs == []
    run(c.load_index("i"))
    assert [d.id for d in run(c.query("i", "kumquat", QueryOptions(alpha=0.0))).docs] == ["new"]


def test_auto_refresh_picks_up_new_versions(store: Store) -> None:
    c = make(store)
    run(c.create_index("i", DOCS))
    run(c.load_index("i", auto_refresh=True, polling_interval_in_seconds=0.001))
    run(make(store).add_docs("i", [{"id": "new", "text": "kumquat"}]))
    import time

    time.sleep(0.01)
    assert [d.id for d in run(c.query("i", "kumquat", QueryOptions(alpha=0.0))).docs] == ["new"]
    with pytest.raises(InvalidArgumentError):
        run(c.load_index("i", polling_interval_in_seconds=0))
    with pytest.raises(InvalidArgumentError):
        run(c.load_index("i", auto_refresh="yes"))  # type: ignore[arg-type]


def test_load_indexes_is_best_effort(store: Store) -> None:
    c = make(store)
    run(c.create_index("a", DOCS))
    result = run(c.load_indexes(["a", "missing", "a/b"]))
    assert isinstance(result, LoadIndexesResult)
    assert result.loaded == ["a"]
    assert result.failed == {
        "missing": "The requested resource was not found.",
        "a/b": "The request has an invalid argument.",
    }
    assert result.failed_codes == {"missing": "NOT_FOUND", "a/b": "INVALID_ARGUMENT"}
    assert run(c.query("a", "refund")).docs


def test_custom_index_queries_on_the_client(store: Store) -> None:
    c = make(store)
    run(c.create_index("v", VECS))
    run(c.load_index("v"))
    assert [d.id for d in run(c.query("v", "apple", QueryOptions(alpha=0.0))).docs] == ["x"]  # keyword-only: no vector
    with pytest.raises(InvalidArgumentError, match="This index cannot embed text queries"):
        run(c.query("v", "apple"))
    hits = run(c.query("v", "apple", QueryOptions(embedding=[0.0, 2.0], alpha=1.0)))
    assert [(d.id, d.score) for d in hits.docs] == [("y", 1.0), ("x", 0.0)]


class FlakyStore:
    """Delegates to a real store; reads fail as if the cloud were unreachable while ``down``."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise MossError("The Moss service could not be reached.", "NETWORK", "HTTP request failed: down")

    def authenticate(self, project_id: str, project_key: str) -> None:
        self._check()
        self.inner.authenticate(project_id, project_key)

    def read_index(self, project_id: str, name: str) -> Optional[StoredIndex]:
        self._check()
        return self.inner.read_index(project_id, name)

    def read_summary(self, project_id: str, name: str) -> Optional[IndexSummary]:
        self._check()
        return self.inner.read_summary(project_id, name)

    def write_index(self, project_id: str, index: StoredIndex, expect_version: Optional[str] = None) -> StoredIndex:
        return self.inner.write_index(project_id, index, expect_version)

    def delete_index(self, project_id: str, name: str) -> bool:
        return self.inner.delete_index(project_id, name)

    def list_indexes(self, project_id: str) -> list[IndexSummary]:
        return self.inner.list_indexes(project_id)

    def save_job(self, project_id: str, job: JobRecord) -> None:
        self.inner.save_job(project_id, job)

    def read_job(self, project_id: str, job_id: str) -> Optional[JobRecord]:
        return self.inner.read_job(project_id, job_id)


def test_offline_copy_is_served_when_the_store_is_down(store: Store, tmp_path: Any) -> None:
    """C-13, C-18: with a cache_path, a load while the store is down serves the last copy, marked stale."""
    flaky = FlakyStore(store)
    c = make(flaky, cache_path=str(tmp_path / "cache"))
    run(c.create_index("i", DOCS))
    run(c.load_index("i"))
    assert run(c.was_served_stale("i")) is False
    flaky.down = True
    run(c.load_index("i"))
    assert run(c.was_served_stale("i")) is True
    assert run(c.query("i", "refund")).docs
    other = make(flaky)
    with pytest.raises(MossError) as info:  # no cache_path: nothing to fall back on
        run(other.load_index("i"))
    assert info.value.code == "NETWORK"
    per_call = make(flaky)
    run(per_call.load_index("i", cache_path=str(tmp_path / "cache")))
    assert run(per_call.was_served_stale("i")) is True
    flaky.down = False
    run(c.load_index("i"))
    assert run(c.was_served_stale("i")) is False


def test_an_unusable_offline_copy_gives_the_store_error(store: Store, tmp_path: Any) -> None:
    flaky = FlakyStore(store)
    c = make(flaky, cache_path=str(tmp_path / "cache"))  # type: ignore[arg-type]
    run(c.create_index("i", DOCS))
    run(c.load_index("i"))
    for folder, _, files in os.walk(tmp_path / "cache"):
        for f in files:
            if f == "vectors.f32":
                with open(os.path.join(folder, f), "r+b") as fh:
                    fh.write(b"\xff\xff")
    flaky.down = True
    with pytest.warns(RuntimeWarning, match="ignoring the offline copy"), pytest.raises(MossError) as info:
        run(make(flaky, cache_path=str(tmp_path / "cache")).load_index("i"))  # type: ignore[arg-type]
    assert info.value.code == "NETWORK"


# -- query_multi_index (C-17) ------------------------------------------------------------------


def test_query_multi_index_rules(store: Store) -> None:
    c = make(store)
    run(c.create_index("one", DOCS[:2]))
    run(c.create_index("two", [{"id": "a", "text": "refund policy and billing"}, DOCS[2]]))
    run(c.create_index("vec", VECS))
    with pytest.raises(InvalidArgumentError) as info:
        run(c.query_multi_index([], "x"))
    assert str(info.value) == "query_multi_index requires at least one index name"
    with pytest.raises(MossError) as err:
        run(c.query_multi_index(["one", "two"], "x"))
    assert err.value.code == "NOT_FOUND" and err.value.detail == "Index not loaded: one, two"
    run(c.load_indexes(["one", "two", "vec"]))
    with pytest.raises(InvalidArgumentError, match="share one embedding model"):
        run(c.query_multi_index(["one", "vec"], "x"))
    result = run(c.query_multi_index(["one", "two"], "refund billing"))
    assert result.index_name is None and result.model_id == "moss-minilm"
    assert {(d.index_name, d.id) for d in result.docs} == {("one", "a"), ("one", "b"), ("two", "a"), ("two", "c")}
    assert len(run(c.query_multi_index(["one", "two"], "refund", QueryOptions(top_k=2))).docs) == 2


@settings(max_examples=30, deadline=None)
@given(
    texts=st.lists(st.sampled_from(["red apple", "green apple pie", "pear", "apple pear red", "blue"]), max_size=6),
    query=st.sampled_from(["apple", "red pear", "", "blue apple"]),
    alpha=st.sampled_from([0.0, 0.3, 0.8, 1.0]),
    top_k=st.integers(0, 7),
)
def test_multi_index_query_of_one_index_equals_the_single_query(
    texts: list[str], query: str, alpha: float, top_k: int
) -> None:
    """CLD-14: the multi-index ranking reduces to the session pipeline for one index."""
    c = make(MemoryStore())
    run(c.create_index("i", [{"id": f"d{n}", "text": t} for n, t in enumerate(texts)]))
    run(c.load_index("i"))
    options = QueryOptions(top_k=top_k, alpha=alpha)
    single = run(c.query("i", query, options))
    multi = run(c.query_multi_index(["i"], query, options))
    assert [(d.id, d.score) for d in multi.docs] == [(d.id, d.score) for d in single.docs]
    assert all(d.index_name == "i" for d in multi.docs)


def test_multi_index_vector_ranking_is_global(store: Store) -> None:
    c = make(store)
    run(c.create_index("p", [DocumentInfo("p1", "t", None, [0.9, 0.1]), DocumentInfo("p2", "t", None, [0.0, 1.0])]))
    run(c.create_index("q", [DocumentInfo("q1", "t", None, [1.0, 0.0]), DocumentInfo("q2", "t", None, [0.5, 0.5])]))
    run(c.load_indexes(["p", "q"]))
    hits = run(c.query_multi_index(["p", "q"], "t", QueryOptions(embedding=[1.0, 0.0], alpha=1.0)))
    assert [(d.index_name, d.id) for d in hits.docs] == [("q", "q1"), ("p", "p1"), ("q", "q2"), ("p", "p2")]


# -- every cloud call: closed client, names, credentials (C-3, C-4, R-ST-3) -------------------


def cloud_calls(c: MossClient, name: str) -> list[Callable[[], Any]]:
    return [
        lambda: c.create_index(name, DOCS),
        lambda: c.add_docs(name, DOCS),
        lambda: c.delete_docs(name, ["a"]),
        lambda: c.get_docs(name),
        lambda: c.get_index(name),
        lambda: c.delete_index(name),
        lambda: c.load_index(name),
        lambda: c.load_indexes([name]),
        lambda: c.unload_index(name),
        lambda: c.unload_indexes([name]),
        lambda: c.query(name, "x"),
        lambda: c.query_multi_index([name], "x"),
        lambda: c.was_served_stale(name),
    ]


def test_every_method_validates_index_names_first(store: Store) -> None:
    make(store).session_sync("x", auto_load_on_init=False)
    wrong_key = make(store, key="wrong")
    for bad in ("", "..", "a/b", "x\x00", "n" * 257):
        for n, call in enumerate(cloud_calls(wrong_key, bad)):
            if n == 7:  # load_indexes reports a bad name as a failure instead
                assert run(call()).failed_codes == {bad: "INVALID_ARGUMENT"} or bad == ""
                continue
            with pytest.raises(InvalidArgumentError) as info:
                run(call())
            assert "index name must not be blank" in str(info.value), (n, bad)


def test_wrong_key_is_unauthorized_from_every_cloud_call(store: Store) -> None:
    good = make(store)
    run(good.create_index("i", DOCS))
    job = run(good.add_docs("i", DOCS[:1])).job_id
    bad = make(store, key="wrong")
    extra = [lambda: bad.list_indexes(), lambda: bad.get_job_status(job), lambda: bad.wait_for_job(job)]
    calls = [*cloud_calls(bad, "i")[:7], *extra]
    for call in calls:
        with pytest.raises(MossError) as info:
            run(call())
        assert info.value.code == "UNAUTHORIZED"
    assert run(bad.load_indexes(["i"])).failed_codes == {"i": "UNAUTHORIZED"}


def test_a_closed_client_refuses_everything(store: Store) -> None:
    c = make(store)
    run(c.create_index("i", DOCS))
    run(c.load_index("i"))
    s = c.session_sync("i")
    run(c.close())
    run(c.close())  # idempotent
    extra = [lambda: c.list_indexes(), lambda: c.get_job_status("job_x"), lambda: c.wait_for_job("job_x")]
    calls = [*cloud_calls(c, "i"), *extra, lambda: c.session("i")]
    for call in calls:
        with pytest.raises(RuntimeError) as info:
            run(call())
        assert str(info.value) == "MossClient is closed" and not isinstance(info.value, MossError)
    with pytest.raises(InvalidArgumentError, match="SessionIndex is closed"):
        run(s.get_docs())


def test_client_query_honours_min_score(store: Store) -> None:
    """QRY-7, QRY-9, QRY-16: MossClient.query applies min_score and candidate_depth, and never groups."""
    c = make(store)
    docs = [DocumentInfo(f"d{i}", "t", {"p": "P", "n": str(i)}, [1.0, i / 10]) for i in range(6)]
    run(c.create_index("v", docs))
    run(c.load_index("v"))
    plain = run(c.query("v", "", QueryOptions(embedding=[0.0, 1.0], alpha=1.0, top_k=6)))
    kept = run(c.query("v", "", QueryOptions(embedding=[0.0, 1.0], alpha=1.0, top_k=6, min_score=0.3)))
    assert [d.id for d in kept.docs] == [d.id for d in plain.docs if d.score >= 0.3] != [d.id for d in plain.docs]
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(InvalidArgumentError, match="min_score"):
            run(c.query("v", "", QueryOptions(embedding=[0.0, 1.0], min_score=bad)))
    with pytest.raises(InvalidArgumentError, match="keyword-only"):
        run(c.query("v", "t", QueryOptions(embedding=[0.0, 1.0], alpha=0.0, min_score=0.1)))
    with pytest.raises(InvalidArgumentError, match="candidate_depth must be at least 1; got 0"):
        run(c.query("v", "t", QueryOptions(embedding=[0.0, 1.0], candidate_depth=0)))
    grouped = run(
        c.query("v", "", QueryOptions(embedding=[0.0, 1.0], alpha=1.0, top_k=3, group_by=ParentGrouping("p", "n")))
    )
    assert [d.id for d in grouped.docs] == [d.id for d in plain.docs[:3]]  # group_by ignored by the client
