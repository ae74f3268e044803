"""The reference target: the protocol's operations mapped onto ``moss_ref``'s synchronous core.

``ReferenceTarget`` is what ``moss-conformance run`` uses by default and what the reference driver
(:mod:`.driver`) serves. Each operation is one call into the public API (``MossClient.session_sync``
and ``SessionIndex.core`` for session operations, R-API-3; the client's coroutines for push, close
and client-side queries), and the call's outcome becomes a response:

* a return value -> ``result`` (DRV-6 shapes);
* an exception raised by the call -> ``error`` with its code and kind (DRV-7);
* a bad request (unknown op, unknown session handle) -> ``failure``.

State per case: an empty store and no sessions. The store is one ``MemoryStore`` per target whose
project is emptied at every case start, behind a wrapper that remembers keys it has already
accepted: the store hashes keys with PBKDF2 (R-ST-2), which would otherwise cost ~50 ms per
session open. A wrong key still goes to the real store and is refused there (``auth`` cases).

``MossApiTarget`` drives the same operations through the async, Moss-shaped API of any module that
exposes it (``moss_ref`` itself, or the real ``moss`` package for anyone with credentials).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Sequence
from typing import Any, Optional, cast

from .protocol import (
    ERROR_KINDS,
    FEATURES,
    PROTOCOL_VERSION,
    decode_float,
    decode_floats,
    encode_float,
    error,
    failure,
    result,
)
from .python_values import TAG, has_tags
from .python_values import decode as decode_python_values

PROJECT_ID = "conformance"
PROJECT_KEY = "conformance-key"
WRONG_KEY = "not-the-conformance-key"
DEFAULT_SESSION = "s"


class BadRequest(Exception):
    """The request cannot be performed (a driver-side failure, not a domain error)."""


def error_kind(exc: BaseException, classes: dict[str, type]) -> str:
    """The first of :data:`ERROR_KINDS` that ``exc`` is an instance of."""
    for kind in ERROR_KINDS:
        cls = classes.get(kind)
        if cls is not None and isinstance(exc, cls):
            return kind
    return "other"


def decode_filter(value: Any) -> Any:
    """A filter with every ``{"$float": ...}`` object turned into its float (DRV-5).

    Walks the filter with an explicit stack, so a filter nested deeper than Python's recursion
    limit reaches the SDK as it is (FLT-26); a container met again is its one copy, so a filter
    built in Python that shares a list, or contains itself (KIT-10), keeps that shape.
    """
    holder: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, holder, 0)]
    copies: dict[int, Any] = {}
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, (dict, list)) and id(item) in copies:
            parent[key] = copies[id(item)]
        elif isinstance(item, dict):
            decoded = decode_float(item)
            if decoded is not item:
                parent[key] = decoded
                continue
            copy: dict[Any, Any] = dict.fromkeys(item)
            parent[key] = copies[id(item)] = copy
            stack.extend((v, copy, k) for k, v in item.items())
        elif isinstance(item, list):
            items: list[Any] = [None] * len(item)
            parent[key] = copies[id(item)] = items
            stack.extend((v, items, i) for i, v in enumerate(item))
        else:
            parent[key] = item
    return holder[0]


def _float_out(x: float) -> Any:
    return encode_float(float(x)) if not math.isfinite(x) else float(x)


def _ids(ids: Any) -> Any:
    """delete_docs' ids: a JSON list copied; a Python value (KIT-10 ``raw``, ``tuple``) as it is."""
    return list(ids) if isinstance(ids, list) else ids


