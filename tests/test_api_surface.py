"""R-API-1..R-API-3, E-1..E-3: the public surface mirrors ``moss`` 1.21 names and signatures.

Every parameter the real SDK has must exist here in the same position, with the same kind and
default; moss_ref may only add keyword-only parameters with defaults (``store=``, ``embedder=``).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from helpers import client

import moss_ref
from moss_ref import InvalidArgumentError, MossClient, MossError, SessionIndex

P, K = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
E = inspect.Parameter.empty

# (owner, member, is_coroutine, [(name, kind, default), ...]) — from the moss 1.21 stubs (MOSS-BEHAVIOUR.md).
SIGNATURES: list[tuple[Any, str, bool, list[tuple[str, Any, Any]]]] = [
    (MossClient, "__init__", False, [("project_id", P, E), ("project_key", P, E), ("cache_path", K, None)]),
    (
        MossClient,
        "session",
        True,
        [
            ("index_name", P, E),
            ("model_id", P, None),
            ("artifact_version", K, None),
            ("manifest_sha256", K, None),
            ("auto_load_on_init", K, True),
        ],
    ),
    (MossClient, "close", True, []),
    (
        MossClient,
        "create_index",
        True,
        [
            ("name", P, E),
            ("docs", P, E),
            ("model_id", P, None),
            ("wait", K, True),
            ("chunker", K, None),
            ("chunking", K, None),
        ],
    ),
    (
        MossClient,
        "add_docs",
        True,
        [("name", P, E), ("docs", P, E), ("options", P, None), ("chunker", K, None), ("chunking", K, None)],
    ),
    (MossClient, "delete_docs", True, [("name", P, E), ("doc_ids", P, E)]),
    (MossClient, "get_docs", True, [("name", P, E), ("options", P, None)]),
    (MossClient, "get_index", True, [("name", P, E)]),
    (MossClient, "list_indexes", True, []),
    (MossClient, "delete_index", True, [("name", P, E)]),
    (MossClient, "get_job_status", True, [("job_id", P, E)]),
    (
        MossClient,
        "wait_for_job",
        True,
        [("job_id", P, E), ("poll_interval_seconds", K, 2.0), ("timeout_seconds", K, 1800.0)],
    ),
    (
        MossClient,
        "load_index",
        True,
        [("name", P, E), ("auto_refresh", P, False), ("polling_interval_in_seconds", P, 600), ("cache_path", P, None)],
    ),
    (MossClient, "unload_index", True, [("name", P, E)]),
    (
        MossClient,
        "load_indexes",
        True,
        [("names", P, E), ("auto_refresh", P, False), ("polling_interval_in_seconds", P, 600), ("cache_path", P, None)],
    ),
    (MossClient, "unload_indexes", True, [("names", P, E)]),
    (MossClient, "query", True, [("name", P, E), ("query", P, E), ("options", P, None)]),
    (MossClient, "query_multi_index", True, [("names", P, E), ("query", P, E), ("options", P, None)]),
    (MossClient, "was_served_stale", True, [("name", P, E)]),
    (
        MossClient,
        "create_index_from_files",
        True,
        [("name", P, E), ("files", P, E), ("model_id", P, None), ("parse_options", P, None)],
    ),
    (
        SessionIndex,
        "add_docs",
        True,
        [("docs", P, E), ("options", P, None), ("chunker", K, None), ("chunking", K, None)],
    ),
    (SessionIndex, "delete_docs", True, [("doc_ids", P, E)]),
    (SessionIndex, "get_docs", True, [("options", P, None)]),
    (SessionIndex, "query", True, [("query", P, E), ("options", P, None)]),
    (SessionIndex, "push_index", True, []),
    (SessionIndex, "save_to_disk", True, [("cache_path", P, None)]),
    (SessionIndex, "load_from_disk", True, [("cache_path", P, None), ("rebuild_legacy", K, True)]),
    (SessionIndex, "close", True, []),
    (
        moss_ref.DocumentInfo,
        "__init__",
        False,
        [("id", P, E), ("text", P, E), ("metadata", P, None), ("embedding", P, None), ("payload", P, None)],
    ),
    (
        moss_ref.QueryOptions,
        "__init__",
        False,
        [
            ("embedding", P, None),
            ("top_k", P, None),
            ("alpha", P, None),
            ("filter", P, None),
            ("group_by", P, None),
            ("min_score", P, None),
            ("candidate_depth", P, None),
        ],
    ),
    (
        moss_ref.GetDocumentsOptions,
        "__init__",
        False,
        [
            ("doc_ids", P, None),
            ("filter", P, None),
            ("sort_by", P, None),
            ("ascending", P, None),
            ("group_by", P, None),
        ],
    ),
    (moss_ref.ParentGrouping, "__init__", False, [("parent_field", P, E), ("order_field", P, E)]),
    (moss_ref.MutationOptions, "__init__", False, [("upsert", P, None)]),
    (
        moss_ref.QueryResultDocumentInfo,
        "__init__",
        False,
        [
            ("id", P, E),
            ("text", P, E),
            ("metadata", P, None),
            ("score", P, 0.0),
            ("index_name", P, None),
            ("payload", P, None),
        ],
    ),
    (
        moss_ref.SearchResult,
        "__init__",
        False,
        [("docs", P, E), ("query", P, E), ("index_name", P, None), ("time_taken_ms", P, None), ("model_id", P, None)],
    ),
    (
        moss_ref.Chunking,
        "__init__",
        False,
        [("chunk_size", P, None), ("chunk_overlap", P, None), ("mode", P, "pages"), ("markdown_header_depth", P, None)],
    ),
]


@pytest.mark.parametrize("owner, member, coroutine, expected", SIGNATURES, ids=lambda v: getattr(v, "__name__", None))
def test_signature_matches_moss(owner: Any, member: str, coroutine: bool, expected: list[tuple[str, Any, Any]]) -> None:
    fn = getattr(owner, member)
    assert inspect.iscoroutinefunction(fn) is coroutine
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    got = [(p.name, p.kind, p.default) for p in params[: len(expected)]]
    assert got == expected
    for extra in params[len(expected) :]:  # additions: keyword-only with a default, or **kwargs
        assert extra.kind in (K, inspect.Parameter.VAR_KEYWORD), extra
        assert extra.kind == inspect.Parameter.VAR_KEYWORD or extra.default is not E, extra


R_API_1_NAMES = [
    "MossClient",
    "SessionIndex",
    "DocumentInfo",
    "QueryOptions",
    "GetDocumentsOptions",
    "MutationOptions",
    "ParentGrouping",
    "SearchResult",
    "QueryResultDocumentInfo",
    "PushIndexResult",
    "MutationResult",
    "JobStatus",
    "JobPhase",
    "JobStatusResponse",
    "JobProgress",
    "JobHandle",
    "IndexInfo",
    "IndexStatus",
    "ModelRef",
    "LoadIndexesResult",
    "Chunking",
    "MossError",
    "InvalidArgumentError",
    "MossInference",
]


def test_public_names() -> None:
    assert sorted(moss_ref.__all__) == sorted(set(moss_ref.__all__))
    for name in R_API_1_NAMES:
        assert name in moss_ref.__all__ and hasattr(moss_ref, name), name
    assert MossClient.DEFAULT_MODEL_ID == "moss-minilm"


def test_session_properties_and_client_id() -> None:
    c = client()
    s = c.session_sync("idx")
    assert (s.name, s.model_id, s.doc_count) == ("idx", "moss-minilm", 0)
    assert len(c.client_id) == 36 and c.client_id != client().client_id


def test_error_tree() -> None:
    e = InvalidArgumentError("bad")
    assert (e.code, isinstance(e, ValueError), isinstance(e, RuntimeError), isinstance(e, MossError)) == (
        "INVALID_ARGUMENT",
        True,
        True,
        True,
    )
    plain = MossError("msg")
    assert (plain.code, plain.detail, str(plain)) == (None, None, "msg")
    assert InvalidArgumentError.__mro__[1:4] == (MossError, RuntimeError, ValueError)


def test_out_of_scope_members_raise_internal() -> None:
    c = client()
    for call in (lambda: c.create_index_from_files("x", ["a.pdf"]), lambda: c.create_web_source("x")):
        with pytest.raises(MossError) as info:
            asyncio.run(call())  # type: ignore[arg-type]
        assert info.value.code == "INTERNAL" and "not provided by moss_ref" in str(info.value)
    with pytest.raises(ValueError, match=r"^create_index_from_files does not support model_id='custom'"):
        asyncio.run(c.create_index_from_files("x", ["a.pdf"], "custom"))
    with pytest.raises(MossError) as info:
        moss_ref.MossInference()
    assert info.value.code == "INTERNAL"


def test_sync_core_is_reachable() -> None:
    """R-API-3: the async API is a facade; the synchronous core is public for drivers and teaching."""
    s = client().session_sync("idx", "custom")
    s.core.add_docs([moss_ref.DocumentInfo("a", "x", embedding=[1.0])])
    assert asyncio.run(s.get_docs())[0].id == "a"


def test_closed_client_refuses_out_of_scope_members_too() -> None:
    c = client()
    asyncio.run(c.close())
    for call in (lambda: c.create_index_from_files("x", ["a.pdf"]), lambda: c.create_web_source("x")):
        with pytest.raises(RuntimeError, match=r"^MossClient is closed$"):
            asyncio.run(call())  # type: ignore[arg-type]


def test_plugins_module_exports_the_plugin_contract() -> None:
    """Plugin authors import one public module; every name resolves and the protocols are the core's."""
    from moss_ref import plugins
    from moss_ref._protocols import Embedder, VectorBackend
    from moss_ref.stores.base import Store

    for name in plugins.__all__:
        assert getattr(plugins, name) is not None, name
    assert (plugins.Embedder, plugins.VectorBackend, plugins.Store) == (Embedder, VectorBackend, Store)
    assert isinstance(plugins.MemoryStore(), plugins.Store)


