"""Sessions over a store: resume, adoption, push, jobs, disk snapshots (S-6..S-10, S-33, S-35, P-1..P-4).

Every test runs against both stores (``MemoryStore`` and ``DirectoryStore``).
"""

from __future__ import annotations

import asyncio
import os
import warnings
from array import array
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import STORE_KINDS, contents, store_of_kind

from moss_ref import DocumentInfo, InvalidArgumentError, JobStatus, MossClient, MossError, QueryOptions
from moss_ref._corpus import Record
from moss_ref._hash_embedder import HashEmbedder
from moss_ref._protocols import EmbedderFingerprint
from moss_ref._snapshot import ReembeddingWarning
from moss_ref.stores.base import Store, StoredIndex
from moss_ref.stores.format import child_path, path_component

P, K = "proj", "key"
DOCS = [
    DocumentInfo("a", "refund for a billing issue", {"topic": "billing"}),
    DocumentInfo("b", "pruning tomato plants", {"topic": "garden"}, payload="p-b"),
]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(params=STORE_KINDS)
def store(request: Any, tmp_path: Any) -> Iterator[Store]:
    """Every store, the HTTP one a moss-ref serve service (SRV-16)."""
    with store_of_kind(request.param, tmp_path) as s:
        yield s


def client(store: Store, key: str = K, **kw: Any) -> MossClient:
    return MossClient(P, key, store=store, embedder="hash-v1", vector_backend="python", **kw)


