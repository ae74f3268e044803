"""The client's cloud API over a store (C-4, C-6..C-18, R-ST-6; rules CLD-1..CLD-14).

``CloudMixin`` gives ``MossClient`` its index-management, job and loaded-index methods; the
client supplies the store, credentials and embedders. Every method checks, in this order: the
client is open (C-3), index names (C-4), other arguments that need no store (C-7), then the
credentials (R-ST-3), then does the work.

Index mutations (``add_docs``, ``delete_docs``) are read → apply with the session rules → write
back with ``expect_version`` (compare-and-swap), retried when another writer got in between,
so concurrent mutations from any number of processes are never lost. Jobs complete before the
call returns and are stored (R-ST-6).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

from ._clock import new_job_id, now_iso
from ._docs_input import to_document_infos
from ._errors import (
    INTERNAL,
    INVALID_ARGUMENT,
    NETWORK,
    NOT_FOUND,
    InvalidArgumentError,
    MossError,
    invalid,
    not_found,
    request_invalid,
)
from ._explain import Explanation
from ._jobs import JobHandle, job_not_found, job_response, wait_for_job
from ._loaded import LoadedIndex, LoadedIndexes, build_core, explain_loaded, query_loaded
from ._models import CUSTOM, DEFAULT_MODEL_ID, resolve_model_id
from ._names import validate_index_name
from ._protocols import Embedder
from ._session_core import SessionCore
from ._snapshot import snapshot
from ._types import (
    DocumentInfo,
    GetDocumentsOptions,
    IndexInfo,
    IndexStatus,
    JobStatus,
    JobStatusResponse,
    LoadIndexesResult,
    ModelRef,
    MutationOptions,
    MutationResult,
    QueryOptions,
    SearchResult,
)
from .stores.base import IndexConflict, IndexSummary, JobRecord, Store, StoredIndex
from .stores.format import FormatError, IndexDirectory, child_path, guard

__all__ = ["PUBLIC_MESSAGES", "CloudMixin"]

#: Fixed public message per error code, as ``load_indexes`` reports failures (C-16, E-4).
PUBLIC_MESSAGES = {
    INVALID_ARGUMENT: "The request has an invalid argument.",
    NOT_FOUND: "The requested resource was not found.",
    "UNAUTHORIZED": "The project credentials were rejected.",
    NETWORK: "The Moss service could not be reached.",
    "DESERIALIZATION": "The index data could not be decoded.",
    "MODEL_UNAVAILABLE": "The embedding model is unavailable.",
    INTERNAL: "An internal error occurred.",
}
CAS_ATTEMPTS = 16
NOT_LOADED = "Index is not loaded."


def _index_not_found(name: str) -> MossError:
    return not_found("The requested resource was not found.", f"Index not found: {name}")


def _not_loaded(name: str) -> MossError:
    return not_found(NOT_LOADED, f"Index not loaded: {name}")


def _validation_error(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"The request has an invalid argument. {message}", detail=f"Validation error: {message}"
    )


def _name_list(names: object, what: str) -> list[str]:
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise invalid(f"{what} must be a list of index names; got {type(names).__name__}")
    return list(dict.fromkeys([validate_index_name(n) for n in names]))


def _check_load_options(auto_refresh: object, interval: object) -> float:
    if not isinstance(auto_refresh, bool):
        raise invalid(f"auto_refresh must be a bool; got {type(auto_refresh).__name__}")
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not math.isfinite(interval)
        or interval <= 0
    ):
        raise invalid(f"polling_interval_in_seconds must be a positive number; got {interval!r}")
    return float(interval)


def index_info(summary: IndexSummary) -> IndexInfo:
    """T-10/T-11: stored indexes are always ``Ready``; the model version names the embedder."""
    fp = summary.embedder
    return IndexInfo(
        id=summary.index_id,
        name=summary.name,
        version=summary.version,
        status=IndexStatus.Ready,
        doc_count=summary.doc_count,
        created_at=summary.created_at,
        updated_at=summary.updated_at,
        model=ModelRef(summary.model_id, "" if fp is None else f"{fp.backend}:{fp.version}"),
    )


class CloudMixin:
    """Cloud methods of ``MossClient`` (the client provides the members declared below)."""

    if TYPE_CHECKING:
        project_id: str
        cache_path: Optional[str]
        _loaded: LoadedIndexes

        def _ensure_open(self) -> None: ...

        def _authenticated_store(self) -> Store: ...

        def _embedder_for(self, model_id: str) -> Optional[Embedder]: ...

        def _new_vector_backend(self) -> Any: ...

        def _new_keyword_backend(self) -> Any: ...

    # -- helpers ------------------------------------------------------------------------------

    def _record_job(self, store: Store, kind: str, name: str, doc_count: int, started: str) -> JobRecord:
        done = now_iso()
        job = JobRecord(new_job_id(), name, kind, JobStatus.COMPLETED.value, doc_count, started, done, done)
        store.save_job(self.project_id, job)
        return job

    def _core_of(self, stored: StoredIndex) -> SessionCore:
        return build_core(
            stored, self._embedder_for(stored.model_id), self._new_vector_backend, self._new_keyword_backend
        )

    def _mutate(
        self, name: str, kind: str, prepare: Callable[[StoredIndex], tuple[Callable[[SessionCore], object], int]]
    ) -> MutationResult:
        """Read → apply → compare-and-swap write, retried on conflict (CLD-4).

        ``prepare`` gives the change and how many documents (or ids) the mutation carries, which
        is what ``MutationResult.doc_count`` reports (CLD-3), as the real service does.
        """
        store = self._authenticated_store()
        started = now_iso()
        prepared: Optional[tuple[Callable[[SessionCore], object], int]] = None
        conflict: Optional[IndexConflict] = None
        for _ in range(CAS_ATTEMPTS):
            stored = store.read_index(self.project_id, name)
            if stored is None:
                raise _index_not_found(name)
            if prepared is None:
                prepared = prepare(stored)
            apply, count = prepared
            core = self._core_of(stored)
            apply(core)
            try:
                store.write_index(self.project_id, snapshot(core), expect_version=stored.version)
            except IndexConflict as exc:
                conflict = exc
                continue
            job = self._record_job(store, kind, name, count, started)
            return MutationResult(job.job_id, name, count)
        assert conflict is not None
        raise conflict

    # -- index management (C-6..C-10) ---------------------------------------------------------

    async def create_index(
        self,
        name: str,
        docs: object,
        model_id: Optional[str] = None,
        *,
        wait: bool = True,
        chunker: Optional[Callable[[str], list[str]]] = None,
        chunking: object = None,
    ) -> Union[MutationResult, JobHandle]:
        """Create an index from documents; fails if the name exists (C-6, C-7, R-ST-6)."""
        self._ensure_open()
        validate_index_name(name)
        parsed = to_document_infos(docs, chunker=chunker, chunking=chunking, model_id=model_id)
        model = self._create_model(model_id, parsed)
        started = now_iso()
        core = SessionCore(
            name,
            model,
            embedder=self._embedder_for(model),
            vector_backend_factory=self._new_vector_backend,
            keyword_backend_factory=self._new_keyword_backend,
            strict=self._strict(),
        )
        core.add_docs(parsed)  # every document rule, before any store traffic (CLD-1)
        store = self._authenticated_store()
        try:
            store.write_index(self.project_id, snapshot(core), expect_version="")
        except IndexConflict:
            raise request_invalid(
                f"Index '{name}' already exists. Add documents with add_docs, or delete_index it first."
            ) from None
        job = self._record_job(store, "create", name, len(parsed), started)
        if wait:
            return MutationResult(job.job_id, name, len(parsed))
        return JobHandle(self, job.job_id)

    @staticmethod
    def _create_model(model_id: Optional[str], docs: Sequence[object]) -> str:
        """C-6 model resolution, then the two C-7 checks (before any store traffic)."""
        embedded = [bool(getattr(d, "embedding", None)) for d in docs if isinstance(d, DocumentInfo)]
        if model_id is None:
            model = CUSTOM if any(getattr(d, "embedding", None) is not None for d in docs) else DEFAULT_MODEL_ID
        else:
            model = resolve_model_id(model_id)
        if model == CUSTOM and not all(embedded):
            raise _validation_error("Model 'custom' requires all documents to have embeddings")
        if model != CUSTOM and any(embedded) and not all(embedded):
            raise _validation_error("Mixed embeddings: either all documents must have embeddings or none")
        return model

    async def add_docs(
        self,
        name: str,
        docs: object,
        options: Optional[MutationOptions] = None,
        *,
        chunker: Optional[Callable[[str], list[str]]] = None,
        chunking: object = None,
    ) -> MutationResult:
        """Add or update documents of a stored index, with the session's rules (C-9, R-D-1..R-D-4)."""
        self._ensure_open()
        validate_index_name(name)

        def prepare(stored: StoredIndex) -> tuple[Callable[[SessionCore], object], int]:
            parsed = to_document_infos(docs, chunker=chunker, chunking=chunking, model_id=stored.model_id)
            return (lambda core: core.add_docs(parsed, options)), len(parsed)

        return self._mutate(name, "add_docs", prepare)

    async def delete_docs(self, name: str, doc_ids: Sequence[str]) -> MutationResult:
        """Remove documents by id from a stored index; unknown ids are ignored (C-9, R-D-5)."""
        self._ensure_open()
        validate_index_name(name)
        ids = list(doc_ids) if isinstance(doc_ids, (list, tuple)) else doc_ids
        count = len(ids) if isinstance(ids, list) else 0
        return self._mutate(name, "delete_docs", lambda stored: ((lambda core: core.delete_docs(ids)), count))

    async def get_docs(self, name: str, options: Optional[GetDocumentsOptions] = None) -> list[DocumentInfo]:
        """Documents of a stored index, with the session's get_docs rules (C-10, R-D-6)."""
        self._ensure_open()
        validate_index_name(name)
        stored = self._authenticated_store().read_index(self.project_id, name)
        if stored is None:
            raise _index_not_found(name)
        core = SessionCore(
            name,
            stored.model_id,
            embedder=None,
            vector_backend_factory=self._new_vector_backend,
            keyword_backend_factory=self._new_keyword_backend,
            strict=self._strict(),
        )
        if stored.doc_count:  # no embedder: get_docs never embeds, so nothing is re-embedded
            core.replace_contents(stored.model_id, None, list(stored.records), stored.vectors, stored.dimension)
        return core.get_docs(options, vectors=True)  # C-10: a stored custom index's vectors come back

    async def get_index(self, name: str) -> IndexInfo:
        self._ensure_open()
        validate_index_name(name)
        summary = self._authenticated_store().read_summary(self.project_id, name)
        if summary is None:
            raise _index_not_found(name)
        return index_info(summary)

    async def list_indexes(self) -> list[IndexInfo]:
        self._ensure_open()
        return [index_info(s) for s in self._authenticated_store().list_indexes(self.project_id)]

    async def delete_index(self, name: str) -> bool:
        """True if the index existed. Clients that loaded it keep their loaded copy."""
        self._ensure_open()
        validate_index_name(name)
        return self._authenticated_store().delete_index(self.project_id, name)

    # -- jobs (C-10..C-12) ----------------------------------------------------------------------

    async def get_job_status(self, job_id: str) -> JobStatusResponse:
        self._ensure_open()
        if not isinstance(job_id, str):
            raise invalid(f"job_id must be a str; got {type(job_id).__name__}")
        record = self._authenticated_store().read_job(self.project_id, job_id)
        if record is None:
            raise job_not_found(job_id)
        return job_response(record)

    async def wait_for_job(
        self, job_id: str, *, poll_interval_seconds: float = 2.0, timeout_seconds: float = 1800.0
    ) -> JobStatusResponse:
        self._ensure_open()
        return await wait_for_job(self.get_job_status, job_id, poll_interval_seconds, timeout_seconds)

    # -- loading and querying (C-13..C-18) -----------------------------------------------------

    def _offline_copy(self, name: str, cache_path: Optional[str]) -> Optional[IndexDirectory]:
        base = cache_path if cache_path is not None else self.cache_path
        if base is None:
            return None
        folder = child_path(os.path.join(os.path.abspath(base), "indexes"), self.project_id)
        return IndexDirectory(child_path(folder, name), name)

    @staticmethod
    def _read_offline(offline: IndexDirectory) -> Optional[StoredIndex]:
        """The offline copy, or None when there is none or it cannot be used (the store's error wins)."""
        try:
            with guard():
                return offline.read()
        except MossError as exc:
            warnings.warn(f"ignoring the offline copy at {offline.path}: {exc}", RuntimeWarning, stacklevel=4)
            return None

    def _load(self, name: str, auto_refresh: bool, interval: float, cache_path: Optional[str]) -> None:
        """C-13: (re)load ``name``; unchanged version → nothing read; store down → offline copy."""
        existing = self._loaded.get(name)
        offline = self._offline_copy(name, cache_path)
        try:
            store = self._authenticated_store()
            summary = store.read_summary(self.project_id, name)
            if summary is None:
                raise _index_not_found(name)
            if existing is not None and not existing.stale and existing.version == summary.version:
                self._loaded.put(
                    LoadedIndex(name, existing.core, existing.version, False, auto_refresh, interval, cache_path)
                )
                return
            stored = store.read_index(self.project_id, name)
            if stored is None:
                raise _index_not_found(name)
            core = self._core_of(stored)
        except MossError as exc:
            if exc.code not in (NETWORK, INTERNAL) or isinstance(exc, IndexConflict) or offline is None:
                raise
            cached = self._read_offline(offline)
            if cached is None:
                raise
            self._loaded.put(
                LoadedIndex(name, self._core_of(cached), cached.version, True, auto_refresh, interval, cache_path)
            )
            return
        if offline is not None:
            try:
                with guard():
                    offline.publish(stored)
            except (MossError, FormatError) as exc:
                warnings.warn(f"could not keep an offline copy of index {name!r}: {exc}", RuntimeWarning, stacklevel=3)
        self._loaded.put(LoadedIndex(name, core, stored.version, False, auto_refresh, interval, cache_path))

    async def load_index(
        self,
        name: str,
        auto_refresh: bool = False,
        polling_interval_in_seconds: float = 600,
        cache_path: Optional[str] = None,
    ) -> str:
        """Load a stored index into memory for ``query``; returns ``name`` (C-13)."""
        self._ensure_open()
        validate_index_name(name)
        interval = _check_load_options(auto_refresh, polling_interval_in_seconds)
        self._load(name, auto_refresh, interval, cache_path)
        return name

    async def load_indexes(
        self,
        names: Sequence[str],
        auto_refresh: bool = False,
        polling_interval_in_seconds: float = 600,
        cache_path: Optional[str] = None,
    ) -> LoadIndexesResult:
        """Best effort: successes stay loaded, each failure is reported with its code (C-16)."""
        self._ensure_open()
        if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
            raise invalid(f"names must be a list of index names; got {type(names).__name__}")
        interval = _check_load_options(auto_refresh, polling_interval_in_seconds)
        result = LoadIndexesResult()
        unique: list[object] = []
        for item in names:
            if item not in unique:
                unique.append(item)
        for name in unique:
            try:
                self._load(validate_index_name(name), auto_refresh, interval, cache_path)
            except MossError as exc:
                code = exc.code or INTERNAL
                result.failed[str(name)] = PUBLIC_MESSAGES.get(code, PUBLIC_MESSAGES[INTERNAL])
                result.failed_codes[str(name)] = code
            else:
                result.loaded.append(str(name))
        return result

    async def unload_index(self, name: str) -> None:
        self._ensure_open()
        validate_index_name(name)
        if self._loaded.pop(name) is None:
            raise _not_loaded(name)

    async def unload_indexes(self, names: Sequence[str]) -> None:
        """Idempotent: names that are not loaded are ignored (C-14)."""
        self._ensure_open()
        for name in _name_list(names, "names"):
            self._loaded.pop(name)

    def _loaded_entry(self, name: str) -> LoadedIndex:
        entry = self._loaded.get(name)
        if entry is None:
            raise not_found(
                f"Index '{name}' is not loaded. Call load_index('{name}') or load_indexes([...]) before querying; "
                "queries run locally and there is no cloud query fallback."
            )
        if entry.refresh_due():
            try:
                self._load(name, entry.auto_refresh, entry.polling_interval, entry.cache_path)
            except MossError:
                entry.checked_at = time.monotonic()  # keep serving what is loaded; try again next interval
            entry = self._loaded.get(name) or entry
        return entry

    async def query(self, name: str, query: str, options: Optional[QueryOptions] = None) -> SearchResult:
        """Query a loaded index locally (C-15); top_k 5, alpha 0.8 by default."""
        self._ensure_open()
        validate_index_name(name)
        entry = self._loaded_entry(name)
        return query_loaded([(name, entry.core)], query, options, multi=False, strict=self._strict())

    async def explain_query(self, name: str, query: str, options: Optional[QueryOptions] = None) -> Explanation:
        """Why each result of ``query(name, query, options)`` ranked where it did (moss_ref extension, EXPL-1)."""
        self._ensure_open()
        validate_index_name(name)
        entry = self._loaded_entry(name)
        return explain_loaded((name, entry.core), query, options, strict=self._strict())

    def _strict(self) -> bool:
        return bool(getattr(self, "strict", False))

    async def query_multi_index(
        self, names: Sequence[str], query: str, options: Optional[QueryOptions] = None
    ) -> SearchResult:
        """Query several loaded indexes of one model as one ranking (C-17); top_k 10 by default."""
        self._ensure_open()
        if not names:
            raise InvalidArgumentError("query_multi_index requires at least one index name")
        unique = _name_list(names, "names")
        missing = [n for n in unique if self._loaded.get(n) is None]
        if missing:
            raise not_found(NOT_LOADED, f"Index not loaded: {', '.join(missing)}")
        entries = [(n, self._loaded_entry(n).core) for n in unique]
        models = {core.model_id for _, core in entries}
        if len(models) > 1:
            listed = ", ".join(f"'{n}' ({core.model_id})" for n, core in entries)
            raise request_invalid(f"query_multi_index needs indexes that share one embedding model; got {listed}")
        return query_loaded(entries, query, options, multi=True, strict=self._strict())

    async def was_served_stale(self, name: str) -> bool:
        """True when the loaded copy came from the offline copy because the store failed (C-18)."""
        self._ensure_open()
        validate_index_name(name)
        entry = self._loaded.get(name)
        if entry is None:
            raise _not_loaded(name)
        return entry.stale
