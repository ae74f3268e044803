"""session(), close, context managers, push/resume over a store (CONFORMANCE.md SES-*, API-*)."""

from __future__ import annotations

import asyncio

import pytest
from helpers import client, contents

from moss_ref import DocumentInfo, InvalidArgumentError, MossClient, MossError, QueryOptions
from moss_ref.stores.memory import MemoryStore


def test_closed_session_keeps_name_and_model_only() -> None:
    s = client().session_sync("idx", "custom")
    asyncio.run(s.close())
    asyncio.run(s.close())  # idempotent
    assert (s.name, s.model_id) == ("idx", "custom")
    for call in (
        lambda: s.doc_count,
        lambda: asyncio.run(s.add_docs([])),
        lambda: asyncio.run(s.delete_docs([])),
        lambda: asyncio.run(s.get_docs()),
        lambda: asyncio.run(s.query("x", QueryOptions(embedding=[1]))),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            call()
        assert str(info.value) == "SessionIndex is closed"


def test_sync_and_async_context_managers_close() -> None:
    c = client()
    with c.session_sync("a") as s:
        asyncio.run(s.add_docs([DocumentInfo("x", "y")]))
    with pytest.raises(InvalidArgumentError):
        _ = s.doc_count

    async def run() -> None:
        async with await c.session("b") as t:
            await t.add_docs([DocumentInfo("x", "y")])
            assert t.doc_count == 1
        with pytest.raises(InvalidArgumentError):
            _ = t.doc_count

    asyncio.run(run())


def test_client_close_closes_sessions_and_refuses_calls() -> None:
    c = client()
    s = c.session_sync("a")
    asyncio.run(c.close())
    asyncio.run(c.close())
    with pytest.raises(InvalidArgumentError):
        _ = s.doc_count
    with pytest.raises(RuntimeError, match="MossClient is closed"):
        asyncio.run(c.session("a"))


def test_constructor_checks_types_only() -> None:
    MossClient("", "")  # no credential check at construction (C-1)
    with pytest.raises(TypeError):
        MossClient(None, None)  # type: ignore[arg-type]


def test_unknown_model_id() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        client().session_sync("idx", "bogus")
    assert info.value.detail == (
        "Invalid argument: Invalid model_id 'bogus'. "
        "Expected 'moss-minilm', 'moss-mediumlm', 'moss-litelm', or 'custom'."
    )


@pytest.mark.parametrize(
    "model_id, expected", [(None, "moss-minilm"), ("", "moss-minilm"), ("moss-litelm", "moss-litelm")]
)
def test_model_resolution(model_id: str | None, expected: str) -> None:
    assert client().session_sync("idx", model_id).model_id == expected


@pytest.mark.parametrize("name", ["", "  ", ".", "..", "a/b", "../x", "tab\there", "x" * 257, "é" * 129])
def test_session_applies_index_name_rule(name: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        client().session_sync(name)
    assert "index name must not be blank" in str(info.value)
    assert info.value.detail is not None and info.value.detail.startswith("Validation error: ")


@pytest.mark.parametrize("name", [" lead", "UPPER", "back\\slash", "a.b", "#?&%", "zero\u200bwidth", "x" * 256])
def test_session_accepts_unusual_but_valid_names(name: str) -> None:
    assert client().session_sync(name).name == name


def test_provenance_pair_rules() -> None:
    c = client()
    with pytest.raises(ValueError, match=r"^session\(\) requires manifest_sha256 whenever artifact_version is given"):
        c.session_sync("idx", artifact_version="1")
    with pytest.raises(ValueError, match=r"^session\(\) requires artifact_version whenever manifest_sha256 is given"):
        c.session_sync("idx", manifest_sha256="ab")
    with pytest.raises(InvalidArgumentError, match="Custom sessions cannot certify"):
        c.session_sync("idx", "custom", artifact_version="1", manifest_sha256="ab")
    assert c.session_sync("idx", artifact_version="1", manifest_sha256="ab").model_id == "moss-minilm"


def test_push_then_resume_in_new_client_adopts_model(vector_backend: str) -> None:
    store = MemoryStore()
    a = client(vector_backend, store=store).session_sync("support", "custom")
    a.core.add_docs([DocumentInfo("x", "hello", {"k": "v"}, [1, 0], "pay")])
    result = asyncio.run(a.push_index())
    assert (result.index_name, result.doc_count, result.status) == ("support", 1, "completed")
    b = client(vector_backend, store=store).session_sync("support")  # model omitted: adopt
    assert (b.model_id, b.doc_count) == ("custom", 1)
    assert contents(b) == [("x", "hello", {"k": "v"}, "pay", [1.0, 0.0])]
    assert b.core.query("hello", QueryOptions(embedding=[1, 0])).docs[0].id == "x"


def test_resume_with_other_explicit_model_raises_plain_value_error() -> None:
    store = MemoryStore()
    a = client(store=store).session_sync("support", "custom")
    a.core.add_docs([DocumentInfo("x", "hello", embedding=[1, 0])])
    asyncio.run(a.push_index())
    with pytest.raises(ValueError) as info:
        client(store=store).session_sync("support", "moss-minilm")
    assert not isinstance(info.value, MossError)
    assert str(info.value) == (
        "Existing session index 'support' uses model_id='custom', but session() was called with "
        "model_id='moss-minilm'. Omit model_id to adopt the stored model or pass the matching model_id."
    )
    assert client(store=store).session_sync("support", "custom").doc_count == 1


def test_auto_load_off_starts_empty_and_push_overwrites() -> None:
    store = MemoryStore()
    a = client(store=store).session_sync("kb")
    a.core.add_docs([DocumentInfo("old", "x")])
    asyncio.run(a.push_index())
    b = client(store=store).session_sync("kb", auto_load_on_init=False)
    assert b.doc_count == 0
    b.core.add_docs([DocumentInfo("new", "y")])
    asyncio.run(b.push_index())
    assert [d.id for d in client(store=store).session_sync("kb").core.get_docs()] == ["new"]


def test_extend_across_runs_gives_union() -> None:
    store = MemoryStore()
    for ids in (["a", "b"], ["b", "c"]):
        s = client(store=store).session_sync("kb")
        s.core.add_docs([DocumentInfo(i, f"text {i}") for i in ids])
        asyncio.run(s.push_index())
    assert [d.id for d in client(store=store).session_sync("kb").core.get_docs()] == ["a", "b", "c"]


def test_push_of_empty_session_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^No documents in session index\. Add documents before pushing\.$"):
        asyncio.run(client().session_sync("kb").push_index())


def test_push_leaves_local_session_unchanged() -> None:
    s = client().session_sync("kb")
    s.core.add_docs([DocumentInfo("a", "x")])
    before = contents(s)
    asyncio.run(s.push_index())
    assert contents(s) == before and s.doc_count == 1


def test_wrong_key_is_unauthorized_from_session() -> None:
    store = MemoryStore()
    client(store=store).session_sync("kb")
    other = MossClient("proj", "s3cr3t-other-key", store=store, embedder="hash-v1", vector_backend="python")
    with pytest.raises(MossError) as info:
        other.session_sync("kb")
    assert info.value.code == "UNAUTHORIZED"
    assert "s3cr3t" not in str(info.value) + str(info.value.detail) + repr(other)


def test_concurrent_awaits_see_whole_operations() -> None:
    s = client().session_sync("kb", "custom")

    async def writer(n: int) -> None:
        await s.add_docs([DocumentInfo(f"{n}-{i}", "t", embedding=[1, i]) for i in range(50)])

    async def reader() -> list[int]:
        counts = []
        for _ in range(20):
            r = await s.query("t", QueryOptions(embedding=[1, 0], top_k=1000))
            counts.append(len(r.docs))
            await asyncio.sleep(0)
        return counts

    async def run() -> list[int]:
        results = await asyncio.gather(reader(), *(writer(n) for n in range(5)), reader())
        return results[0] + results[-1]

    assert all(c % 50 == 0 for c in asyncio.run(run()))


def test_closed_session_load_from_disk_says_closed_whatever_is_on_disk(tmp_path: object) -> None:
    s = client().session_sync("kb")
    asyncio.run(s.close())
    with pytest.raises(InvalidArgumentError, match=r"^SessionIndex is closed$"):
        asyncio.run(s.load_from_disk(str(tmp_path)))


def test_multi_index_checks_the_query_vector_at_every_alpha_before_skipping() -> None:
    c = client()
    asyncio.run(c.create_index("full", [DocumentInfo("a", "apples")]))
    asyncio.run(c.create_index("empty", []))
    asyncio.run(c.load_indexes(["full", "empty"]))
    bad = QueryOptions(embedding=[1, 2, 3], alpha=0.0)
    for names in (["full"], ["empty"], ["full", "empty"]):
        with pytest.raises(InvalidArgumentError, match="expected 384"):
            asyncio.run(c.query_multi_index(names, "apples", bad))
    nothing = QueryOptions(embedding=[1, 2, 3], filter={"field": "k", "condition": {"$eq": "none"}})
    with pytest.raises(InvalidArgumentError, match="expected 384"):
        asyncio.run(c.query_multi_index(["full"], "apples", nothing))
    for names in (["full"], ["full", "empty"]):  # a zero vector has no norm: refused only where vectors rank
        with pytest.raises(InvalidArgumentError, match="nonzero, finite norm"):
            asyncio.run(c.query_multi_index(names, "apples", QueryOptions(embedding=[0.0] * 384, alpha=0.5)))
        found = asyncio.run(c.query_multi_index(names, "apples", QueryOptions(embedding=[0.0] * 384, alpha=0.0)))
        assert [d.id for d in found.docs] == ["a"]


@pytest.mark.parametrize(
    "docs",
    [
        ["plain text"],
        [DocumentInfo("a", "t", embedding=[1]), DocumentInfo("b", "t", embedding=[1, 2])],
    ],
    ids=["strings", "dimensions"],
)
def test_create_index_rejects_bad_documents_before_checking_credentials(docs: list[object]) -> None:
    store = MemoryStore()
    client(store=store).session_sync("register")  # the project now belongs to "key"
    intruder = MossClient("proj", "not-the-key", store=store, embedder="hash-v1", vector_backend="python")
    with pytest.raises((InvalidArgumentError, TypeError)):
        asyncio.run(intruder.create_index("y", docs))
