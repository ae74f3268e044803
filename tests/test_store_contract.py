"""The Store contract, run against every store (docs/rules/stores.md STO-*).

Like tinydb's storage tests: one set of behavioural tests, parametrised over ``MemoryStore``
and ``DirectoryStore``; directory-only behaviour (garbage collection, paths, I/O errors) below.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import STORE_KINDS, serving, store_of_kind

from moss_ref import MossClient, MossError
from moss_ref._corpus import Record
from moss_ref.stores import resolve_store
from moss_ref.stores.base import IndexConflict, JobRecord, Store, StoredIndex
from moss_ref.stores.directory import DirectoryStore, default_store_path
from moss_ref.stores.format import child_path, path_component
from moss_ref.stores.http import HttpStore
from moss_ref.stores.memory import MemoryStore

P, K = "proj", "key"


def index(name: str = "idx", n: int = 2, tag: str = "") -> StoredIndex:
    records = tuple(Record(f"d{i}", f"{tag}text {i}", None, None) for i in range(n))
    vectors = array("f", [x for i in range(n) for x in (1.0, float(i))])
    return StoredIndex(name, "custom", None, 2 if n else None, records, vectors)


@pytest.fixture(params=STORE_KINDS)
def store(request: Any, tmp_path: Any) -> Iterator[Store]:
    """Every store: in memory, a directory, and a ``moss-ref serve`` service over HTTP (SRV-16)."""
    with store_of_kind(request.param, tmp_path) as s:
        s.authenticate(P, K)
        yield s


def test_every_store_satisfies_the_protocol(tmp_path: Any) -> None:
    assert isinstance(MemoryStore(), Store)
    assert isinstance(DirectoryStore(str(tmp_path)), Store)
    assert isinstance(HttpStore("http://127.0.0.1:1"), Store)


# -- credentials (STO-2, STO-3) -----------------------------------------------------------


def test_trust_on_first_use_then_wrong_key_is_unauthorized(store: Store) -> None:
    store.authenticate(P, K)  # the registered key keeps working
    with pytest.raises(MossError) as info:
        store.authenticate(P, "other")
    assert info.value.code == "UNAUTHORIZED" and str(info.value) == "The project credentials were rejected."
    assert "other" not in repr(info.value) + str(info.value.detail)  # the key is never echoed
    store.authenticate("second-project", "other")  # projects are independent
    store.authenticate("", "")  # empty ids and keys are accepted (C-1)


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_provisioned_projects_only_when_first_use_is_off(kind: str, tmp_path: Any) -> None:
    """SRV-4: ``register=False`` refuses a project nobody provisioned; ``register_project`` provisions once."""
    with store_of_kind(kind, tmp_path) as s:
        with pytest.raises(MossError) as info:
            s.authenticate("new", "k1", register=False)  # type: ignore[call-arg]
        assert info.value.code == "UNAUTHORIZED" and "k1" not in str(info.value) + str(info.value.detail)
        assert s.list_projects() == []  # type: ignore[attr-defined]
        assert s.register_project("new", "k1") is True  # type: ignore[attr-defined]
        assert s.register_project("new", "k2") is False  # type: ignore[attr-defined]  # the first key stays
        s.authenticate("new", "k1", register=False)  # type: ignore[call-arg]
        with pytest.raises(MossError):
            s.authenticate("new", "k2", register=False)  # type: ignore[call-arg]
        s.authenticate("other", "k3")  # first use still works where the caller allows it
        assert s.list_projects() == ["new", "other"]  # type: ignore[attr-defined]
    if kind == "directory":
        stored = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
        assert b"k1" not in stored and b"pbkdf2-sha256$" in stored  # only the salted slow hash is kept


def test_concurrent_first_use_by_threads_lets_exactly_one_key_win(store: Store) -> None:
    results: dict[str, bool] = {}
    barrier = threading.Barrier(6)

    def attempt(key: str) -> None:
        barrier.wait()
        try:
            store.authenticate("fresh", key)
            results[key] = True
        except MossError as exc:
            assert exc.code == "UNAUTHORIZED"
            results[key] = False

    threads = [threading.Thread(target=attempt, args=(f"key{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [k for k, ok in results.items() if ok]
    assert len(winners) == 1
    store.authenticate("fresh", winners[0])


_REGISTER = """
import sys, time
from moss_ref.stores.directory import DirectoryStore
from moss_ref import MossError
root, key, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
store = DirectoryStore(root)
while time.time() < start:
    time.sleep(0.001)