def test_push_then_resume_in_a_new_client(store: Store) -> None:
    """S-6, P-1: the new session holds the pushed documents with their stored vectors."""
    s = client(store).session_sync("support")
    assert run(s.add_docs(DOCS)) == (2, 0)
    pushed = run(s.push_index())
    assert (pushed.index_name, pushed.doc_count, pushed.status) == ("support", 2, "completed")
    before = run(s.query("refund", QueryOptions(top_k=2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same embedder: nothing is re-embedded
        resumed = client(store).session_sync("support")
    assert resumed.doc_count == 2 and resumed.model_id == "moss-minilm"
    assert contents(resumed) == contents(s)
    after = run(resumed.query("refund", QueryOptions(top_k=2)))
    assert [(d.id, d.score) for d in after.docs] == [(d.id, d.score) for d in before.docs]


def test_missing_index_starts_an_empty_session(store: Store) -> None:
    s = client(store).session_sync("new", "custom")
    assert (s.doc_count, s.model_id) == (0, "custom")


def test_model_adoption_and_mismatch(store: Store) -> None:
    """S-7: an omitted model adopts the stored one; an explicit different one is a plain ValueError."""
    s = client(store).session_sync("vecs", "custom")
    run(s.add_docs([DocumentInfo("x", "t", embedding=[1.0, 0.0])]))
    run(s.push_index())
    adopted = client(store).session_sync("vecs")
    assert adopted.model_id == "custom" and adopted.doc_count == 1
    assert client(store).session_sync("vecs", "custom").doc_count == 1
    c = client(store)
    with pytest.raises(ValueError) as info:
        c.session_sync("vecs", "moss-minilm")
    assert type(info.value) is ValueError
    assert str(info.value) == (
        "Existing session index 'vecs' uses model_id='custom', but session() was called with "
        "model_id='moss-minilm'. Omit model_id to adopt the stored model or pass the matching model_id."
    )
    assert not c._sessions  # S-10: nothing half-open is kept


def test_an_empty_stored_index_still_decides_the_model(store: Store) -> None:
    c = client(store)
    run(c.create_index("empty", [], "custom"))
    s = c.session_sync("empty")
    assert (s.model_id, s.doc_count) == ("custom", 0)
    with pytest.raises(ValueError):
        c.session_sync("empty", "moss-mediumlm")


def test_auto_load_off_starts_empty_and_push_overwrites(store: Store) -> None:
    """S-8, P-4."""
    s = client(store).session_sync("idx")
    run(s.add_docs(DOCS))
    run(s.push_index())
    fresh = client(store).session_sync("idx", "custom", auto_load_on_init=False)
    assert (fresh.doc_count, fresh.model_id) == (0, "custom")
    run(fresh.add_docs([DocumentInfo("only", "t", embedding=[0.5, 0.5])]))
    run(fresh.push_index())
    back = client(store).session_sync("idx")
    assert back.model_id == "custom" and [d.id for d in run(back.get_docs())] == ["only"]


def test_extend_an_index_across_runs(store: Store) -> None:
    """P-3: resume, add, push → the union, upserted by id."""
    first = client(store).session_sync("kb")
    run(first.add_docs(DOCS))
    run(first.push_index())
    second = client(store).session_sync("kb")
    assert run(second.add_docs([DocumentInfo("b", "new text for b"), DocumentInfo("c", "third")])) == (1, 1)
    assert run(second.push_index()).doc_count == 3
    third = client(store).session_sync("kb")
    assert {d.id: d.text for d in run(third.get_docs())} == {
        "a": "refund for a billing issue",
        "b": "new text for b",
        "c": "third",
    }


def test_push_of_an_empty_session_is_invalid_and_local_state_survives_a_push(store: Store) -> None:
    """S-33, R-S-2."""
    s = client(store).session_sync("idx")
    with pytest.raises(InvalidArgumentError) as info:
        run(s.push_index())
    assert str(info.value) == "No documents in session index. Add documents before pushing."
    assert store.read_index(P, "idx") is None
    run(s.add_docs(DOCS))
    docs_before = contents(s)
    run(s.push_index())
    assert contents(s) == docs_before and s.doc_count == 2


def test_push_job_is_completed_and_visible_to_other_clients(store: Store) -> None:
    """R-ST-6, P-2, T-7."""
    s = client(store).session_sync("idx")
    run(s.add_docs(DOCS))
    pushed = run(s.push_index())
    other = client(store)
    status = run(other.get_job_status(pushed.job_id))
    assert status.job_id == pushed.job_id
    assert status.status == JobStatus.COMPLETED and status.status.value == "completed"
    assert status.progress == 100.0 and status.current_phase is None and status.error is None
    assert status.completed_at is not None and status.created_at <= status.updated_at
    assert run(other.wait_for_job(pushed.job_id)) == status


def test_wrong_key_is_unauthorized_from_session(store: Store) -> None:
    client(store).session_sync("idx")  # registers the key
    c = client(store, key="wrong")
    with pytest.raises(MossError) as info:
        c.session_sync("idx")
    assert info.value.code == "UNAUTHORIZED" and not c._sessions
    with pytest.raises(MossError) as info:
        c.session_sync("idx", auto_load_on_init=False)  # credentials are checked even without a load
    assert info.value.code == "UNAUTHORIZED"


def test_vectors_from_another_embedder_are_re_embedded_with_a_warning(store: Store) -> None:
    """R-M-3."""
    other = EmbedderFingerprint("other-embedder", "7", 384, "")
    records = (Record("a", "refund for a billing issue", None, None),)
    client(store).session_sync("x", auto_load_on_init=False)  # register the key
    store.write_index(P, StoredIndex("x", "moss-minilm", other, 384, records, array("f", [1.0] + [0.0] * 383)))
    with pytest.warns(ReembeddingWarning, match="re-embedding 1 stored texts"):
        s = client(store).session_sync("x")
    expected = HashEmbedder("moss-minilm").embed_one("refund for a billing issue")
    assert s.core.corpus.vectors.get("a") == expected


def test_custom_vectors_are_never_re_embedded(store: Store) -> None:
    s = client(store).session_sync("c", "custom")
    run(s.add_docs([DocumentInfo("a", "t", embedding=[0.1, 0.2, 0.3])]))
    run(s.push_index())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = client(store).session_sync("c")
    assert run(back.get_docs())[0].embedding == run(s.get_docs())[0].embedding


# -- disk snapshots (S-35) ---------------------------------------------------------------------


def test_save_and_load_from_disk_with_an_explicit_path(store: Store, tmp_path: Any) -> None:
    s = client(store).session_sync("snap", "custom")
    run(s.add_docs([DocumentInfo("a", "t", {"m": "1"}, [1.0, 2.0], "pay")]))
    path = run(s.save_to_disk(str(tmp_path / "cache")))
    assert path == os.path.join(str(tmp_path / "cache"), "snap") and os.path.isfile(os.path.join(path, "CURRENT"))
    fresh = client(store).session_sync("snap", auto_load_on_init=False)
    assert fresh.model_id == "moss-minilm"
    assert run(fresh.load_from_disk(str(tmp_path / "cache"))) == 1
    assert fresh.model_id == "custom"  # the snapshot's model is adopted
    assert contents(fresh) == contents(s)


def test_default_snapshot_directories(store: Store, tmp_path: Any, monkeypatch: Any) -> None:
    """S-35: <client cache_path>/sessions/<project>/, else $MOSS_SESSION_CACHE_PATH, else ~/.cache/moss."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MOSS_SESSION_CACHE_PATH", raising=False)
    s = client(store).session_sync("n1", "custom")
    run(s.add_docs([DocumentInfo("a", "t", embedding=[1.0])]))
    assert run(s.save_to_disk()) == str(tmp_path / "home" / ".cache" / "moss" / "sessions" / P / "n1")
    monkeypatch.setenv("MOSS_SESSION_CACHE_PATH", str(tmp_path / "env"))
    assert run(s.save_to_disk()) == str(tmp_path / "env" / "sessions" / P / "n1")
    with_cache = client(store, cache_path=str(tmp_path / "cp"))
    s2 = with_cache.session_sync("n1", "custom")
    run(s2.add_docs([DocumentInfo("b", "t", embedding=[1.0])]))
    assert run(s2.save_to_disk()) == str(tmp_path / "cp" / "sessions" / P / "n1")
    again = with_cache.session_sync("n1", auto_load_on_init=False)
    assert run(again.load_from_disk()) == 1 and [d.id for d in run(again.get_docs())] == ["b"]


def test_project_ids_cannot_move_snapshots_out_of_the_cache(store: Store, tmp_path: Any) -> None:
    c = MossClient("../../escape", K, store=store, cache_path=str(tmp_path / "cp"), embedder="hash-v1")
    s = c.session_sync("n", "custom")
    run(s.add_docs([DocumentInfo("a", "t", embedding=[1.0])]))
    path = run(s.save_to_disk())
    assert path == os.path.join(str(tmp_path / "cp"), "sessions", path_component("../../escape"), "n")
    assert set(os.listdir(tmp_path)) <= {"cp", "store"}


def test_missing_or_corrupt_snapshot_is_deserialization_and_changes_nothing(store: Store, tmp_path: Any) -> None:
    cache = str(tmp_path / "cache")
    s = client(store).session_sync("snap")
    run(s.add_docs(DOCS))
    before = contents(s)
    with pytest.raises(MossError) as info:
        run(s.load_from_disk(cache))
    assert info.value.code == "DESERIALIZATION" and "no saved session snapshot" in str(info.value)
    assert contents(s) == before
    run(s.save_to_disk(cache))
    folder = child_path(os.path.abspath(cache), "snap")
    with open(os.path.join(folder, "CURRENT")) as f:
        version = f.read().split('"version":"')[1].split('"')[0]
    vectors = os.path.join(folder, "versions", version, "vectors.f32")
    with open(vectors, "r+b") as f:
        f.seek(5)
        f.write(b"\x00\x01")
    other = client(store).session_sync("snap", "custom", auto_load_on_init=False)
    with pytest.raises(MossError) as info:
        run(other.load_from_disk(cache))
    assert info.value.code == "DESERIALIZATION" and str(info.value).startswith("The saved session snapshot is corrupt.")
    assert (other.model_id, other.doc_count) == ("custom", 0)


def test_saving_again_replaces_the_snapshot_atomically(store: Store, tmp_path: Any) -> None:
    cache = str(tmp_path / "cache")
    s = client(store).session_sync("snap")
    run(s.add_docs(DOCS[:1]))
    run(s.save_to_disk(cache))
    run(s.add_docs(DOCS[1:]))
    run(s.save_to_disk(cache))
    back = client(store).session_sync("snap", auto_load_on_init=False)
    assert run(back.load_from_disk(cache)) == 2


def test_resume_and_load_keep_the_tie_order_of_the_pushed_session(store: Store) -> None:
    """QRY-6 across a push: snapshots keep position order, so ties break the same way after a
    resume, a load_index and a disk snapshot."""
    client = MossClient(P, K, store=store)
    session = client.session_sync("ties", "custom")
    same = [1.0, 0.0]
    session.core.add_docs([DocumentInfo(i, "tied text", embedding=same) for i in ("m", "z", "a", "q")])
    session.core.delete_docs(["z"])
    session.core.add_docs([DocumentInfo("z", "tied text", embedding=same)])  # re-added: goes last
    options = QueryOptions(embedding=same, top_k=4, alpha=1.0)
    before = [d.id for d in session.core.query("tied", options).docs]
    assert before == ["m", "a", "q", "z"]
    run(session.push_index())
    resumed = client.session_sync("ties")
    assert [d.id for d in resumed.core.query("tied", options).docs] == before
    run(client.load_index("ties"))
    assert [d.id for d in run(client.query("ties", "tied", options)).docs] == before
