"""``HttpStore``: a ``moss-ref serve`` service as moss_ref's store (``MOSS_REF_STORE=http://host:port``).

It speaks the wire protocol the real SDK speaks (docs/wire-protocol.md), so moss_ref clients and
real-SDK clients share indexes through one service: ``POST /auth`` for a token, ``GET
/index/<name>`` for a summary, ``GET /index/<name>/url`` and the two presigned downloads for a
whole version, ``POST /index/push`` to publish, ``DELETE /index/<name>``, ``GET /index/`` and the
job records. Three moss_ref extensions, all extra JSON keys or one extra download, carry what the
SDK's protocol has no field for: the embedder fingerprint and an expected version (compare-and-
swap) in a push, the job kind in job records, and the vectors as raw float32 (``vectorsUrl``)
instead of JSON numbers.

Standard library only (``http.client``, one keep-alive connection per thread and host).
``close()`` closes every thread's connections at once (the client that made the store calls it,
CLD-15), and so does the store's collection; a request after ``close()`` opens a new one. The key
is kept in memory to renew expired tokens; it is never logged and ``repr`` shows only the URL.
Failures map to moss_ref's errors: unreachable → ``NETWORK``, 401/403 → ``UNAUTHORIZED``, a 409
conflict → ``IndexConflict``, undecodable answers → ``DESERIALIZATION``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import time
import weakref
from array import array
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final, Optional, TypeVar
from urllib.parse import quote, urlsplit

from .._errors import (
    DESERIALIZATION,
    INTERNAL,
    NETWORK,
    UNAUTHORIZED,
    InvalidArgumentError,
    MossError,
    deserialization,
    unauthorized,
)
from .base import IndexConflict, IndexSummary, JobRecord, StoredIndex
from .wire import (
    WireError,
    document_json,
    f32_from_bytes,
    fingerprint_json,
    job_from_json,
    job_json,
    records_from_json,
    summary_from_json,
)

__all__ = ["HttpStore"]

T = TypeVar("T")

UNREACHABLE: Final = "The Moss service could not be reached."
#: Renew a token this many seconds before the service says it expires.
RENEW_MARGIN: Final = 30.0


class _Answer:
    __slots__ = ("data", "status")

    def __init__(self, status: int, data: bytes) -> None:
        self.status = status
        self.data = data

    def json(self, what: str) -> Any:
        try:
            return json.loads(self.data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise deserialization(f"{what}: the service's answer is not JSON: {exc}") from None


class HttpStore:
    """The store behind ``url`` (``http://host:port``, optionally with a path prefix)."""

    def __init__(self, url: str, *, timeout: float = 120.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"store URL {url!r}: expected http://host:port or https://host:port")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._prefix = parts.path.rstrip("/")
        self._origin = (parts.scheme, parts.netloc)
        self._tokens: dict[str, tuple[str, bytes, float]] = {}  # project -> (token, key digest, expires at)
        self._keys: dict[str, tuple[str, bytes]] = {}  # project -> the key (and digest) its token came from
        self._lock = threading.Lock()
        self._local = threading.local()
        # Every pooled connection, by the pool (one per thread) that holds it: close() and the
        # store's collection close them all; a pool is referenced weakly, so one that went with
        # its thread (thread-local storage) has its connections closed when the next is made.
        # ``_generation`` tells a thread its pool was closed since it last looked; a connection
        # in ``_busy`` is in use, and closed by its own thread once its request is over.
        self._open: dict[int, tuple[weakref.ref[_Pool], list[http.client.HTTPConnection]]] = {}
        self._busy: set[http.client.HTTPConnection] = set()
        self._generation = 0
        self._finalizer = weakref.finalize(self, _close_all, self._open)

    def __repr__(self) -> str:
        return f"HttpStore({self.url!r})"

    # -- HTTP ------------------------------------------------------------------------------------

    def _connection(self, scheme: str, netloc: str, fresh: bool = False) -> http.client.HTTPConnection:
        local = self._local
        pool: Optional[_Pool] = getattr(local, "pool", None)
        if pool is None or local.generation != self._generation:  # new thread, or close() since
            pool = local.pool = _Pool()
            local.generation = self._generation
        conn = pool.get((scheme, netloc))
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            made = cls(netloc, timeout=self.timeout)
            with self._lock:
                ended = {key: self._open.pop(key) for key, (ref, _) in list(self._open.items()) if ref() is None}
                entry = self._open.get(id(pool))
                if entry is None:
                    entry = self._open[id(pool)] = (weakref.ref(pool), [])
                if conn is not None and conn in entry[1]:
                    entry[1].remove(conn)
                entry[1].append(made)
            _close_all(ended)  # their pools went with their threads: nobody uses them any more
            conn = pool[(scheme, netloc)] = made
        return conn

    def close(self) -> None:
        """Close every thread's keep-alive connections (idempotent); one in use by a request is
        closed by its thread when the request is over. The store stays usable: a later request
        opens a new connection."""
        with self._lock:
            self._generation += 1
            idle = [conn for _, conns in self._open.values() for conn in conns if conn not in self._busy]
        for conn in idle:
            conn.close()

    def _send(self, method: str, target: str, body: Optional[bytes], headers: dict[str, str]) -> _Answer:
        """One request; a reused connection the service closed meanwhile is retried once, fresh."""
        parts = urlsplit(target)
        origin = (parts.scheme, parts.netloc) if parts.scheme else self._origin
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "") if parts.scheme else target
        for attempt in (0, 1):
            conn = self._connection(*origin, fresh=attempt == 1)
            generation = self._local.generation
            with self._lock:
                self._busy.add(conn)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                return _Answer(response.status, data)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                if attempt == 1:
                    raise self._unreachable(exc) from None
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                conn.close()
                raise self._unreachable(exc) from None
            finally:
                with self._lock:
                    self._busy.discard(conn)
                    closed = generation != self._generation  # close() ran meanwhile and left it open
                if closed:
                    conn.close()
        raise AssertionError("unreachable")

    def _unreachable(self, exc: BaseException) -> MossError:
        detail = f"{self.url}: {type(exc).__name__}: {exc}"
        return MossError(f"{UNREACHABLE} {detail}", NETWORK, detail)

    def _call(
        self, method: str, path: str, project: Optional[str], payload: Any = None, *, raw: Optional[bytes] = None
    ) -> _Answer:
        """A request to the service; with ``project``, authenticated by its token (renewed on 401)."""
        body = raw if raw is not None else (None if payload is None else _dumps(payload))
        for attempt in (0, 1):
            headers = {"Accept": "*/*"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            if project is not None:
                headers["Authorization"] = f"Bearer {self._token(project, renew=attempt == 1)}"
                headers["x-project-id"] = project
            answer = self._send(method, self._prefix + path, body, headers)
            if answer.status == 401 and project is not None and attempt == 0 and project in self._keys:
                continue  # the token expired or the service restarted: authenticate again, once
            return answer
        raise AssertionError("unreachable")

    def _refusal(self, answer: _Answer, what: str) -> MossError:
        """The service's error answer as moss_ref's error."""
        try:
            body = json.loads(answer.data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = {}
        body = body if isinstance(body, dict) else {}
        message = str(body.get("error") or f"HTTP {answer.status}")
        code = body.get("code") if isinstance(body.get("code"), str) else None
        detail = f"{what}: {message}"
        if answer.status in (401, 403):
            return unauthorized(detail)
        if answer.status == 409 and isinstance(body.get("conflict"), dict):
            conflict = body["conflict"]
            return IndexConflict(str(body.get("name", what)), str(conflict.get("expected")), str(conflict.get("found")))
        if 400 <= answer.status < 500:
            return InvalidArgumentError(f"The Moss service rejected the request as invalid. {detail}", detail=detail)
        if answer.status in (502, 503, 504):
            return MossError(f"{UNREACHABLE} {detail}", NETWORK, detail)
        if code == DESERIALIZATION:
            return deserialization(detail)
        return MossError(f"An internal error occurred. {detail}", code or INTERNAL, detail)

    # -- credentials -------------------------------------------------------------------------------

    def authenticate(self, project_id: str, project_key: str) -> None:
        """A token for ``project_id`` (cached until shortly before it expires); wrong key → UNAUTHORIZED."""
        if not isinstance(project_id, str) or not isinstance(project_key, str):
            raise TypeError("project_id and project_key must be str")
        digest = hmac.new(b"moss_ref.HttpStore", project_key.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        with self._lock:
            known = self._tokens.get(project_id)
        if known is not None and hmac.compare_digest(known[1], digest) and time.monotonic() < known[2]:
            return
        self._authenticate(project_id, project_key, digest)

    def _authenticate(self, project_id: str, project_key: str, digest: bytes) -> str:
        answer = self._call("POST", "/auth", None, {"projectId": project_id, "projectKey": project_key})
        if answer.status in (401, 403):
            raise unauthorized(f"wrong project key for project {project_id!r}")
        if answer.status != 200:
            raise self._refusal(answer, "authenticate")
        body = answer.json("authenticate")
        token, expires = (body.get("token"), body.get("expiresIn")) if isinstance(body, dict) else (None, None)
        if not isinstance(token, str) or isinstance(expires, bool) or not isinstance(expires, (int, float)):
            raise deserialization("authenticate: expected {token, expiresIn}")
        with self._lock:
            self._tokens[project_id] = (token, digest, time.monotonic() + max(1.0, float(expires) - RENEW_MARGIN))
            self._keys[project_id] = (project_key, digest)
        return token

    def _token(self, project_id: str, renew: bool = False) -> str:
        with self._lock:
            known = self._tokens.get(project_id)
            key = self._keys.get(project_id)
        if known is not None and not renew and time.monotonic() < known[2]:
            return known[0]
        if key is None:
            raise MossError(
                "The project credentials were rejected.", UNAUTHORIZED, f"project {project_id!r} is not authenticated"
            )
        return self._authenticate(project_id, *key)

    # -- indexes -------------------------------------------------------------------------------------

    @staticmethod
    def _index_path(name: str, suffix: str = "") -> str:
        return f"/index/{quote(name, safe='')}{suffix}"

    def read_summary(self, project_id: str, name: str) -> Optional[IndexSummary]:
        answer = self._call("GET", self._index_path(name), project_id)
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise self._refusal(answer, f"get index {name!r}")
        return _decoded(lambda: summary_from_json(answer.json("index record")), "index record")

    def read_index(self, project_id: str, name: str) -> Optional[StoredIndex]:
        """One whole version: the service names it in ``/url``, both downloads come from it."""
        answer = self._call("GET", self._index_path(name, "/url"), project_id)
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise self._refusal(answer, f"index URLs of {name!r}")
        urls = answer.json("index URLs")
        if not isinstance(urls, dict) or not all(isinstance(urls.get(k), str) for k in ("dataUrl", "vectorsUrl")):
            raise deserialization("index URLs: expected dataUrl and vectorsUrl (is this a moss-ref serve service?)")
        summary = _decoded(lambda: summary_from_json(urls.get("index")), "index URLs")
        docs = self._send("GET", urls["dataUrl"], None, {"Accept": "*/*"})
        vectors = self._send("GET", urls["vectorsUrl"], None, {"Accept": "*/*"})
        for download in (docs, vectors):
            if download.status != 200:
                raise self._refusal(download, f"download of index {name!r}")
        records = _decoded(lambda: records_from_json(docs.json("documents"), "documents"), "documents")
        values = _decoded(lambda: f32_from_bytes(vectors.data, "vectors"), "vectors")
        dimension = summary.dimension
        if len(records) != summary.doc_count or len(values) != (dimension or 0) * len(records):
            raise deserialization(
                f"index {name!r}: {len(records)} documents and {len(values)} vector values for "
                f"{summary.doc_count} x {dimension}"
            )
        return StoredIndex(
            summary.name,
            summary.model_id,
            summary.embedder,
            dimension,
            records,
            values,
            version=summary.version,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
            index_id=summary.index_id,
        )

    def write_index(self, project_id: str, index: StoredIndex, expect_version: Optional[str] = None) -> StoredIndex:
        body = {
            "indexName": index.name,
            "modelId": index.model_id,
            "embedder": fingerprint_json(index.embedder),
            "expectVersion": expect_version,
            "docs": [document_json(r, index.vector(i).tolist()) for i, r in enumerate(index.records)],
        }
        answer = self._call("POST", "/index/push", project_id, body)
        if answer.status == 409:
            refusal = self._refusal(answer, index.name)
            if isinstance(refusal, IndexConflict):
                raise IndexConflict(index.name, refusal.expected, refusal.found)
            raise refusal
        if answer.status != 200:
            raise self._refusal(answer, f"push of index {index.name!r}")
        pushed = answer.json("push")
        summary = _decoded(lambda: summary_from_json(pushed.get("index") if isinstance(pushed, dict) else None), "push")
        return replace(
            index,
            vectors=array("f", index.vectors),
            dimension=summary.dimension,
            version=summary.version,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
            index_id=summary.index_id,
        )

    def delete_index(self, project_id: str, name: str) -> bool:
        answer = self._call("DELETE", self._index_path(name), project_id)
        if answer.status == 404:
            return False
        if answer.status != 200:
            raise self._refusal(answer, f"delete index {name!r}")
        return True

    def list_indexes(self, project_id: str) -> list[IndexSummary]:
        answer = self._call("GET", "/index/", project_id)
        if answer.status != 200:
            raise self._refusal(answer, "list indexes")
        listed = answer.json("index list")
        if not isinstance(listed, list):
            raise deserialization("index list: expected a JSON array")
        summaries: list[IndexSummary] = []
        for item in listed:
            try:
                summaries.append(summary_from_json(item))
            except WireError as exc:
                raise deserialization(f"index list: {exc}") from None
        return sorted(summaries, key=lambda s: s.name)

    # -- jobs ----------------------------------------------------------------------------------------

    def save_job(self, project_id: str, job: JobRecord) -> None:
        answer = self._call("PUT", f"/index/{quote(job.job_id, safe='')}/status", project_id, job_json(job))
        if answer.status != 200:
            raise self._refusal(answer, f"save job {job.job_id!r}")

    def read_job(self, project_id: str, job_id: str) -> Optional[JobRecord]:
        if not isinstance(job_id, str) or not job_id:
            return None
        answer = self._call("GET", f"/index/{quote(job_id, safe='')}/status", project_id)
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise self._refusal(answer, f"job {job_id!r}")
        return _decoded(lambda: job_from_json(answer.json("job record"), job_id), "job record")


class _Pool(dict[tuple[str, str], http.client.HTTPConnection]):
    """One thread's connections by (scheme, netloc); weakly referable, so the store learns when the
    pool went with its thread."""

    __slots__ = ("__weakref__",)


def _close_all(pools: dict[int, tuple[weakref.ref[_Pool], list[http.client.HTTPConnection]]]) -> None:
    """Close and forget the connections of ``pools`` (the store's finalizer; ended threads' pools)."""
    closing = [conn for _, conns in pools.values() for conn in conns]
    pools.clear()
    for conn in closing:
        conn.close()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _decoded(fn: Callable[[], T], what: str) -> T:
    try:
        return fn()
    except WireError as exc:
        raise deserialization(f"{what}: {exc}") from None
