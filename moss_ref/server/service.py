"""What ``moss-ref serve`` does for each request, independent of HTTP (rules SRV-* in docs/rules/service.md).

:class:`MossService` turns the wire protocol's requests (docs/wire-protocol.md) into calls on a
moss_ref store, with moss_ref's own semantics: pushes and creations are validated by a
``SessionCore`` exactly as a session would validate them, mutations go through the client's cloud
API (compare-and-swap, never lost), built-in models are embedded here with moss_ref's embedders.

Every answer is a JSON-able value or bytes; every refusal is an :class:`ApiError` carrying the HTTP
status, a message that says what was wrong, and a Moss error code. Nothing here logs a key, a
token or a capability.
"""

from __future__ import annotations

import json
import math
import threading
import warnings
from array import array
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, Final, Optional, Protocol, TypeVar

from .._client import MossClient
from .._clock import new_job_id, now_iso
from .._cloud import CloudMixin
from .._corpus import Record
from .._docs_input import mapping_to_document
from .._errors import (
    DESERIALIZATION,
    INTERNAL,
    INVALID_ARGUMENT,
    MODEL_UNAVAILABLE,
    NOT_FOUND,
    UNAUTHORIZED,
    MossError,
    internal,
)
from .._models import CUSTOM, DEFAULT_MODEL_ID, resolve_model_id
from .._names import validate_index_name
from .._protocols import Embedder, EmbedderFingerprint, VectorBackend
from .._registry import (
    create_embedder,
    create_vector_backend,
    resolve_embedder_name,
    resolve_vector_backend_name,
)
from .._session_core import SessionCore
from .._snapshot import snapshot
from .._types import DocumentInfo, MutationOptions
from ..stores.base import IndexConflict, IndexSummary, JobRecord, Store, StoredIndex, summary_of
from ..stores.wire import (
    WireError,
    decode_upload,
    document_json,
    documents_json,
    encode_index_blob,
    f32_bytes,
    fingerprint_from_json,
    job_from_json,
    job_json,
    record_json,
)
from .tokens import Grants

__all__ = ["ApiError", "MossService", "ProvisionedStore", "ServiceConfig"]

T = TypeVar("T")

#: The three downloads a ``/url`` answer names (``vectors.f32`` is a moss_ref extension).
DOWNLOADS: Final = ("index.moss", "docs.json", "vectors.f32")
_STATUS_OF_CODE: Final = {
    INVALID_ARGUMENT: 400,
    UNAUTHORIZED: 401,
    NOT_FOUND: 404,
    DESERIALIZATION: 500,
    INTERNAL: 500,
    MODEL_UNAVAILABLE: 503,
}


class ApiError(Exception):
    """A refusal: HTTP ``status``, a readable ``message``, a Moss error ``code``, extra answer keys."""

    def __init__(self, status: int, message: str, code: Optional[str] = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or {400: INVALID_ARGUMENT, 401: UNAUTHORIZED, 403: UNAUTHORIZED, 404: NOT_FOUND}.get(
            status, INTERNAL
        )
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.extra}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, INVALID_ARGUMENT)


def from_moss_error(exc: MossError) -> ApiError:
    """A moss_ref error as an answer: the code decides the status; the str is the message."""
    if isinstance(exc, IndexConflict):
        return ApiError(409, str(exc), INTERNAL, conflict={"expected": exc.expected, "found": exc.found})
    return ApiError(_STATUS_OF_CODE.get(exc.code or INTERNAL, 500), str(exc), exc.code or INTERNAL)


class ProvisionedStore(Store, Protocol):
    """A store that can refuse projects nobody provisioned (``register=False``)."""

    def authenticate(self, project_id: str, project_key: str, *, register: bool = True) -> None: ...