def _floats_out(value: Any) -> Any:
    """``value`` with every float JSON-safe (non-finite ones as ``{"$float": ...}``), tuples as lists."""
    if isinstance(value, float):
        return _float_out(value)
    if isinstance(value, dict):
        return {k: _floats_out(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_floats_out(v) for v in value]
    return value


class _AuthCache:
    """A store wrapper that skips re-hashing a key the inner store has already accepted."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._accepted: set[tuple[str, str]] = set()

    def authenticate(self, project_id: str, project_key: str) -> None:
        if (project_id, project_key) in self._accepted:
            return
        self._inner.authenticate(project_id, project_key)
        self._accepted.add((project_id, project_key))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ReferenceTarget:
    """Run protocol steps against ``moss_ref`` in this process.

    Options: ``vector_backend`` (``python``/``numpy``/``auto``; when not given, the client reads
    ``MOSS_REF_VECTOR_BACKEND``, else auto), ``keyword_backend`` (the same, with
    ``MOSS_REF_KEYWORD_BACKEND``), ``embedder`` (default ``hash-v1``, deterministic and
    fast), ``store`` (``memory``, or ``directory``: a temporary ``DirectoryStore`` for the run).
    """

    language = "python"

    def __init__(
        self,
        vector_backend: Optional[str] = None,
        embedder: str = "hash-v1",
        store: str = "memory",
        keyword_backend: Optional[str] = None,
    ) -> None:
        import moss_ref
        from moss_ref import _errors

        self._moss = moss_ref
        self.vector_backend = vector_backend  # None: the client reads MOSS_REF_VECTOR_BACKEND itself (R-V-1)
        self.keyword_backend = keyword_backend  # None: the client reads MOSS_REF_KEYWORD_BACKEND itself
        self.embedder = embedder
        self._classes: dict[str, type] = {
            "InvalidArgumentError": _errors.InvalidArgumentError,
            "MossError": _errors.MossError,
            "ValueError": ValueError,
            "TypeError": TypeError,
            "OverflowError": OverflowError,
            "RuntimeError": RuntimeError,
        }
        self._tmp: Any = None
        self.store = _AuthCache(self._make_store(store))
        self.project_id = PROJECT_ID
        self.store.authenticate(PROJECT_ID, PROJECT_KEY)  # register the project before any wrong-key case
        self._loop = asyncio.new_event_loop()
        self._clients: dict[str, Any] = {}
        self._sessions: dict[str, Any] = {}
        self._strict = False  # a "strict" case runs on strict clients (STRICT-1)

    def _make_store(self, kind: str) -> Any:
        if kind == "memory":
            from moss_ref.stores.memory import MemoryStore

            return MemoryStore()
        if kind == "directory":
            import tempfile

            from moss_ref.stores.directory import DirectoryStore

            self._tmp = tempfile.TemporaryDirectory(prefix="moss-conformance-")
            return DirectoryStore(self._tmp.name)
        raise ValueError(f"store must be 'memory' or 'directory', got {kind!r}")

    # -- the Target protocol -----------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        backend = self.vector_backend or f"{os.environ.get('MOSS_REF_VECTOR_BACKEND') or 'auto'} (from the environment)"
        keywords = self.keyword_backend or f"{os.environ.get('MOSS_REF_KEYWORD_BACKEND') or 'auto'} (from the env)"
        return {
            "protocol_version": PROTOCOL_VERSION,
            "implementation": {
                "name": "moss_ref",
                "version": self._moss.__version__,
                "language": self.language,
                "detail": f"sync core, vector_backend={backend}, keyword_backend={keywords}, embedder={self.embedder}",
            },
            "features": self._features(),
            "error_kinds": True,
        }

    def _features(self) -> list[str]:
        """Every feature; ``hash_embedder`` only when ``hash-v1`` serves the built-in model ids (KIT-8)."""
        return [f for f in FEATURES if f != "hash_embedder" or self.embedder == "hash-v1"]

    def start_case(self, name: str, features: Sequence[str]) -> dict[str, Any]:
        self.end_case()
        self._strict = "strict" in features
        for summary in self.store.list_indexes(self.project_id):
            self.store.delete_index(self.project_id, summary.name)
        return result({})

    def end_case(self) -> None:
        for client in self._clients.values():
            client.close_sync()
        self._clients.clear()
        self._sessions.clear()

    def close(self) -> None:
        self.end_case()
        self._loop.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            return failure(f"unknown op {op!r}")
        if has_tags(args):  # Python values (KIT-10): every Python target declares the feature
            try:
                args = decode_python_values(args)
            except (ValueError, TypeError, KeyError) as exc:
                return failure(f"bad {TAG} value: {exc}")
        try:
            call = handler(args)
        except BadRequest as exc:
            return failure(str(exc))
        try:
            return result(call())
        except Exception as exc:  # every exception the API raises is reported (DRV-7)
            return self.error_response(exc)

    def error_response(self, exc: BaseException) -> dict[str, Any]:
        kind = error_kind(exc, self._classes)
        code = getattr(exc, "code", None) if isinstance(exc, self._classes["MossError"]) else None
        message = str(exc) if kind != "other" else f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
        return error(code, kind, message)

    # -- plumbing ----------------------------------------------------------------------------

    def client(self, credentials: str = "default") -> Any:
        if credentials not in ("default", "wrong_key"):
            raise BadRequest(f"unknown credentials {credentials!r}")
        found = self._clients.get(credentials)
        if found is None:
            key = PROJECT_KEY if credentials == "default" else WRONG_KEY
            kwargs: dict[str, Any] = {"store": self.store, "embedder": self.embedder, "strict": self._strict}
            if self.vector_backend is not None:
                kwargs["vector_backend"] = self.vector_backend
            if self.keyword_backend is not None:
                kwargs["keyword_backend"] = self.keyword_backend
            found = self._clients[credentials] = self._moss.MossClient(self.project_id, key, **kwargs)
        return found

    def session(self, args: dict[str, Any]) -> Any:
        handle = args.get("session", DEFAULT_SESSION)
        found = self._sessions.get(handle)
        if found is None:
            raise BadRequest(f"no session {handle!r} has been opened in this case")
        return found

    def run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def document(self, raw: dict[str, Any]) -> Any:
        embedding = raw.get("embedding")
        return self._moss.DocumentInfo(
            raw["id"],
            raw["text"],
            raw.get("metadata"),
            None if embedding is None else decode_floats(embedding),
            raw.get("payload"),
        )

    def grouping(self, raw: Any) -> Any:
        if raw is None:
            return None
        return self._moss.ParentGrouping(raw.get("parent_field"), raw.get("order_field"))

    def get_options(self, args: dict[str, Any]) -> Any:
        """``GetDocumentsOptions`` from a get_docs step (None when the step sets no option)."""
        if not any(k in args for k in ("doc_ids", "filter", "sort_by", "ascending", "group_by")):
            return None
        return self._moss.GetDocumentsOptions(
            doc_ids=args.get("doc_ids"),
            filter=decode_filter(args.get("filter")),
            sort_by=args.get("sort_by"),
            ascending=args.get("ascending"),
            group_by=self.grouping(args.get("group_by")),
        )

    def query_options(self, args: dict[str, Any]) -> Any:
        options = self._query_options(args)
        assign = args.get("assign")
        if assign:  # attributes set after construction (KIT-10)
            if options is None:
                options = self._moss.QueryOptions()
            for name, value in assign.items():
                setattr(options, name, decode_floats(value))
        return options

    def _query_options(self, args: dict[str, Any]) -> Any:
        keys = ("embedding", "top_k", "alpha", "filter", "min_score", "candidate_depth", "group_by")
        if not any(k in args for k in keys):
            return None
        embedding = args.get("embedding")
        return self._moss.QueryOptions(
            embedding=None if embedding is None else decode_floats(embedding),
            top_k=args.get("top_k"),
            alpha=decode_float(args.get("alpha")),
            filter=decode_filter(args.get("filter")),
            group_by=self.grouping(args.get("group_by")),
            min_score=decode_float(args.get("min_score")),
            candidate_depth=args.get("candidate_depth"),
        )

    @staticmethod
    def doc_out(doc: Any) -> dict[str, Any]:
        return {
            "id": doc.id,
            "text": doc.text,
            "metadata": None if doc.metadata is None else dict(doc.metadata),
            "payload": doc.payload,
            "embedding": None if doc.embedding is None else [_float_out(x) for x in doc.embedding],
        }

    @staticmethod
    def hits_out(search: Any) -> dict[str, Any]:
        return {
            "query": search.query,
            "index_name": search.index_name,
            "model_id": search.model_id,
            "docs": [
                {
                    "id": d.id,
                    "text": d.text,
                    "metadata": None if d.metadata is None else dict(d.metadata),
                    "payload": d.payload,
                    "score": _float_out(d.score),
                }
                for d in search.docs
            ],
        }

    # -- operations: each returns a thunk performing the API call -----------------------------

    def op_open_session(self, args: dict[str, Any]) -> Any:
        client = self.client(args.get("credentials", "default"))
        handle = args.get("session", DEFAULT_SESSION)

        def call() -> dict[str, Any]:
            session = self.open(client, args["index"], args.get("model_id"), args.get("auto_load_on_init", True))
            self._sessions[handle] = session
            return {"name": session.name, "model_id": session.model_id, "doc_count": session.doc_count}

        return call

    def open(self, client: Any, index: str, model_id: Optional[str], auto_load: bool) -> Any:
        return client.session_sync(index, model_id, auto_load_on_init=auto_load)

    def op_add_docs(self, args: dict[str, Any]) -> Any:
        session = self.session(args)

        def call() -> dict[str, Any]:
            docs = [self.document(d) for d in args["docs"]]
            options = self._moss.MutationOptions(upsert=args["upsert"]) if "upsert" in args else None
            added, updated = session.core.add_docs(docs, options)
            return {"added": added, "updated": updated}

        return call

    def op_delete_docs(self, args: dict[str, Any]) -> Any:
        session = self.session(args)
        return lambda: {"deleted": session.core.delete_docs(_ids(args["ids"]))}

    def op_get_docs(self, args: dict[str, Any]) -> Any:
        session = self.session(args)

        def call() -> dict[str, Any]:
            return {"docs": [self.doc_out(d) for d in session.core.get_docs(self.get_options(args))]}

        return call

    def op_query(self, args: dict[str, Any]) -> Any:
        session = self.session(args)
        return lambda: self.hits_out(session.core.query(args["query"], self.query_options(args)))

    def op_explain_query(self, args: dict[str, Any]) -> Any:
        session = self.session(args)
        return lambda: self.explanation_out(session.core.explain_query(args["query"], self.query_options(args)))

    @staticmethod
    def explanation_out(explanation: Any) -> dict[str, Any]:
        """An ``Explanation`` as the protocol's ``explain_query`` result (KIT-9): its fields as data."""
        return cast("dict[str, Any]", _floats_out(explanation.to_dict()))

    def op_doc_count(self, args: dict[str, Any]) -> Any:
        session = self.session(args)
        return lambda: {"doc_count": session.doc_count}

    def op_session_info(self, args: dict[str, Any]) -> Any:
        session = self.session(args)
        return lambda: {"name": session.name, "model_id": session.model_id}

    def op_push_index(self, args: dict[str, Any]) -> Any:
        session = self.session(args)

        def call() -> dict[str, Any]:
            pushed = self.run(session.push_index())
            return {"index_name": pushed.index_name, "doc_count": pushed.doc_count, "status": pushed.status}

        return call

    def op_close_session(self, args: dict[str, Any]) -> Any:
        session = self.session(args)

        def call() -> dict[str, Any]:
            self.run(session.close())
            return {}

        return call

    def _client_method(self, name: str) -> Any:
        method = getattr(self.client(), name, None)
        if method is None:
            raise BadRequest(f"MossClient.{name} is not available in this moss_ref build")
        return method

    def op_load_index(self, args: dict[str, Any]) -> Any:
        load = self._client_method("load_index")
        return lambda: {"name": self.run(load(args["index"]))}

    def op_client_query(self, args: dict[str, Any]) -> Any:
        query = self._client_method("query")
        return lambda: self.hits_out(self.run(query(args["index"], args["query"], self.query_options(args))))

    def op_unload_index(self, args: dict[str, Any]) -> Any:
        unload = self._client_method("unload_index")

        def call() -> dict[str, Any]:
            self.run(unload(args["index"]))
            return {}

        return call


class MossApiTarget(ReferenceTarget):
    """The same operations through the async, Moss-shaped public API of ``module``.

    ``module="moss_ref"`` exercises moss_ref's facade. ``module="moss"`` is a starting point for
    running the vectors against the real SDK: credentials come from ``MOSS_PROJECT_ID`` /
    ``MOSS_PROJECT_KEY``, index names get ``index_prefix`` (make it unique per run) and the prefix
    is removed again from results. The real cloud keeps indexes between cases; clean up yourself.
    """

    def __init__(self, module: str = "moss_ref", index_prefix: str = "", **kwargs: Any) -> None:
        import importlib

        super().__init__(**kwargs)
        self._api = importlib.import_module(module)
        self._moss = self._api  # value types (DocumentInfo, QueryOptions, ...) come from the module under test
        self._module = module
        self._prefix = index_prefix
        if module != "moss_ref":
            self._classes["MossError"] = self._api.MossError
            self._classes["InvalidArgumentError"] = getattr(self._api, "InvalidArgumentError", self._api.MossError)

    def hello(self) -> dict[str, Any]:
        out = super().hello()
        out["implementation"] = {
            "name": self._module,
            "version": getattr(self._api, "__version__", "unknown"),
            "language": "python",
            "detail": "async public API",
        }
        if self._module != "moss_ref":  # another SDK embeds with its own models, not hash-v1 (KIT-8)
            out["features"] = [f for f in out["features"] if f not in ("hash_embedder", "explain")]
        return out

    def client(self, credentials: str = "default") -> Any:
        if self._module == "moss_ref":
            return super().client(credentials)
        found = self._clients.get(credentials)
        if found is None:
            key = os.environ.get("MOSS_PROJECT_KEY", "")
            if credentials == "wrong_key":
                key = key + "-wrong"
            found = self._clients[credentials] = self._api.MossClient(os.environ.get("MOSS_PROJECT_ID", ""), key)
        return found

    def end_case(self) -> None:
        for client in self._clients.values():
            self.run(client.close())
        self._clients.clear()
        self._sessions.clear()

    def _name(self, index: str) -> str:
        return self._prefix + index

    def _unname(self, name: str) -> str:
        return name[len(self._prefix) :] if self._prefix and name.startswith(self._prefix) else name

    def open(self, client: Any, index: str, model_id: Optional[str], auto_load: bool) -> Any:
        return self.run(client.session(self._name(index), model_id, auto_load_on_init=auto_load))

    def op_open_session(self, args: dict[str, Any]) -> Any:
        inner = super().op_open_session(args)

        def call() -> dict[str, Any]:
            out: dict[str, Any] = inner()
            out["name"] = self._unname(out["name"])
            return out

        return call

    def op_add_docs(self, args: dict[str, Any]) -> Any:
        session = self.session(args)

        def call() -> dict[str, Any]:
            docs = [self.document(d) for d in args["docs"]]
            options = self._api.MutationOptions(upsert=args["upsert"]) if "upsert" in args else None
            added, updated = self.run(session.add_docs(docs, options))
            return {"added": added, "updated": updated}

        return call

    def op_delete_docs(self, args: dict[str, Any]) -> Any:
        session = self.session(args)
        return lambda: {"deleted": self.run(session.delete_docs(_ids(args["ids"])))}

    def op_get_docs(self, args: dict[str, Any]) -> Any:
        session = self.session(args)

        def call() -> dict[str, Any]:
            return {"docs": [self.doc_out(d) for d in self.run(session.get_docs(self.get_options(args)))]}

        return call

    def op_query(self, args: dict[str, Any]) -> Any:
        session = self.session(args)
        return lambda: self.hits_out(self.run(session.query(args["query"], self.query_options(args))))

    def op_explain_query(self, args: dict[str, Any]) -> Any:
        session = self.session(args)
        explain = getattr(session, "explain_query", None)
        if explain is None:
            raise BadRequest(f"{self._module} sessions have no explain_query (the explain feature, KIT-9)")
        return lambda: self.explanation_out(self.run(explain(args["query"], self.query_options(args))))

    def op_push_index(self, args: dict[str, Any]) -> Any:
        inner = super().op_push_index(args)

        def call() -> dict[str, Any]:
            out: dict[str, Any] = inner()
            out["index_name"] = self._unname(out["index_name"])
            return out

        return call

    def op_load_index(self, args: dict[str, Any]) -> Any:
        load = self._client_method("load_index")
        return lambda: {"name": self._unname(self.run(load(self._name(args["index"]))))}

    def op_client_query(self, args: dict[str, Any]) -> Any:
        query = self._client_method("query")
        return lambda: self.hits_out(
            self.run(query(self._name(args["index"]), args["query"], self.query_options(args)))
        )

    def op_unload_index(self, args: dict[str, Any]) -> Any:
        unload = self._client_method("unload_index")

        def call() -> dict[str, Any]:
            self.run(unload(self._name(args["index"])))
            return {}

        return call
