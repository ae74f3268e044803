"""``MossClient``: opens sessions and speaks to the store (C-1..C-18, S-1..S-10, R-ST-1).

The client owns the choices a session does not make itself: which store stands in for the cloud
(``store=`` keyword, else ``MOSS_REF_STORE``, else the per-user data directory), which embedder
serves a built-in model, which vector backend stores vectors and which keyword backend ranks
BM25 (``embedder=`` / ``vector_backend=`` / ``keyword_backend=`` keywords, else
``MOSS_REF_EMBEDDER`` / ``MOSS_REF_VECTOR_BACKEND`` / ``MOSS_REF_KEYWORD_BACKEND``, else ``auto``).
"""

from __future__ import annotations

import os
import uuid
from types import TracebackType
from typing import Any, Optional

from ._clock import new_job_id, now_iso
from ._cloud import CloudMixin
from ._disk import load_session, save_session
from ._errors import invalid, request_invalid
from ._loaded import LoadedIndexes
from ._models import CUSTOM, DEFAULT_MODEL_ID, resolve_model_id
from ._names import validate_index_name
from ._protocols import Embedder
from ._registry import (
    create_embedder,
    create_keyword_backend,
    create_vector_backend,
    resolve_embedder_name,
    resolve_keyword_backend_name,
    resolve_vector_backend_name,
)
from ._session import SessionIndex
from ._session_core import SessionCore
from ._snapshot import contents_for, snapshot
from ._types import JobStatus, PushIndexResult
from ._unsupported import UnsupportedMixin
from .stores import StoreLike, resolve_store
from .stores.base import JobRecord, Store
from .stores.format import path_component

CLIENT_CLOSED = "MossClient is closed"


def resolve_strict(strict: Optional[bool]) -> bool:
    """STRICT-1: ``strict=``, else ``MOSS_REF_STRICT`` (``1``/``true``/``yes``), else off.

    Off, moss_ref accepts what the real SDK accepts; on, it also refuses input the real SDK accepts
    but cannot mean anything by (malformed filters, out-of-range options): a mode for SDK authors.
    """
    if strict is not None:
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be a bool or None; got {type(strict).__name__}")
        return strict
    return os.environ.get("MOSS_REF_STRICT", "").strip().lower() in ("1", "true", "yes")


class _Backing:
    """What a session needs from its client: the store, the project, embedders, backends."""

    def __init__(self, client: MossClient) -> None:
        self.client = client

    def push(self, core: SessionCore) -> PushIndexResult:
        return self.client._push(core)

    def save_to_disk(self, core: SessionCore, cache_path: Optional[str]) -> str:
        return save_session(core, self.client._session_dir(cache_path))

    def load_from_disk(self, core: SessionCore, cache_path: Optional[str]) -> int:
        return load_session(core, self.client._session_dir(cache_path), self.client._embedder_for)

    def forget(self, session: SessionIndex) -> None:
        self.client._sessions.discard(session)