@dataclass(frozen=True)
class ServiceConfig:
    """How the service behaves; the ``moss-ref serve`` flags map onto these fields."""

    allow_first_use: bool = False
    token_ttl: float = 3600.0
    download_ttl: float = 600.0
    upload_ttl: float = 3600.0
    embedder: Optional[str] = None
    vector_backend: Optional[str] = None
    cache_bytes: int = 256 << 20
    test_mode: bool = False


@dataclass
class _Pending:
    """A create_index between ``init`` and ``confirm``."""

    project: str
    job_id: str
    name: str
    model_id: Optional[str]
    dimension: int
    doc_count: int
    created_at: str
    docs: Optional[list[Any]] = None

    def job(self, status: str, updated: str, completed: Optional[str], error: Optional[str]) -> JobRecord:
        return JobRecord(
            self.job_id, self.name, "create", status, self.doc_count, self.created_at, updated, completed, error
        )


@dataclass
class _Version:
    """One immutable stored version and its encodings, made once on first use."""

    index: StoredIndex
    encoded: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def size(self) -> int:
        texts = sum(len(r.text) + len(r.id) for r in self.index.records)
        return 4 * len(self.index.vectors) + texts + sum(len(b) for b in self.encoded.values())


class VersionCache:
    """(project, name, version) → :class:`_Version`, least recently used first out, within a byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple[str, str, str], _Version] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> Optional[_Version]:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str, str], index: StoredIndex) -> _Version:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                found = self._items[key] = _Version(index)
            self._items.move_to_end(key)
            self._shrink()
            return found

    def drop(self, project: str, name: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[:2] == (project, name)]:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def shrink(self) -> None:
        with self._lock:
            self._shrink()

    def _shrink(self) -> None:
        total = sum(v.size() for v in self._items.values())
        while len(self._items) > 1 and total > self.budget:
            _, oldest = self._items.popitem(last=False)
            total -= oldest.size()


class _ProjectStore:
    """The store as one project sees it: credentials already checked (by token), project fixed."""

    def __init__(self, store: Store, project: str) -> None:
        self._store = store
        self._project = project

    def _check(self, project_id: str) -> None:
        if project_id != self._project:  # defence in depth: a token reaches its own project only
            raise internal("a request tried to reach another project's data")

    def authenticate(self, project_id: str, project_key: str) -> None:
        self._check(project_id)

    def read_index(self, project_id: str, name: str) -> Optional[StoredIndex]:
        self._check(project_id)
        return self._store.read_index(project_id, name)

    def read_summary(self, project_id: str, name: str) -> Optional[IndexSummary]:
        self._check(project_id)
        return self._store.read_summary(project_id, name)

    def write_index(self, project_id: str, index: StoredIndex, expect_version: Optional[str] = None) -> StoredIndex:
        self._check(project_id)
        return self._store.write_index(project_id, index, expect_version)

    def delete_index(self, project_id: str, name: str) -> bool:
        self._check(project_id)
        return self._store.delete_index(project_id, name)

    def list_indexes(self, project_id: str) -> list[IndexSummary]:
        self._check(project_id)
        return self._store.list_indexes(project_id)

    def save_job(self, project_id: str, job: JobRecord) -> None:
        self._check(project_id)
        self._store.save_job(project_id, job)

    def read_job(self, project_id: str, job_id: str) -> Optional[JobRecord]:
        self._check(project_id)
        return self._store.read_job(project_id, job_id)


class _ServiceClient(MossClient):
    """moss_ref's client working for one project inside the service, with the service's embedders."""

    def __init__(self, service: MossService, project: str) -> None:
        super().__init__(
            project,
            "",
            store=_ProjectStore(service.store, project),
            embedder=service.config.embedder,
            vector_backend=service.config.vector_backend,
        )
        self._service = service

    def _embedder_for(self, model_id: str) -> Optional[Embedder]:
        return self._service.embedder(model_id)

    def _new_vector_backend(self) -> Any:
        return self._service.new_vector_backend()


def run_now(coro: Coroutine[Any, Any, T]) -> T:
    """Run a client coroutine that never awaits (moss_ref's cloud mutations) to its result."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a service operation tried to wait")


# -- argument checks ----------------------------------------------------------------------------------


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"{what} must be a JSON object; got {_json_type(body)}")
    return body


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _string(obj: dict[str, Any], key: str, what: str, *, optional: bool = False) -> Optional[str]:
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{what}: {key} must be a string; got {_json_type(value)}")
    return value