try:
    store.authenticate("race", key)
    print("won")
except MossError as exc:
    print(exc.code)
"""


def test_concurrent_first_use_by_processes_lets_exactly_one_key_win(tmp_path: Any) -> None:
    root = str(tmp_path / "store")
    start = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _REGISTER, root, f"k{i}", str(start)], stdout=subprocess.PIPE, text=True
        )
        for i in range(4)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(outs) == ["UNAUTHORIZED"] * 3 + ["won"], outs
    winner = outs.index("won")
    DirectoryStore(root).authenticate("race", f"k{winner}")


# -- indexes (STO-4..STO-6) ---------------------------------------------------------------


def test_missing_index_reads_as_none(store: Store) -> None:
    assert store.read_index(P, "nope") is None
    assert store.read_summary(P, "nope") is None
    assert store.delete_index(P, "nope") is False
    assert store.list_indexes(P) == []
    store.authenticate("unknown-project", K)  # callers authenticate first (the service insists)
    assert store.list_indexes("unknown-project") == []


def test_versions_timestamps_and_ids(store: Store) -> None:
    first = store.write_index(P, index(tag="a"))
    time.sleep(0.002)
    second = store.write_index(P, index(tag="b"))
    assert first.version != second.version and first.version and second.version
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    assert second.index_id == first.index_id and len(first.index_id) == 32
    back = store.read_index(P, "idx")
    assert back is not None and back.version == second.version and back.records[0].text == "btext 0"
    summary = store.read_summary(P, "idx")
    assert summary is not None
    assert (summary.name, summary.model_id, summary.doc_count, summary.version, summary.index_id) == (
        "idx",
        "custom",
        2,
        second.version,
        second.index_id,
    )
    assert store.delete_index(P, "idx") is True
    assert store.read_index(P, "idx") is None
    third = store.write_index(P, index())
    assert third.index_id != first.index_id  # re-created: a new index


def test_conditional_writes(store: Store) -> None:
    created = store.write_index(P, index(tag="a"), expect_version="")
    with pytest.raises(IndexConflict) as info:
        store.write_index(P, index(tag="b"), expect_version="")
    assert info.value.code == "INTERNAL" and info.value.found == created.version
    with pytest.raises(IndexConflict):
        store.write_index(P, index(tag="b"), expect_version="0000000099-00000000")
    back = store.read_index(P, "idx")
    assert back is not None and back.version == created.version and back.records[0].text == "atext 0"
    updated = store.write_index(P, index(tag="c"), expect_version=created.version)
    assert updated.version != created.version


def test_list_indexes_by_name(store: Store) -> None:
    for name in ("b", "a", "Zed", "é"):
        store.write_index(P, index(name))
    store.authenticate("other", K)
    store.write_index("other", index("x"))
    assert [s.name for s in store.list_indexes(P)] == ["Zed", "a", "b", "é"]


def test_jobs_round_trip(store: Store) -> None:
    job = JobRecord("job_" + "a" * 32, "idx", "push", "completed", 3, "2024-01-01T00:00:00Z", "t1", "t2")
    store.save_job(P, job)
    assert store.read_job(P, job.job_id) == job
    assert store.read_job(P, "job_" + "b" * 32) is None
    for weird in ("../x", "a/b", "", "x" * 500, "..", "job\x00"):
        assert store.read_job(P, weird) is None


def test_readers_see_whole_versions_under_concurrent_writers(store: Store) -> None:
    stop = threading.Event()
    errors: list[str] = []

    def writer(tag: str) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            store.write_index(P, index(n=20, tag=f"{tag}{i}-"))

    def reader() -> None:
        while not stop.is_set():
            got = store.read_index(P, "idx")
            if got is None:
                continue
            tags = {r.text.split("text")[0] for r in got.records}
            if len(tags) != 1 or len(got.records) != 20:
                errors.append(repr(tags))

    threads = [threading.Thread(target=writer, args=(t,)) for t in "xy"] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    assert not errors


# -- directory specifics --------------------------------------------------------------------


def test_garbage_collection_keeps_recent_versions(tmp_path: Any) -> None:
    """FMT-12: keep the newest N and everything superseded less than the grace period ago."""
    root = str(tmp_path / "store")
    store = DirectoryStore(root, keep_versions=2, grace_seconds=3600)
    for i in range(5):
        store.write_index(P, index(tag=str(i)))
    versions = os.path.join(child_path(os.path.join(root, "projects", P, "indexes"), "idx"), "versions")
    assert len(os.listdir(versions)) == 5  # all within the grace period
    past = time.time() - 7200
    for v in os.listdir(versions):
        os.utime(os.path.join(versions, v), (past, past))
    store.write_index(P, index(tag="5"))
    assert len(os.listdir(versions)) == 2
    eager = DirectoryStore(root, keep_versions=1, grace_seconds=0)
    eager.write_index(P, index(tag="6"))
    assert len(os.listdir(versions)) == 1
    back = eager.read_index(P, "idx")
    assert back is not None and back.records[0].text == "6text 0"


def test_crashed_writer_leftovers_are_removed_after_an_hour(tmp_path: Any) -> None:
    root = str(tmp_path / "store")
    store = DirectoryStore(root)
    store.write_index(P, index())
    folder = child_path(os.path.join(root, "projects", P, "indexes"), "idx")
    old, fresh = os.path.join(folder, "tmp", "old"), os.path.join(folder, "tmp", "fresh")
    for path in (old, fresh):
        os.makedirs(path)
        with open(os.path.join(path, "documents.jsonl"), "w") as f:
            f.write("partial")
    stale_pointer = os.path.join(folder, ".CURRENT.tmp-dead")
    with open(stale_pointer, "w") as f:
        f.write("{")
    past = time.time() - 4000
    for path in (old, os.path.join(old, "documents.jsonl"), stale_pointer):
        os.utime(path, (past, past))
    store.write_index(P, index(tag="x"))
    assert not os.path.exists(old) and not os.path.exists(stale_pointer) and os.path.exists(fresh)


def test_os_errors_become_internal_naming_the_path(tmp_path: Any) -> None:
    """STO-9: never a raw OSError."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = DirectoryStore(str(blocker))
    for call in (
        lambda: store.authenticate(P, K),
        lambda: store.write_index(P, index()),
        lambda: store.save_job(P, JobRecord("job_1", "i", "push", "completed", 0, "t", "t", "t")),
    ):
        with pytest.raises(MossError) as info:
            call()
        assert info.value.code == "INTERNAL" and str(blocker) in str(info.value)
    client = MossClient(P, K, store=str(blocker), embedder="hash-v1", vector_backend="python")
    with pytest.raises(MossError) as info:
        client.session_sync("idx")
    assert info.value.code == "INTERNAL"


