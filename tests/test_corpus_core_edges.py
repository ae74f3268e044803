"""Session-core behaviour no language-neutral vector can reach (issue 11, the mutants of _session_core.py).

The conformance vectors drive sessions through the protocol; these reach the core from Python:
the explain extension (EXPL-1), the clock behind ``time_taken_ms``, and the cores the client
builds for cloud calls.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

import moss_ref._session_core as session_core
from moss_ref import DocumentInfo, InvalidArgumentError, MossClient, QueryOptions
from moss_ref.stores.memory import MemoryStore


def client(**kw: object) -> MossClient:
    return MossClient("p", "k", store=MemoryStore(), vector_backend="python", **kw)  # type: ignore[arg-type]


def hashed() -> MossClient:
    """A client whose built-in model embeds with hash-v1 (no model files needed)."""
    return MossClient("p", "k", store=MemoryStore(), embedder="hash-v1", vector_backend="python")


def test_explain_query_on_a_closed_session_says_closed() -> None:
    """R-S-3 holds for the explain extension as for query (EXPL-1: it validates as query does)."""
    session = client().session_sync("kb", "custom")
    asyncio.run(session.add_docs([DocumentInfo("a", "apple", embedding=[1.0, 0.0])]))
    asyncio.run(session.close())
    with pytest.raises(InvalidArgumentError, match="closed"):
        asyncio.run(session.explain_query("apple", QueryOptions(embedding=[1.0, 0.0])))


def test_explain_query_embeds_the_text_of_a_built_in_model_session() -> None:
    """EXPL-1 on a built-in model: explain embeds the query text as query does, same hits in the same order."""
    session = hashed().session_sync("kb")
    docs = [DocumentInfo("a", "apple pie"), DocumentInfo("b", "banana bread"), DocumentInfo("c", "apple cake")]
    asyncio.run(session.add_docs(docs))
    result = asyncio.run(session.query("apple", QueryOptions(top_k=3)))
    explanation = asyncio.run(session.explain_query("apple", QueryOptions(top_k=3)))
    assert [h.id for h in explanation.hits] == [d.id for d in result.docs]


def test_time_taken_ms_is_the_elapsed_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """time_taken_ms is the query's wall-clock time in whole milliseconds (R-S rules: an int)."""
    session = client().session_sync("kb", "custom")
    asyncio.run(session.add_docs([DocumentInfo("a", "apple", embedding=[1.0, 0.0])]))
    readings = iter([1000.0, 1010.0])
    monkeypatch.setattr(session_core, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    result = asyncio.run(session.query("apple", QueryOptions(embedding=[1.0, 0.0])))
    assert result.time_taken_ms == 10_000


def test_create_index_takes_an_empty_id_outside_strict_mode() -> None:
    """As in moss 1.21 an empty id is an ordinary id; only strict mode refuses it (STRICT-1) — cloud calls too."""
    c = client()
    asyncio.run(c.create_index("kb", [DocumentInfo("", "apple", embedding=[1.0, 0.0])], "custom"))
    assert [d.id for d in asyncio.run(c.get_docs("kb"))] == [""]


def test_load_from_disk_adopts_the_snapshot_model_custom(tmp_path: object) -> None:
    """S-35: a built-in model session loading a custom snapshot becomes custom (its model id and its rules)."""
    saved = client().session_sync("snap", "custom")
    asyncio.run(saved.add_docs([DocumentInfo("a", "apple", embedding=[1.0, 0.0])]))
    asyncio.run(saved.save_to_disk(str(tmp_path)))
    fresh = hashed().session_sync("snap", auto_load_on_init=False)
    assert fresh.model_id != "custom"
    assert asyncio.run(fresh.load_from_disk(str(tmp_path))) == 1
    assert fresh.model_id == "custom"
    result = asyncio.run(fresh.query("apple", QueryOptions(embedding=[1.0, 0.0])))
    assert [d.id for d in result.docs] == ["a"] and result.model_id is None


def test_load_from_disk_adopts_the_snapshot_model_built_in(tmp_path: object) -> None:
    """S-35: a custom session loading a built-in model snapshot embeds query texts with that model."""
    saved = hashed().session_sync("snap")
    asyncio.run(saved.add_docs([DocumentInfo("a", "apple pie"), DocumentInfo("b", "banana bread")]))
    asyncio.run(saved.save_to_disk(str(tmp_path)))
    fresh = hashed().session_sync("snap", "custom", auto_load_on_init=False)
    assert asyncio.run(fresh.load_from_disk(str(tmp_path))) == 2
    assert fresh.model_id == saved.model_id
    result = asyncio.run(fresh.query("banana bread", QueryOptions(top_k=1)))
    assert [d.id for d in result.docs] == ["b"]


class Sub(str):
    """A str subclass: the metadata index leaves documents holding one to document-by-document evaluation."""

    __slots__ = ()


SUB_STEPS: list[tuple[str, str, object]] = [
    ("add", "p", {"c": "x"}),
    ("add", "v", {"c": Sub("x")}),
    ("add", "f", {Sub("c"): "x"}),
    ("add", "b", {Sub("c"): Sub("x")}),
    ("delete", "v", None),
    ("delete", "f", None),
    ("add", "v2", {"c": Sub("x"), "d": "y"}),
    ("delete", "p", None),
    ("add", "f", {Sub("c"): "x"}),
    ("delete", "b", None),
    ("add", "p", {"c": "x"}),
    ("delete", "v2", None),
    ("add", "v", {"c": "y"}),
    ("delete", "f", None),
]
#: Short sequences from an empty session: a plain document and a str-subclass one, the other added and deleted.
SUB_SHORT: list[list[tuple[str, str, object]]] = [
    [("add", "s", {"c": Sub("x")}), ("add", "q", {"c": "x"}), ("delete", "q", None)],
    [("add", "p", {"c": "x"}), ("add", "g", {Sub("c"): "x"}), ("delete", "g", None)],
    [("add", "p", {"c": "x"}), ("add", "h", {"c": Sub("x")}), ("delete", "h", None)],
]
SUB_FILTERS: list[dict[str, object]] = [
    {"field": "c", "condition": {"$eq": "x"}},
    {"field": "c", "condition": {"$in": ["x", "y"]}},
    {"$or": [{"field": "c", "condition": {"$eq": "x"}}, {"field": "d", "condition": {"$eq": "y"}}]},
    {"$and": [{"field": "c", "condition": {"$eq": "x"}}, {"field": "c", "condition": {"$ne": "z"}}]},
]


@pytest.mark.parametrize("steps", [SUB_STEPS, *SUB_SHORT])
def test_filters_answer_every_document_when_metadata_holds_str_subclasses(steps: list[tuple[str, str, object]]) -> None:
    """A filtered query finds exactly the documents the filter matches (FLT-29), after every add and delete,
    also while documents whose metadata keys or values are str subclasses come and go."""
    from moss_ref._filters import compile_filter

    session = client().session_sync("kb", "custom")
    stored: dict[str, object] = {}
    for n, (op, doc_id, metadata) in enumerate(steps):
        if op == "add":
            doc = DocumentInfo(doc_id, "plain words", metadata=metadata, embedding=[1.0, 0.0])  # type: ignore[arg-type]
            asyncio.run(session.add_docs([doc]))
            stored[doc_id] = metadata
        else:
            asyncio.run(session.delete_docs([doc_id]))
            del stored[doc_id]
        for flt in SUB_FILTERS:
            want = {i for i, md in stored.items() if compile_filter(flt).matches(md)}  # type: ignore[arg-type]
            result = asyncio.run(session.query("", QueryOptions(embedding=[1.0, 0.0], top_k=20, filter=flt)))
            assert {d.id for d in result.docs} == want, (n, op, doc_id, flt)