def _count(obj: dict[str, Any], key: str, what: str) -> int:
    value = obj.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_request(f"{what}: {key} must be an integer >= 0; got {value!r}")
    return value


def index_name(value: Any) -> str:
    if not isinstance(value, str):
        raise bad_request(f"index name must be a string; got {_json_type(value)}")
    try:
        return validate_index_name(value)
    except MossError as exc:
        raise bad_request(str(exc)) from None


def _documents(value: Any, what: str) -> list[DocumentInfo]:
    """A JSON array of document objects → documents (D-2 field rules); never a path or JSON text."""
    if not isinstance(value, list):
        raise bad_request(f"{what} must be a JSON array of documents; got {_json_type(value)}")
    out: list[DocumentInfo] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad_request(f"{what}[{i}] must be a document object; got {_json_type(item)}")
        try:
            out.append(mapping_to_document(f"{what}[{i}]", item))
        except MossError as exc:
            raise from_moss_error(exc) from None
        except (ValueError, TypeError) as exc:
            raise bad_request(str(exc)) from None
    return out


def _validated(fn: Callable[[], T]) -> T:
    """Run a validation step; what it refuses becomes a 400 naming the problem."""
    try:
        return fn()
    except MossError as exc:
        raise from_moss_error(exc) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise bad_request(str(exc)) from None


def plain_custom(raw: Any) -> Optional[tuple[tuple[Record, ...], array, int]]:  # type: ignore[type-arg]
    """The common push and upload, fast: plain JSON documents that all carry a vector.

    Every document an object with a non-empty ``str`` id, ``str`` text, ``str``-to-``str`` (or no)
    metadata, ``str`` (or no) payload and a non-empty list of numbers, all of one length and
    finite as float32: then the result — records by ascending id, the last copy of a repeated id
    winning, vectors rounded to float32 in the same order — is exactly what a custom session's
    ``add_docs`` and snapshot make of them (R-D-2, S-18, S-20), without building a session. For
    anything else None: the session itself then decides, with its own messages.
    """
    if not isinstance(raw, list) or not raw:
        return None
    latest: dict[str, tuple[Record, array]] = {}  # type: ignore[type-arg]
    dimension = 0
    for doc in raw:
        if type(doc) is not dict:
            return None
        doc_id, text, metadata, payload, embedding = (
            doc.get("id"),
            doc.get("text"),
            doc.get("metadata"),
            doc.get("payload"),
            doc.get("embedding"),
        )
        if type(doc_id) is not str or not doc_id or type(text) is not str:
            return None
        if payload is not None and type(payload) is not str:
            return None
        if metadata is not None and (
            type(metadata) is not dict or not all(type(k) is str and type(v) is str for k, v in metadata.items())
        ):
            return None
        if not isinstance(embedding, (list, array)) or not len(embedding):
            return None
        try:
            vector = array("f", embedding)
        except (TypeError, OverflowError):
            return None
        if dimension == 0:
            dimension = len(vector)
        elif len(vector) != dimension:
            return None
        # a repeated id keeps its first place with its last value: position order, as a session has it (QRY-6)
        latest[doc_id] = (Record(doc_id, text, None if metadata is None else dict(metadata), payload), vector)
    ordered = list(latest)
    vectors = array("f")
    for doc_id in ordered:
        vectors.extend(latest[doc_id][1])
    if not math.isfinite(sum(vectors)):  # any NaN or infinity makes the sum non-finite
        return None
    return tuple(latest[i][0] for i in ordered), vectors, dimension