def test_store_layout_names_project_and_index_directories(tmp_path: Any) -> None:
    root = str(tmp_path / "store")
    store = DirectoryStore(root)
    secret = "s3cret-project-key"
    store.authenticate("My Project", secret)
    store.write_index("My Project", index("support"))
    project = os.path.join(root, "projects", path_component("My Project"))
    assert sorted(os.listdir(root)) == ["moss_ref-store.json", "projects"]
    assert sorted(os.listdir(project)) == ["indexes", "project.json"]
    assert os.listdir(os.path.join(project, "indexes")) == ["support"]
    with open(os.path.join(project, "project.json"), "rb") as f:
        body = f.read()
    assert secret.encode() not in body and b"pbkdf2-sha256" in body


def test_unknown_store_format_version_is_deserialization(tmp_path: Any) -> None:
    root = tmp_path / "store"
    root.mkdir()
    (root / "moss_ref-store.json").write_text('{"format":"moss_ref/store","format_version":9}')
    with pytest.raises(MossError) as info:
        DirectoryStore(str(root)).authenticate(P, K)
    assert info.value.code == "DESERIALIZATION"


# -- finding the store (STO-1) --------------------------------------------------------------


def test_default_store_path_per_platform(monkeypatch: Any, tmp_path: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == str(tmp_path / "xdg" / "moss_ref")
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert default_store_path() == str(tmp_path / ".local" / "share" / "moss_ref")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store_path() == str(tmp_path / ".local" / "share" / "moss_ref")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert default_store_path() == str(tmp_path / "Library" / "Application Support" / "moss_ref")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert default_store_path() == os.path.join(str(tmp_path / "local"), "moss_ref")


@pytest.fixture
def served(tmp_path: Any) -> Iterator[str]:
    """The URL of a ``moss-ref serve`` service over a fresh directory store."""
    with serving(DirectoryStore(str(tmp_path / "store")), allow_first_use=True) as url:
        yield url


@pytest.fixture
def http_store(tmp_path: Any) -> Iterator[HttpStore]:
    """An authenticated ``HttpStore`` on a fresh service (closed afterwards)."""
    with store_of_kind("http", tmp_path) as store:
        assert isinstance(store, HttpStore)
        store.authenticate(P, K)
        yield store


def _sockets(store: HttpStore) -> list[Any]:
    """The sockets of ``store``'s tracked connections that are open now (every thread's)."""
    return [conn.sock for _, conns in store._open.values() for conn in conns if conn.sock is not None]


def _closed(sockets: list[Any]) -> bool:
    return all(sock.fileno() == -1 for sock in sockets)


def _in_thread(store: HttpStore) -> None:
    worker = threading.Thread(target=store.list_indexes, args=(P,))
    worker.start()
    worker.join()


def test_http_store_close_closes_every_threads_connections(http_store: HttpStore) -> None:
    """SRV-16: close() closes the keep-alive connections of every thread at once; the store then
    opens a new one for the next request."""
    store = http_store
    keep = [threading.Event(), threading.Event()]

    def hold(ready: threading.Event) -> None:  # a live thread with a connection
        store.list_indexes(P)
        ready.set()
        keep[1].wait(30)

    holder = threading.Thread(target=hold, args=(keep[0],))
    holder.start()
    keep[0].wait(30)
    _in_thread(store)
    opened = _sockets(store)
    assert len(opened) == 3  # this thread's, the live holder's and the ended thread's
    store.close()
    assert _closed(opened) and _sockets(store) == []
    store.close()  # idempotent
    store.write_index(P, index())  # still usable: one new connection
    assert len(_sockets(store)) == 1 and [s.name for s in store.list_indexes(P)] == ["idx"]
    keep[1].set()
    holder.join()


def test_close_during_a_request_lets_it_finish_then_closes_its_connection(
    http_store: HttpStore, monkeypatch: Any
) -> None:
    """SRV-16: a connection in use when close() runs (on another thread) is left to its request,
    which answers normally, and closed by its own thread once the request is over."""
    import http.client

    store = http_store
    original = http.client.HTTPConnection.getresponse
    seen: list[Any] = []

    def getresponse(conn: http.client.HTTPConnection) -> Any:  # close() lands mid-request
        if not seen:
            seen.append(conn.sock)
            closer = threading.Thread(target=store.close)
            closer.start()
            closer.join()
            assert conn.sock is not None  # not closed under the request
        return original(conn)

    monkeypatch.setattr(http.client.HTTPConnection, "getresponse", getresponse)
    assert store.list_indexes(P) == []  # answered normally
    assert seen and seen[0].fileno() == -1  # then closed by this thread
    monkeypatch.setattr(http.client.HTTPConnection, "getresponse", original)
    assert store.list_indexes(P) == [] and len(_sockets(store)) == 1  # a new one


def test_an_ended_threads_http_connection_is_closed_when_the_next_is_made(http_store: HttpStore) -> None:
    """SRV-16: a connection kept for a thread that has ended is closed as soon as the store makes
    its next connection, so a thread per task never piles up open sockets."""
    store = http_store
    mine = _sockets(store)
    before: list[Any] = []
    for _ in range(5):  # five short-lived threads, one connection each
        _in_thread(store)
        assert _closed(before)  # the previous thread's, closed by this one's connecting
        opened = _sockets(store)
        assert len(opened) == 2 and mine[0] in opened  # this thread's and the one just ended
        before = [sock for sock in opened if sock is not mine[0]]


@pytest.mark.parametrize("holder", ["plain thread", "thread subclass holding the store"])
def test_a_collected_http_store_leaves_no_socket_open(served: str, holder: str) -> None:
    """SRV-16: a store dropped without close() is collected and closes its connections (no
    ``ResourceWarning: unclosed socket``), including those of threads that have ended, even a
    thread object that holds the store."""
    import gc
    import warnings
    import weakref

    class Worker(threading.Thread):
        def __init__(self, store: HttpStore) -> None:
            super().__init__()
            self.store = store

        def run(self) -> None:
            self.store.list_indexes(P)

    store = HttpStore(served)
    store.authenticate(P, K)
    worker = Worker(store) if holder != "plain thread" else threading.Thread(target=store.list_indexes, args=(P,))
    worker.start()
    worker.join()
    sockets = _sockets(store)
    assert len(sockets) == 2
    gone = weakref.ref(store)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        del store, worker
        gc.collect()
    assert gone() is None  # nothing kept it alive
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert _closed(sockets)  # closed, not merely dropped


def test_a_client_closes_the_store_it_made_and_not_one_passed_in(served: str) -> None:
    """CLD-15: close() closes a store the client resolved itself (here from a URL); a Store
    object passed as ``store=`` belongs to the caller and keeps its connections."""
    made = MossClient(P, K, store=served)
    asyncio.run(made.list_indexes())
    resolved = made.store
    assert isinstance(resolved, HttpStore)
    opened = _sockets(resolved)
    assert len(opened) == 1
    asyncio.run(made.close())
    assert _closed(opened)
    mine = HttpStore(served)
    passed = MossClient(P, K, store=mine)
    asyncio.run(passed.list_indexes())
    asyncio.run(passed.close())
    kept = _sockets(mine)
    assert len(kept) == 1 and not _closed(kept) and mine.list_indexes(P) == []
    mine.close()


def test_store_resolution_order(monkeypatch: Any, tmp_path: Any) -> None:
    explicit = MemoryStore()
    assert resolve_store(explicit) is explicit
    monkeypatch.setenv("MOSS_REF_STORE", str(tmp_path / "env"))
    chosen = resolve_store(str(tmp_path / "kw"))
    assert isinstance(chosen, DirectoryStore) and chosen.root == str(tmp_path / "kw")
    from_env = resolve_store(None)
    assert isinstance(from_env, DirectoryStore) and from_env.root == str(tmp_path / "env")
    monkeypatch.delenv("MOSS_REF_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(sys, "platform", "linux")
    default = resolve_store(None)
    assert isinstance(default, DirectoryStore) and default.root == str(tmp_path / "xdg" / "moss_ref")
    monkeypatch.setenv("MOSS_REF_STORE", "http://localhost:1")
    served = resolve_store(None)  # a URL names a moss-ref serve service (SRV-16)
    assert isinstance(served, HttpStore) and served.url == "http://localhost:1"
    assert isinstance(resolve_store("https://moss.example:8443/prefix/"), HttpStore)
    monkeypatch.delenv("MOSS_REF_STORE")
    client = MossClient(P, K)  # C-1: nothing is touched at construction
    assert not (tmp_path / "xdg").exists() and client.project_id == P
