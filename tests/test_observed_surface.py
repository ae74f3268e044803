"""The observable surface beyond results, pinned as moss 1.21.0 was seen to behave (API-1, SES-7, DOC-*).

Each test states what the real SDK did in the probes this reference was reconciled with, and
asserts moss_ref does the same (or, where a departure is recorded in departures.md, what moss_ref
does instead and that code written for moss still works with it).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from helpers import client, contents, custom_session

from moss_ref import (
    DocumentInfo,
    GetDocumentsOptions,
    InvalidArgumentError,
    MossError,
    MutationOptions,
    ParentGrouping,
    PushIndexResult,
    QueryOptions,
    QueryResultDocumentInfo,
    SearchResult,
)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- value types -------------------------------------------------------------------------------


def test_value_types_compare_and_hash_by_identity() -> None:
    """moss 1.21: two equal-looking documents are unequal; every value type is hashable."""
    values: list[object] = [
        DocumentInfo("a", "t", {"k": "v"}, [1.0], "p"),
        QueryOptions(top_k=1),
        GetDocumentsOptions(doc_ids=["a"]),
        MutationOptions(upsert=True),
        ParentGrouping("p", "o"),
        QueryResultDocumentInfo("a", "t"),
        SearchResult([], "q"),
        PushIndexResult("j", "i", 1, "completed"),
    ]
    twins: list[object] = [
        DocumentInfo("a", "t", {"k": "v"}, [1.0], "p"),
        QueryOptions(top_k=1),
        GetDocumentsOptions(doc_ids=["a"]),
        MutationOptions(upsert=True),
        ParentGrouping("p", "o"),
        QueryResultDocumentInfo("a", "t"),
        SearchResult([], "q"),
        PushIndexResult("j", "i", 1, "completed"),
    ]
    for value, twin in zip(values, twins):
        assert value == value and value != twin, type(value).__name__
        assert len({value, twin}) == 2 and {value: 1}[value] == 1


def test_document_hands_out_copies() -> None:
    """moss 1.21: mutating doc.metadata / doc.embedding changes nothing in the document."""
    doc = DocumentInfo("a", "t", {"k": "v"}, [0.5])
    doc.metadata["k"] = "changed"  # type: ignore[index]
    doc.embedding.append(2.0)  # type: ignore[union-attr]
    assert doc.metadata == {"k": "v"} and doc.embedding == [0.5]
    doc.metadata = {"x": "y"}
    doc.embedding = None
    assert (doc.metadata, doc.embedding) == ({"x": "y"}, None)


def test_query_options_hand_out_a_copy_of_the_embedding() -> None:
    """moss 1.21: ``QueryOptions.embedding`` is a new list on every read; changing it in place
    changes neither the options nor the query they make (its check and normalisation read the
    float32 values that were set, QRY-2)."""
    options = QueryOptions(embedding=[0.5, 0.25], alpha=1.0)
    first = options.embedding
    assert first == [0.5, 0.25] and options.embedding is not first
    first[0] = 1e300  # not a float32 value, and no longer a norm float32 can hold
    first.append(1.0)
    assert options.embedding == [0.5, 0.25]
    from moss_ref import MossClient
    from moss_ref.stores.memory import MemoryStore

    session = MossClient("p", "k", store=MemoryStore(), embedder="hash-v1").session_sync("idx", "custom")
    session.core.add_docs([DocumentInfo("a", "red fox", None, [1.0, 0.0]), DocumentInfo("b", "fox", None, [0.0, 1.0])])
    assert [d.id for d in session.core.query("fox", options).docs] == ["a", "b"]
    options.embedding = None
    assert options.embedding is None


def test_document_constructor_signature_defaults_and_float32() -> None:
    doc = DocumentInfo(id="a", text="t")
    assert (doc.metadata, doc.embedding, doc.payload) == (None, None, None)
    assert DocumentInfo("a", "t", None, [0.1, 0.2]).embedding == [0.10000000149011612, 0.20000000298023224]
    assert DocumentInfo("a", "t", None, (1, True)).embedding == [1.0, 1.0]  # ints and bools become floats
    nan, big = DocumentInfo("a", "t", None, [math.nan, 1e39]).embedding  # type: ignore[misc]
    assert math.isnan(nan) and big == math.inf  # accepted here, refused by add_docs (DOC-8)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'text'"):
        DocumentInfo("a")  # type: ignore[call-arg]
    for bad in [dict(id=1, text="t"), dict(id="a", text=None), dict(id="a", text="t", metadata={"k": 1})]:
        with pytest.raises(TypeError):
            DocumentInfo(**bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DocumentInfo("a", "t", None, "ab")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        doc.extra = 1  # type: ignore[attr-defined]


def test_option_defaults_are_none() -> None:
    q = QueryOptions()
    assert [q.embedding, q.top_k, q.alpha, q.filter, q.group_by, q.min_score, q.candidate_depth] == [None] * 7
    g = GetDocumentsOptions()
    assert [g.doc_ids, g.filter, g.sort_by, g.ascending, g.group_by] == [None] * 5
    assert MutationOptions().upsert is None
    assert QueryResultDocumentInfo("a", "t").score == 0.0
    r = SearchResult([], "q")
    assert (r.index_name, r.time_taken_ms, r.model_id) == (None, None, None)


def test_top_k_is_an_unsigned_64_bit_int() -> None:
    """moss 1.21: top_k=True is 1; negative and >= 2**64 overflow; a float is a TypeError."""
    assert QueryOptions(top_k=True).top_k == 1
    assert QueryOptions(top_k=2**64 - 1).top_k == 2**64 - 1
    with pytest.raises(OverflowError, match="negative"):
        QueryOptions(top_k=-1)
    with pytest.raises(OverflowError, match="too big"):
        QueryOptions(candidate_depth=2**64)
    with pytest.raises(TypeError):
        QueryOptions(top_k=1.0)  # type: ignore[arg-type]


def test_readable_reprs() -> None:
    """Departure 6: moss_ref's repr says what the value holds (moss shows an address)."""
    assert repr(DocumentInfo("a", "t", {"k": "v"}, [1.0, 2.0], "p")) == (
        "DocumentInfo(id='a', text='t', metadata={'k': 'v'}, embedding=<2 floats>, payload='p')"
    )
    assert repr(PushIndexResult("j", "i", 1, "completed")) == (
        "PushIndexResult(job_id='j', index_name='i', doc_count=1, status='completed')"
    )  # the one the compiled SDK also spells out, in this same form
    assert repr(MutationOptions()) == "MutationOptions(upsert=None)"
    assert repr(ParentGrouping("p", "o")) == "ParentGrouping(parent_field='p', order_field='o')"