def _carries_vector(doc: Any) -> bool:
    embedding = doc.get("embedding") if isinstance(doc, dict) else None
    return isinstance(embedding, (list, array)) and len(embedding) > 0


def _already_exists(name: str) -> ApiError:
    return ApiError(
        409,
        f"The request has an invalid argument. Index '{name}' already exists. Add documents with add_docs, or "
        "delete_index it first.",
        INVALID_ARGUMENT,
    )


def _index_not_found(name: str) -> ApiError:
    return ApiError(404, f"Index not found: {name}", NOT_FOUND)


class MossService:
    """The service's state: the store, tokens, presigned-URL grants, pending uploads, a version cache."""

    def __init__(
        self,
        store: ProvisionedStore,
        config: Optional[ServiceConfig] = None,
        *,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.store = store
        self.config = config or ServiceConfig()
        self.log = log
        self.tokens: Grants[str] = Grants(self.config.token_ttl)
        self.downloads: Grants[tuple[str, str, str]] = Grants(self.config.download_ttl)
        self.uploads: Grants[tuple[str, str]] = Grants(self.config.upload_ttl, limit=10_000)
        self.cache = VersionCache(self.config.cache_bytes)
        self.telemetry_events = 0
        self._pending: OrderedDict[tuple[str, str], _Pending] = OrderedDict()
        self._embedders: dict[str, Embedder] = {}
        self._embedder_name = resolve_embedder_name(self.config.embedder)
        self._vector_backend_name = resolve_vector_backend_name(self.config.vector_backend)
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    # -- credentials (SRV-4..SRV-6) ---------------------------------------------------------------

    def authenticate(self, body: Any) -> dict[str, Any]:
        """``POST /auth``: a project's key → a token bound to that project."""
        obj = _object(body, "auth body")
        project = _string(obj, "projectId", "auth body")
        key = _string(obj, "projectKey", "auth body")
        assert project is not None and key is not None
        try:
            self.store.authenticate(project, key, register=self.config.allow_first_use)
        except MossError as exc:
            if exc.code != UNAUTHORIZED:
                raise from_moss_error(exc) from None
            raise ApiError(401, "invalid project credentials", UNAUTHORIZED) from None
        token = self.tokens.issue(project)
        return {"token": token, "expiresIn": int(self.config.token_ttl)}

    def project_of(self, authorization: Optional[str], project_header: Optional[str]) -> str:
        """The project a bearer token is bound to; 401 when missing, unknown or expired."""
        scheme, _, token = (authorization or "").partition(" ")
        project = self.tokens.get(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if project is None:
            raise ApiError(401, "missing, unknown or expired bearer token; authenticate again", UNAUTHORIZED)
        if project_header is not None and project_header != project:
            raise ApiError(403, "x-project-id names another project than the token's", UNAUTHORIZED)
        return project

    def telemetry(self, project: str, body: Any) -> dict[str, Any]:
        """``POST /index/telemetry``: counted, never stored."""
        if isinstance(body, list):
            if not all(isinstance(e, dict) for e in body):
                raise bad_request("telemetry must be an event object or an array of event objects")
            events = len(body)
        elif isinstance(body, dict):
            events = 1
        else:
            raise bad_request(f"telemetry must be an event object or an array of them; got {_json_type(body)}")
        with self._guard:
            self.telemetry_events += events
        return {}

    # -- helpers ----------------------------------------------------------------------------------

    def client(self, project: str) -> MossClient:
        return _ServiceClient(self, project)

    def new_vector_backend(self) -> VectorBackend:
        return create_vector_backend(self._vector_backend_name)

    def embedder(self, model_id: str) -> Optional[Embedder]:
        """The service's embedder for a built-in model (one per model, shared by every request)."""
        if model_id == CUSTOM:
            return None
        with self._guard:
            found = self._embedders.get(model_id)
            if found is None:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    found = self._embedders[model_id] = create_embedder(self._embedder_name, model_id)
                for warning in caught:
                    self.log(f"note: {warning.message}")
                self.log(f"embedding {model_id} with {found.fingerprint.backend}")
            return found

    def _write_lock(self, project: str, name: str) -> threading.Lock:
        """Writes to one index are serialised inside the service (other processes still get CAS)."""
        with self._guard:
            lock = self._locks.get((project, name))
            if lock is None:
                lock = self._locks[(project, name)] = threading.Lock()
            return lock

    def _call(self, fn: Callable[[], T]) -> T:
        """A store or client call; its documented errors become answers."""
        try:
            return fn()
        except MossError as exc:
            raise from_moss_error(exc) from None

    def _save_job(self, project: str, job: JobRecord) -> None:
        self._call(lambda: self.store.save_job(project, job))

    def _record_job(self, project: str, name: str, kind: str, doc_count: int, started: str) -> JobRecord:
        done = now_iso()
        job = JobRecord(new_job_id(), name, kind, "completed", doc_count, started, done, done)
        self._save_job(project, job)
        return job

    def _image(self, name: str, model_id: str, raw: Any, fingerprint: Optional[EmbedderFingerprint]) -> StoredIndex:
        """A validated index of the JSON documents ``raw``, exactly as a session of that model makes it.

        A built-in model with a ``fingerprint`` (moss_ref's extension: a moss_ref client pushing
        vectors its own embedder made) keeps those vectors; without one the service embeds the
        texts itself, as the real service does for built-in models.
        """
        if model_id == CUSTOM or fingerprint is not None:
            plain = plain_custom(raw)
            if plain is not None:
                records, vectors, dimension = plain
                image = StoredIndex(name, CUSTOM, None, dimension, records, vectors)
            else:
                docs = _documents(raw, "docs")
                core = SessionCore(
                    name, CUSTOM, embedder=None, vector_backend_factory=self.new_vector_backend, strict=False
                )
                _validated(lambda: core.add_docs(docs))
                image = snapshot(core)
            if fingerprint is None:
                return image
            if model_id == CUSTOM:
                raise bad_request("an embedder fingerprint is only for built-in models")
            if image.doc_count and image.dimension != fingerprint.dimension:
                raise bad_request(
                    f"vectors have {image.dimension} dimensions, the embedder fingerprint says {fingerprint.dimension}"
                )
            return replace(image, model_id=model_id, embedder=fingerprint, dimension=fingerprint.dimension)
        docs = _documents(raw, "docs")
        embedder = self._call(lambda: self.embedder(model_id))
        core = SessionCore(  # the service takes what moss does; strict mode is a client-side choice (STRICT-1)
            name, model_id, embedder=embedder, vector_backend_factory=self.new_vector_backend, strict=False
        )
        _validated(lambda: core.add_docs(docs))
        return snapshot(core)

    # -- push (SRV-8) ------------------------------------------------------------------------------

    def push(self, project: str, body: Any) -> dict[str, Any]:
        """``POST /index/push``: replace the whole index with ``docs`` (one new version)."""
        started = now_iso()
        obj = _object(body, "push body")
        name = index_name(obj.get("indexName"))
        docs = obj.get("docs")
        if not isinstance(docs, list):
            raise bad_request(f"docs must be a JSON array of documents; got {_json_type(docs)}")
        model = _string(obj, "modelId", "push body", optional=True)
        try:
            fingerprint = fingerprint_from_json(obj.get("embedder"))
        except WireError as exc:
            raise bad_request(f"push body: {exc}") from None
        expect = obj.get("expectVersion")
        if expect is not None and not isinstance(expect, str):
            raise bad_request("push body: expectVersion must be a string or null")
        if model is None:
            embedded = any(isinstance(d, dict) and d.get("embedding") is not None for d in docs)
            model = CUSTOM if embedded else DEFAULT_MODEL_ID
        resolved = _validated(lambda: resolve_model_id(model))
        image = self._image(name, resolved, docs, fingerprint)
        with self._write_lock(project, name):
            published = self._call(lambda: self.store.write_index(project, image, expect))
        job = self._record_job(project, name, "push", published.doc_count, started)
        return {
            "jobId": job.job_id,
            "status": "completed",
            "indexName": name,
            "docCount": published.doc_count,
            "index": record_json(summary_of(published)),
        }

    # -- reading (SRV-7, SRV-9) -----------------------------------------------------------------------

    def record(self, project: str, name: str) -> dict[str, Any]:
        """``GET /index/<name>``: the index record (what auto-refresh polls)."""
        summary = self._call(lambda: self.store.read_summary(project, name))
        if summary is None:
            raise _index_not_found(name)
        return record_json(summary)

    def list_indexes(self, project: str) -> list[dict[str, Any]]:
        return [record_json(s) for s in self._call(lambda: self.store.list_indexes(project))]

    def _current(self, project: str, name: str) -> _Version:
        """The current version, from the cache when the manifest says it is still current."""
        summary = self._call(lambda: self.store.read_summary(project, name))
        if summary is None:
            raise _index_not_found(name)
        found = self.cache.get((project, name, summary.version))
        if found is not None:
            return found
        stored = self._call(lambda: self.store.read_index(project, name))
        if stored is None:
            raise _index_not_found(name)
        return self.cache.put((project, name, stored.version), stored)

    def urls(self, project: str, name: str, base: str) -> dict[str, Any]:
        """``GET /index/<name>/url``: presigned download URLs of one version (both downloads agree)."""
        version = self._current(project, name)
        secret = self.downloads.issue((project, name, version.index.version))
        prefix = f"{base}/blob/{secret}"
        return {
            "indexUrl": f"{prefix}/index.moss",
            "dataUrl": f"{prefix}/docs.json",
            "vectorsUrl": f"{prefix}/vectors.f32",
            "index": record_json(summary_of(version.index)),
        }

    def download(self, secret: str, kind: str) -> bytes:
        """``GET /blob/<grant>/<kind>``: no bearer token; the grant names project, index and version."""
        if kind not in DOWNLOADS:
            raise ApiError(404, f"unknown download {kind!r}; expected one of {', '.join(DOWNLOADS)}", NOT_FOUND)
        granted = self.downloads.get(secret)
        if granted is None:
            raise ApiError(404, "unknown or expired download link; request the index URLs again", NOT_FOUND)
        project, name, version_id = granted
        version = self.cache.get(granted)
        if version is None:
            stored = self._call(lambda: self.store.read_index(project, name))
            if stored is None or stored.version != version_id:
                raise ApiError(404, "the version this link named was replaced; request the index URLs again")
            version = self.cache.put(granted, stored)
        data = self._encoded(version, kind)
        self.cache.shrink()
        return data

    def _encoded(self, version: _Version, kind: str) -> bytes:
        with version.lock:
            data = version.encoded.get(kind)
            if data is None:
                data = version.encoded[kind] = _encode(version.index, kind)
            return data

    def get_docs(self, project: str, name: str, doc_ids: Optional[list[str]]) -> bytes:
        """``GET /index/<name>/docs[?docIds=a,b]``: documents with embeddings (custom indexes only)."""
        version = self._current(project, name)
        if doc_ids is None:
            data = self._encoded(version, "get_docs")
            self.cache.shrink()
            return data
        index = version.index
        position = {r.id: i for i, r in enumerate(index.records)}
        custom = index.model_id == CUSTOM
        chosen = [position[i] for i in dict.fromkeys(doc_ids) if i in position]
        docs = [document_json(index.records[i], index.vector(i).tolist() if custom else None) for i in chosen]
        return _json_bytes(docs)

    # -- the manage API (SRV-10..SRV-12) -----------------------------------------------------------------

    def add_docs(self, project: str, name: str, body: Any) -> dict[str, Any]:
        """``POST /index/<name>/docs``: add or upsert documents (the session's rules; never lost)."""
        obj = _object(body, "add_docs body")
        docs = _documents(obj.get("docs"), "docs")
        upsert = obj.get("upsert")
        if upsert is not None and not isinstance(upsert, bool):
            raise bad_request("add_docs body: upsert must be a boolean or null")
        options = None if "upsert" not in obj else MutationOptions(upsert=upsert)
        client = self.client(project)
        with self._write_lock(project, name):
            result = _validated(lambda: run_now(client.add_docs(name, docs, options)))
        return {"jobId": result.job_id, "status": "completed", "indexName": name, "docCount": result.doc_count}

    def delete_docs(self, project: str, name: str, body: Any) -> dict[str, Any]:
        """``DELETE /index/<name>/docs``: remove documents by id; unknown ids are ignored."""
        obj = _object(body, "delete_docs body")
        ids = obj.get("docIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise bad_request("delete_docs body: docIds must be an array of strings")
        client = self.client(project)
        with self._write_lock(project, name):
            result = _validated(lambda: run_now(client.delete_docs(name, ids)))
        return {"jobId": result.job_id, "status": "completed", "indexName": name, "docCount": result.doc_count}

    def delete_index(self, project: str, name: str) -> dict[str, Any]:
        with self._write_lock(project, name):
            removed = self._call(lambda: self.store.delete_index(project, name))
        self.cache.drop(project, name)
        if not removed:
            raise _index_not_found(name)
        return {"deleted": True, "name": name}

    def init_create(self, project: str, body: Any, base: str) -> dict[str, Any]:
        """``POST /index/init``: start a create_index; answer the job and a presigned upload URL."""
        obj = _object(body, "init body")
        name = index_name(obj.get("indexName"))
        model = _string(obj, "modelId", "init body", optional=True)
        if model is not None:
            _validated(lambda: resolve_model_id(model))
        dimension = _count(obj, "dimension", "init body")
        count = _count(obj, "docCount", "init body")
        if self._call(lambda: self.store.read_summary(project, name)) is not None:
            raise _already_exists(name)
        stamp = now_iso()
        pending = _Pending(project, new_job_id(), name, model, dimension, count, stamp)
        self._save_job(project, JobRecord(pending.job_id, name, "create", "pending_upload", count, stamp, stamp, None))
        with self._guard:
            self._pending[(project, pending.job_id)] = pending
            while len(self._pending) > 10_000:
                self._pending.popitem(last=False)
        secret = self.uploads.issue((project, pending.job_id))
        return {"jobId": pending.job_id, "presignedUrl": f"{base}/upload/{secret}"}

    def upload(self, secret: str, data: bytes) -> dict[str, Any]:
        """``PUT /upload/<grant>``: the documents and vectors of a pending create_index (no bearer)."""
        granted = self.uploads.get(secret)
        with self._guard:
            pending = None if granted is None else self._pending.get(granted)
        if pending is None:
            raise ApiError(404, "unknown or expired upload link", NOT_FOUND)
        try:
            docs, vectors, dimension = decode_upload(data)
        except WireError as exc:
            raise bad_request(str(exc)) from None
        if len(docs) != pending.doc_count or (pending.dimension and dimension != pending.dimension):
            raise bad_request(
                f"upload holds {len(docs)} documents of dimension {dimension}; init announced {pending.doc_count} "
                f"of dimension {pending.dimension}"
            )
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict):
                raise bad_request(f"upload document {i} must be an object")
            if dimension:
                doc["embedding"] = vectors[i * dimension : (i + 1) * dimension]
        pending.docs = docs
        self.uploads.revoke(secret)
        stamp = now_iso()
        self._save_job(pending.project, pending.job("uploading", stamp, None, None))
        return {}

    def confirm(self, project: str, job_id: str) -> dict[str, Any]:
        """``POST /index/<job>/confirm``: build the uploaded index (embedding built-in models here)."""
        with self._guard:
            pending = self._pending.get((project, job_id))
        if pending is None:
            raise ApiError(404, f"Job not found: {job_id} (no create_index waits for confirmation)", NOT_FOUND)
        if pending.docs is None:
            raise bad_request(f"job {job_id}: nothing was uploaded yet; PUT the documents to the upload URL first")
        try:
            if pending.model_id in (None, CUSTOM) and pending.docs and all(_carries_vector(d) for d in pending.docs):
                model = CUSTOM  # every document carries a vector: C-6 resolves to custom, C-7 holds
            else:
                docs = _documents(pending.docs, "uploaded docs")
                model = _validated(lambda: CloudMixin._create_model(pending.model_id, docs))
            image = self._image(pending.name, model, pending.docs, None)
            with self._write_lock(project, pending.name):
                try:
                    self.store.write_index(project, image, expect_version="")
                except IndexConflict:
                    raise _already_exists(pending.name) from None
                except MossError as exc:
                    raise from_moss_error(exc) from None
        except ApiError as exc:
            self._finish(pending, "failed", exc.message)
            raise
        self._finish(pending, "completed", None)
        return {"jobId": job_id, "status": "completed"}

    def _finish(self, pending: _Pending, status: str, error: Optional[str]) -> None:
        with self._guard:
            self._pending.pop((pending.project, pending.job_id), None)
        stamp = now_iso()
        self._save_job(pending.project, pending.job(status, stamp, stamp, error))

    # -- jobs (SRV-12) -------------------------------------------------------------------------------

    def job_status(self, project: str, job_id: str) -> dict[str, Any]:
        """``GET /index/<job>/status``."""
        job = self._call(lambda: self.store.read_job(project, job_id))
        if job is None:
            raise ApiError(404, f"Job not found: {job_id}", NOT_FOUND)
        return job_json(job)

    def save_job(self, project: str, job_id: str, body: Any) -> dict[str, Any]:
        """``PUT /index/<job>/status`` (moss_ref extension): a moss_ref client records its job."""
        try:
            job = job_from_json(body, job_id)
        except WireError as exc:
            raise bad_request(str(exc)) from None
        _validated(lambda: self.store.save_job(project, job))
        return job_json(job)

    # -- test mode -----------------------------------------------------------------------------------

    def reset(self) -> dict[str, Any]:
        """``POST /_moss_ref/reset`` (``--test-mode`` only): delete every index of every project."""
        projects: list[str] = list(getattr(self.store, "list_projects", list)())
        removed = 0
        for project in projects:
            for summary in self.store.list_indexes(project):
                removed += self.store.delete_index(project, summary.name)
        self.cache.clear()
        return {"deleted_indexes": removed}

    def stats(self) -> dict[str, Any]:
        return {"telemetry_events": self.telemetry_events, "tokens": len(self.tokens)}


# -- encodings ---------------------------------------------------------------------------------------


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _encode(index: StoredIndex, kind: str) -> bytes:
    custom = index.model_id == CUSTOM
    if kind == "docs.json":
        return documents_json(index.records)
    if kind == "vectors.f32":
        return f32_bytes(index.vectors)
    if kind == "get_docs":
        return _json_bytes(
            [document_json(r, index.vector(i).tolist() if custom else None) for i, r in enumerate(index.records)]
        )
    assert kind == "index.moss"
    fp = index.embedder
    return encode_index_blob(
        {
            "name": index.name,
            "version": index.version,
            "model": {"id": index.model_id, "version": "" if fp is None else f"{fp.backend}:{fp.version}"},
            "dimension": index.dimension or 0,
            "embeddings": [index.vector(i).tolist() for i in range(index.doc_count)],
            "docIds": [r.id for r in index.records],
        }
    )
