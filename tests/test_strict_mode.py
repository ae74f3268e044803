"""STRICT-1: strict mode is an explicit opt-in (keyword, else MOSS_REF_STRICT), off by default."""

from __future__ import annotations

import pytest

from moss_ref import DocumentInfo, InvalidArgumentError, MossClient, QueryOptions
from moss_ref.stores.memory import MemoryStore


def test_strict_comes_from_the_keyword_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOSS_REF_STRICT", raising=False)
    assert MossClient("p", "k", store=MemoryStore()).strict is False
    monkeypatch.setenv("MOSS_REF_STRICT", "1")
    assert MossClient("p", "k", store=MemoryStore()).strict is True
    assert MossClient("p", "k", store=MemoryStore(), strict=False).strict is False
    monkeypatch.setenv("MOSS_REF_STRICT", "no")
    assert MossClient("p", "k", store=MemoryStore()).strict is False
    session = MossClient("p", "k", store=MemoryStore(), strict=True).session_sync("s", "custom")
    assert session.core.strict is True


def test_strict_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="strict must be a bool"):
        MossClient("p", "k", store=MemoryStore(), strict="yes")  # type: ignore[arg-type]


def test_strict_query_refuses_ignored_or_clamped_options() -> None:
    """QRY-4, QRY-7, QRY-9: strict mode refuses alpha outside [0, 1] or a bool, and the options a session ignores."""
    for strict in (False, True):
        session = MossClient("p", "k", store=MemoryStore(), strict=strict).session_sync("s", "custom")
        session.core.add_docs([DocumentInfo("a", "apple", embedding=[1.0, 0.0])])
        for options in (
            QueryOptions(embedding=[1.0, 0.0], alpha=1.5),
            QueryOptions(embedding=[1.0, 0.0], alpha=-0.1),
            QueryOptions(embedding=[1.0, 0.0], alpha=True),
            QueryOptions(embedding=[1.0, 0.0], min_score=0.5),
            QueryOptions(embedding=[1.0, 0.0], candidate_depth=3),
        ):
            if strict:
                with pytest.raises(InvalidArgumentError, match=r"alpha|SessionIndex\.query ignores"):
                    session.core.query("apple", options)
            else:
                assert [d.id for d in session.core.query("apple", options).docs] == ["a"]


def test_strict_refuses_an_empty_document_id() -> None:
    """DOC-5: moss 1.21 takes "" as an ordinary id; strict mode refuses it, and the batch is not applied."""
    from moss_ref import DocumentInfo, InvalidArgumentError

    strict = MossClient("p", "k", store=MemoryStore(), strict=True).session_sync("s", "custom")
    with pytest.raises(InvalidArgumentError, match=r"docs\[1\].*non-empty"):
        strict.core.add_docs([DocumentInfo("a", "x", embedding=[1, 0]), DocumentInfo("", "y", embedding=[0, 1])])
    assert strict.doc_count == 0
    lenient = MossClient("p", "k", store=MemoryStore()).session_sync("s", "custom")
    assert lenient.core.add_docs([DocumentInfo("", "y", embedding=[0, 1])]) == (1, 0)


def test_strict_covers_the_client_calls_too() -> None:
    """STRICT-1: create_index and the client's get_docs follow the client's strict mode, as sessions do."""
    import asyncio

    strict = MossClient("p", "k", store=MemoryStore(), strict=True)
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        asyncio.run(strict.create_index("i", [DocumentInfo("", "y", embedding=[0.0, 1.0])], "custom"))
    lenient = MossClient("p", "k", store=MemoryStore())
    asyncio.run(lenient.create_index("i", [DocumentInfo("", "y", embedding=[0.0, 1.0])], "custom"))
    assert [d.id for d in asyncio.run(lenient.get_docs("i"))] == [""]


def test_strict_client_query_refuses_a_bool_alpha_with_or_without_group_by() -> None:
    """STRICT-1, API-6: a bool alpha is read as 0.0/1.0 but stays marked, so a strict client query
    refuses it also when group_by (which the client drops) is set."""
    import asyncio

    from moss_ref import ParentGrouping, QueryOptions

    store = MemoryStore()
    strict = MossClient("p", "k", store=store, strict=True)
    asyncio.run(strict.create_index("i", [DocumentInfo("a", "y", embedding=[0.0, 1.0])], "custom"))
    asyncio.run(strict.load_index("i"))
    for group_by in (None, ParentGrouping("g", "o")):
        options = QueryOptions(embedding=[0.0, 1.0], alpha=True, group_by=group_by)
        with pytest.raises(InvalidArgumentError, match="bool"):
            asyncio.run(strict.query("i", "y", options))
    hits = asyncio.run(
        strict.query("i", "y", QueryOptions(embedding=[0.0, 1.0], alpha=1.0, group_by=ParentGrouping("g", "o")))
    )
    assert [d.id for d in hits.docs] == ["a"]