class MossClient(CloudMixin, UnsupportedMixin):
    """Entry point, signature-compatible with ``moss.MossClient`` (C-1).

    Sessions live here; the cloud methods (create_index ... was_served_stale) come from
    ``_cloud.CloudMixin``.
    """

    DEFAULT_MODEL_ID = DEFAULT_MODEL_ID

    def __init__(
        self,
        project_id: str,
        project_key: str,
        *,
        cache_path: Optional[str] = None,
        store: Optional[StoreLike] = None,
        embedder: Optional[str] = None,
        vector_backend: Optional[str] = None,
        strict: Optional[bool] = None,
        keyword_backend: Optional[str] = None,
    ) -> None:
        if not isinstance(project_id, str) or not isinstance(project_key, str):
            raise TypeError("MossClient(project_id, project_key): both must be str")
        self.project_id = project_id
        self._project_key = project_key
        self.cache_path = cache_path
        self.client_id = str(uuid.uuid4())
        self._store_arg = store
        self._store: Optional[Store] = None
        self._embedder_name = resolve_embedder_name(embedder)
        self._vector_backend_name = resolve_vector_backend_name(vector_backend)
        self._keyword_backend_name = resolve_keyword_backend_name(keyword_backend)
        self._embedders: dict[str, Embedder] = {}
        self._sessions: set[SessionIndex] = set()
        self._loaded = LoadedIndexes()
        self._closed = False
        self._backing = _Backing(self)
        self.strict = resolve_strict(strict)

    def __repr__(self) -> str:  # never echo the key (R-ST-2)
        return f"<MossClient project_id={self.project_id!r}{' closed' if self._closed else ''}>"

    # -- plumbing --------------------------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise RuntimeError(CLIENT_CLOSED)

    @property
    def store(self) -> Store:
        """The store standing in for the cloud (resolved on first use; C-1 checks nothing)."""
        if self._store is None:
            self._store = resolve_store(self._store_arg)
        return self._store

    def _authenticated_store(self) -> Store:
        self._ensure_open()
        store = self.store
        store.authenticate(self.project_id, self._project_key)
        return store

    def _embedder_for(self, model_id: str) -> Optional[Embedder]:
        """The embedder serving ``model_id`` (None for custom), created once per client."""
        if model_id == CUSTOM:
            return None
        embedder = self._embedders.get(model_id)
        if embedder is None:
            embedder = self._embedders[model_id] = create_embedder(self._embedder_name, model_id)
        return embedder

    def _new_vector_backend(self) -> Any:
        return create_vector_backend(self._vector_backend_name)

    def _new_keyword_backend(self) -> Any:
        return create_keyword_backend(self._keyword_backend_name)

    def _session_dir(self, cache_path: Optional[str]) -> str:
        """S-35 default: ``<client cache_path>/sessions/<project>``, else env, else ~/.cache/moss.

        ``<project>`` is ``_format.path_component(project_id)``, so no project id leaves the base.
        """
        if cache_path is not None:
            return cache_path
        if self.cache_path is not None:
            base = self.cache_path
        else:
            base = os.environ.get("MOSS_SESSION_CACHE_PATH") or os.path.join(os.path.expanduser("~"), ".cache", "moss")
        return os.path.join(base, "sessions", path_component(self.project_id))

    # -- sessions (S-1..S-10) ---------------------------------------------------------------

    async def session(
        self,
        index_name: str,
        model_id: Optional[str] = None,
        *,
        artifact_version: Optional[str] = None,
        manifest_sha256: Optional[str] = None,
        auto_load_on_init: bool = True,
    ) -> SessionIndex:
        """Open a session: resume the stored index of that name, or start empty."""
        return self.session_sync(
            index_name,
            model_id,
            artifact_version=artifact_version,
            manifest_sha256=manifest_sha256,
            auto_load_on_init=auto_load_on_init,
        )

    def session_sync(
        self,
        index_name: str,
        model_id: Optional[str] = None,
        *,
        artifact_version: Optional[str] = None,
        manifest_sha256: Optional[str] = None,
        auto_load_on_init: bool = True,
    ) -> SessionIndex:
        """The synchronous form of :meth:`session` (R-API-3)."""
        self._ensure_open()
        if (artifact_version is None) != (manifest_sha256 is None):
            missing = "manifest_sha256" if manifest_sha256 is None else "artifact_version"
            given = "artifact_version" if missing == "manifest_sha256" else "manifest_sha256"
            raise ValueError(f"session() requires {missing} whenever {given} is given")
        resolved = resolve_model_id(model_id)
        if artifact_version is not None and resolved == CUSTOM:
            raise request_invalid("Custom sessions cannot certify a foundation model artifact identity.")
        validate_index_name(index_name)
        store = self._authenticated_store()
        stored = store.read_index(self.project_id, index_name) if auto_load_on_init else None
        if stored is not None and model_id is not None and stored.model_id != resolved:
            raise ValueError(
                f"Existing session index '{index_name}' uses model_id='{stored.model_id}', but session() was "
                f"called with model_id='{resolved}'. Omit model_id to adopt the stored model or pass the "
                "matching model_id."
            )
        final_model = stored.model_id if stored is not None else resolved
        embedder = self._embedder_for(final_model)  # warms the model (S-9)
        core = SessionCore(
            index_name,
            final_model,
            embedder=embedder,
            vector_backend_factory=self._new_vector_backend,
            keyword_backend_factory=self._new_keyword_backend,
            strict=self.strict,
        )
        if stored is not None and stored.doc_count:
            core.replace_contents(final_model, embedder, *contents_for(stored, embedder))
        session = SessionIndex(core, self._backing)
        self._sessions.add(session)
        return session

    def _push(self, core: SessionCore) -> PushIndexResult:
        """S-33, R-S-2, R-ST-5, R-ST-6: publish a whole version, record a completed job."""
        image = snapshot(core)  # taken under the session lock: one consistent version
        if image.doc_count == 0:
            raise invalid("No documents in session index. Add documents before pushing.")
        store = self._authenticated_store()
        started = now_iso()
        published = store.write_index(self.project_id, image)
        done = now_iso()
        job = JobRecord(
            new_job_id(), core.name, "push", JobStatus.COMPLETED.value, published.doc_count, started, done, done
        )
        store.save_job(self.project_id, job)
        return PushIndexResult(job.job_id, core.name, published.doc_count, "completed")

    # -- lifecycle (C-3) ---------------------------------------------------------------------

    async def close(self) -> None:
        self.close_sync()

    def close_sync(self) -> None:
        """Idempotent; closes every live session this client opened, and the store if the client
        made it (from a path, a URL or ``MOSS_REF_STORE``; a ``Store`` passed in is the caller's)."""
        if self._closed:
            return
        self._closed = True
        for session in list(self._sessions):
            session._close()
        self._sessions.clear()
        self._loaded.clear()
        store = self._store
        if store is not None and store is not self._store_arg:
            release = getattr(store, "close", None)  # the Store protocol has no close(): optional
            if callable(release):
                release()

    def __enter__(self) -> MossClient:
        return self

    def __exit__(
        self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close_sync()

    async def __aenter__(self) -> MossClient:
        return self

    async def __aexit__(
        self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close_sync()