def test_index_status_is_shaped_like_the_real_class() -> None:
    """(observed: moss 1.21.0) str constants; ``IndexStatus(value)`` keeps ``.value``; str only."""
    from moss_ref import IndexStatus, IndexStatusValues

    assert IndexStatus.Ready == "Ready" and type(IndexStatus.Ready) is str
    assert [IndexStatus.NotStarted, IndexStatus.Building, IndexStatus.Failed] == ["NotStarted", "Building", "Failed"]
    assert IndexStatusValues == {n: n for n in ("NotStarted", "Building", "Ready", "Failed")}
    status = IndexStatus("Ready")
    assert status.value == "Ready" and IndexStatus(value="weird").value == "weird"
    assert status != IndexStatus("Ready")  # compared by identity, as the real instances are
    status.value = "Failed"
    assert status.value == "Failed"
    with pytest.raises(TypeError, match="'int' object is not an instance of 'str'"):
        IndexStatus(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        IndexStatus()  # type: ignore[call-arg]


#: moss 1.21.0's classes that Python cannot subclass (native types); the others it exports can be.
FINAL = ["Chunking", "DocumentInfo", "GetDocumentsOptions", "IndexInfo", "IndexStatus", "JobPhase", "JobProgress",
         "JobStatus", "JobStatusResponse", "LoadIndexesResult", "ModelRef", "MutationOptions", "MutationResult",
         "ParentGrouping", "PushIndexResult", "QueryOptions", "QueryResultDocumentInfo", "SearchResult"]  # fmt: skip
OPEN = ["InvalidArgumentError", "JobHandle", "MossClient", "MossError", "SessionIndex"]


@pytest.mark.parametrize("name", FINAL)
def test_value_types_cannot_be_subclassed(name: str) -> None:
    """API-7 (observed: moss 1.21.0): no subclass can override a field and bypass API-6's conversions."""
    with pytest.raises(TypeError, match=f"type 'moss_ref.{name}' is not an acceptable base type"):
        type("Sub", (getattr(moss_ref, name),), {})


@pytest.mark.parametrize("name", OPEN)
def test_clients_sessions_and_errors_can_be_subclassed(name: str) -> None:
    sub = type("Sub", (getattr(moss_ref, name),), {})
    assert issubclass(sub, getattr(moss_ref, name))
