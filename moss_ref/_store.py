"""The store: what the real SDK calls the cloud (R-ST-1..R-ST-6, P-5).

A store holds projects; a project holds named indexes and jobs. The contract is small on purpose
(tinydb's storages): authenticate, read/write/delete/list indexes, save/read jobs. A write
publishes a complete new version or nothing (R-ST-5); readers see whole versions only.

``MemoryStore`` lives here for tests; the directory store (the embedded default) is in
``_dirstore``.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Optional, Protocol, runtime_checkable

from ._corpus import Record
from ._errors import unauthorized
from ._keys import hash_key, verify_key
from ._protocols import EmbedderFingerprint


@dataclass(frozen=True)
class StoredIndex:
    """One published version of an index: documents in order and their float32 vectors."""

    name: str
    model_id: str
    embedder: Optional[EmbedderFingerprint]  # None for custom indexes
    dimension: Optional[int]  # None only for a custom index with no documents
    records: tuple[Record, ...]
    vectors: array  # type: ignore[type-arg]  # typecode "f", dimension * len(records) values, document order
    version: str = ""
    created_at: str = ""
    updated_at: str = ""

    @property
    def doc_count(self) -> int:
        return len(self.records)

    def vector(self, i: int) -> array:  # type: ignore[type-arg]
        d = self.dimension or 0
        return self.vectors[i * d : (i + 1) * d]

    def vector_list(self) -> list[Sequence[float]]:
        return [self.vector(i) for i in range(len(self.records))]


@dataclass(frozen=True)
class IndexSummary:
    """What ``list_indexes`` needs without loading vectors."""

    name: str
    model_id: str
    doc_count: int
    version: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class JobRecord:
    """A stored job (R-ST-6): moss_ref jobs complete synchronously."""

    job_id: str
    index_name: str
    kind: str  # "push", "create", "add_docs", "delete_docs"
    status: str  # JobStatus value
    doc_count: int
    created_at: str
    updated_at: str
    completed_at: Optional[str]
    error: Optional[str] = None


@runtime_checkable
class Store(Protocol):
    """Where indexes and jobs live. Every method authenticates first (R-ST-3)."""

    def authenticate(self, project_id: str, project_key: str) -> None:
        """Raise ``MossError`` code ``UNAUTHORIZED`` for a wrong key (R-ST-2)."""

    def read_index(self, project_id: str, name: str) -> Optional[StoredIndex]:
        """The latest complete version, or None. Bad data → ``MossError`` ``DESERIALIZATION``."""

    def write_index(self, project_id: str, index: StoredIndex) -> StoredIndex:
        """Publish ``index`` atomically; returns it with ``version`` and timestamps set."""

    def delete_index(self, project_id: str, name: str) -> bool: ...

    def list_indexes(self, project_id: str) -> list[IndexSummary]: ...

    def save_job(self, project_id: str, job: JobRecord) -> None: ...

    def read_job(self, project_id: str, job_id: str) -> Optional[JobRecord]: ...


@dataclass
class _Project:
    key_hash: str
    indexes: dict[str, StoredIndex] = field(default_factory=dict)
    jobs: dict[str, JobRecord] = field(default_factory=dict)


class MemoryStore:
    """A process-local store for tests: trust on first use, whole-version swaps under a lock."""

    def __init__(self) -> None:
        self._projects: dict[str, _Project] = {}
        self._lock = threading.Lock()
        self._versions = 0

    def authenticate(self, project_id: str, project_key: str) -> None:
        with self._lock:
            self._project(project_id, project_key)

    def _project(self, project_id: str, project_key: str) -> _Project:
        project = self._projects.get(project_id)
        if project is None:
            project = self._projects[project_id] = _Project(hash_key(project_key))
        elif not verify_key(project_key, project.key_hash):
            raise unauthorized(f"wrong project key for project {project_id!r}")
        return project

    def _known(self, project_id: str) -> _Project:
        project = self._projects.get(project_id)
        if project is None:
            project = self._projects[project_id] = _Project("")
        return project

    def read_index(self, project_id: str, name: str) -> Optional[StoredIndex]:
        with self._lock:
            return self._known(project_id).indexes.get(name)

    def write_index(self, project_id: str, index: StoredIndex) -> StoredIndex:
        from ._clock import now_iso

        with self._lock:
            project = self._known(project_id)
            self._versions += 1
            previous = project.indexes.get(index.name)
            stamp = now_iso()
            published = replace(
                index,
                version=str(self._versions),
                created_at=previous.created_at if previous else stamp,
                updated_at=stamp,
            )
            project.indexes[index.name] = published
            return published

    def delete_index(self, project_id: str, name: str) -> bool:
        with self._lock:
            return self._known(project_id).indexes.pop(name, None) is not None

    def list_indexes(self, project_id: str) -> list[IndexSummary]:
        with self._lock:
            return [
                IndexSummary(i.name, i.model_id, i.doc_count, i.version, i.created_at, i.updated_at)
                for i in sorted(self._known(project_id).indexes.values(), key=lambda i: i.name)
            ]

    def save_job(self, project_id: str, job: JobRecord) -> None:
        with self._lock:
            self._known(project_id).jobs[job.job_id] = job

    def read_job(self, project_id: str, job_id: str) -> Optional[JobRecord]:
        with self._lock:
            return self._known(project_id).jobs.get(job_id)