# -- sessions ----------------------------------------------------------------------------------


def test_add_docs_return_values_empty_batch_and_duplicates() -> None:
    s = custom_session()
    assert s.core.add_docs([]) == (0, 0)
    assert s.core.add_docs([DocumentInfo("", "x", embedding=[1, 0]), DocumentInfo("", "y", embedding=[1, 1])]) == (
        1,
        1,
    )
    assert s.core.add_docs([DocumentInfo("", "z", embedding=[0, 1])]) == (0, 1)
    assert s.core.add_docs([DocumentInfo("", "w", embedding=[0, 1])], MutationOptions(upsert=False)) == (0, 0)
    assert s.core.delete_docs(["", "", "unknown"]) == 1
    assert s.core.delete_docs([]) == 0


def test_dict_input_coerces_ids_metadata_and_payload() -> None:
    """moss 1.21: id 5 -> "5", 1.0 -> "1.0", True -> "true", None dropped, payload 5 -> "5"; text must be str."""
    s = custom_session()
    doc = {"id": 5, "text": "t", "metadata": {"f": 1.0, "b": True, "n": None, "i": 3}, "embedding": [1, 0]}
    assert s.core.add_docs([doc]) == (1, 0)
    assert s.core.add_docs([{"id": "p", "text": "t", "payload": 5, "embedding": [1, 0]}]) == (1, 0)
    assert contents(s) == [
        ("5", "t", {"f": "1.0", "b": "true", "i": "3"}, None, [1.0, 0.0]),
        ("p", "t", None, "5", [1.0, 0.0]),
    ]
    with pytest.raises(InvalidArgumentError, match='"text" must be a string'):
        s.core.add_docs([{"id": "x", "text": 5, "embedding": [1, 0]}])
    with pytest.raises(TypeError, match="mixes dicts"):
        s.core.add_docs([DocumentInfo("a", "t", embedding=[1, 0]), {"id": "c", "text": "d"}])
    with pytest.raises(TypeError, match="got int"):
        s.core.add_docs(5)


def test_error_messages_code_may_match_on() -> None:
    s = custom_session()
    with pytest.raises(ValueError) as missing:
        s.core.add_docs([DocumentInfo("a", "x"), DocumentInfo("b", "y", embedding=[])])
    assert not isinstance(missing.value, MossError)
    assert str(missing.value).startswith("Documents missing .embedding for custom model: ['a', 'b'].")
    with pytest.raises(InvalidArgumentError) as no_vector:
        s.core.query("x")
    assert str(no_vector.value) == (
        "This session uses custom embeddings. Provide a query embedding via QueryOptions.embedding."
    )
    s.core.add_docs([DocumentInfo("a", "x", embedding=[1, 0])])
    with pytest.raises(InvalidArgumentError) as dims:
        s.core.add_docs([DocumentInfo("b", "x", embedding=[1, 0, 0])])
    assert (dims.value.code, dims.value.detail) == (
        "INVALID_ARGUMENT",
        "Invalid argument: Invalid embedding length: expected 2 but received 3.",
    )


def test_closed_session_checks_input_first_and_enters_with() -> None:
    """moss 1.21: a bad batch or argument type gets its own error before "SessionIndex is closed"."""
    s = custom_session()
    s.core.add_docs([DocumentInfo("a", "x", embedding=[1, 0])])
    run(s.close())
    run(s.close())
    assert (s.name, s.model_id) == ("idx", "custom")
    with pytest.raises(ValueError, match=r"missing \.embedding"):
        s.core.add_docs([DocumentInfo("z", "x")])
    with pytest.raises(AttributeError):
        s.core.add_docs(["not a document"])
    with pytest.raises(TypeError):
        s.core.delete_docs("a")
    with pytest.raises(TypeError):
        s.core.get_docs("junk")  # type: ignore[arg-type]
    closed = [
        lambda: s.doc_count,
        lambda: s.core.add_docs([DocumentInfo("z", "x", embedding=[1, 0, 0])]),
        lambda: s.core.add_docs([]),
        lambda: s.core.delete_docs(["a"]),
        lambda: s.core.get_docs(),
        lambda: run(s.push_index()),
    ]
    for call in closed:
        with pytest.raises(InvalidArgumentError, match=r"^SessionIndex is closed$"):
            call()
    with s:  # entering a closed session is allowed; its calls raise
        pass


def test_client_close_closes_its_sessions() -> None:
    c = client()
    s = c.session_sync("one", "custom")
    run(c.close())
    with pytest.raises(InvalidArgumentError, match="SessionIndex is closed"):
        s.core.get_docs()
    with pytest.raises(RuntimeError, match="MossClient is closed"):
        c.session_sync("two", "custom")
