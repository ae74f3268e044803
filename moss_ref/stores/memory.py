"""``MemoryStore``: a process-local store for tests (trust on first use, whole-version swaps under a lock)."""

from __future__ import annotations

import threading
import uuid
from array import array
from dataclasses import dataclass, field, replace
from typing import Optional

from .._clock import now_iso
from .._errors import unauthorized
from .base import IndexConflict, IndexSummary, JobRecord, StoredIndex, summary_of
from .keys import hash_key, verify_key

__all__ = ["MemoryStore"]


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

    def authenticate(self, project_id: str, project_key: str, *, register: bool = True) -> None:
        with self._lock:
            self._project(project_id, project_key, register)

    def register_project(self, project_id: str, project_key: str) -> bool:
        with self._lock:
            if self._projects.get(project_id, _Project("")).key_hash:
                return False
            self._projects.setdefault(project_id, _Project("")).key_hash = hash_key(project_key)
            return True

    def list_projects(self) -> list[str]:
        with self._lock:
            return sorted(p for p, project in self._projects.items() if project.key_hash)

    def _project(self, project_id: str, project_key: str, register: bool = True) -> _Project:
        project = self._projects.get(project_id)
        if project is None or not project.key_hash:
            if not register:
                hash_key(project_key)  # as slow as a wrong key
                raise unauthorized(f"unknown project {project_id!r}")
            project = self._projects.setdefault(project_id, _Project(""))
            project.key_hash = hash_key(project_key)
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

    def read_summary(self, project_id: str, name: str) -> Optional[IndexSummary]:
        with self._lock:
            index = self._known(project_id).indexes.get(name)
            return None if index is None else summary_of(index)

    def write_index(self, project_id: str, index: StoredIndex, expect_version: Optional[str] = None) -> StoredIndex:
        with self._lock:
            project = self._known(project_id)
            previous = project.indexes.get(index.name)
            current = "" if previous is None else previous.version
            if expect_version is not None and expect_version != current:
                raise IndexConflict(index.name, expect_version, current)
            self._versions += 1
            stamp = now_iso()
            published = replace(
                index,
                vectors=array("f", index.vectors),  # the store keeps its own copy
                version=f"{self._versions:010d}-{uuid.uuid4().hex[:8]}",
                created_at=previous.created_at if previous else stamp,
                updated_at=stamp,
                index_id=previous.index_id if previous else uuid.uuid4().hex,
            )
            project.indexes[index.name] = published
            return published

    def delete_index(self, project_id: str, name: str) -> bool:
        with self._lock:
            return self._known(project_id).indexes.pop(name, None) is not None

    def list_indexes(self, project_id: str) -> list[IndexSummary]:
        with self._lock:
            return [summary_of(i) for i in sorted(self._known(project_id).indexes.values(), key=lambda i: i.name)]

    def save_job(self, project_id: str, job: JobRecord) -> None:
        with self._lock:
            self._known(project_id).jobs[job.job_id] = job

    def read_job(self, project_id: str, job_id: str) -> Optional[JobRecord]:
        with self._lock:
            return self._known(project_id).jobs.get(job_id)
