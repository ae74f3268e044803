"""``DirectoryStore``: the embedded default store, a directory any process can share (R-ST-1..R-ST-6).

Layout (rules STO-1..STO-9 and FMT-1..FMT-14 in docs/rules/stores.md)::

    <root>/
        moss_ref-store.json                     {"format": "moss_ref/store", "format_version": 1}
        projects/<project>/
            project.json                        the project's salted key hash (trust on first use)
            indexes/<index>/                    an index directory (see ``_format``)
            jobs/<job id>.json                  one small JSON file per job

``<project>`` and ``<index>`` are ``_format.path_component`` of the project id and index name,
so no name can make the store touch a path outside ``<root>``. Every ``OSError`` becomes
``MossError`` code ``INTERNAL`` naming the path; bad bytes become ``DESERIALIZATION``.
"""

from __future__ import annotations

import hmac
import os
import re
import sys
import uuid
from typing import Any, Final, Optional

from .._clock import now_iso
from .._errors import internal, unauthorized
from .._names import validate_index_name
from .base import IndexSummary, JobRecord, StoredIndex
from .format import (
    FORMAT_VERSION,
    FormatError,
    IndexDirectory,
    atomic_write,
    child_path,
    dumps_line,
    fsync_dir,
    guard,
    read_bytes,
    read_json_file,
    seal,
    unseal,
)
from .keys import hash_key, verify_key

__all__ = ["DirectoryStore", "default_store_path"]

STORE_MARKER: Final = "moss_ref-store.json"
STORE_FORMAT: Final = "moss_ref/store"
PROJECT_FILE: Final = "project.json"
_JOB_ID_RE: Final = re.compile(r"\A[A-Za-z0-9_-]{1,128}\Z")
_JOB_KINDS: Final = frozenset(("create", "add_docs", "delete_docs", "push"))
_JOB_STATUSES: Final = frozenset(("pending_upload", "uploading", "building", "completed", "failed"))
_JOB_KEYS: Final = (
    "job_id",
    "index_name",
    "kind",
    "status",
    "doc_count",
    "created_at",
    "updated_at",
    "completed_at",
    "error",
)


def default_store_path() -> str:
    """The per-user data directory of moss_ref (STO-1).

    Linux and other POSIX: ``$XDG_DATA_HOME/moss_ref`` (if set to an absolute path), else
    ``~/.local/share/moss_ref``; macOS: ``~/Library/Application Support/moss_ref``; Windows:
    ``%LOCALAPPDATA%\\moss_ref`` (else ``~\\AppData\\Local\\moss_ref``).
    """
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    elif sys.platform == "darwin":
        base = os.path.join(home, "Library", "Application Support")
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.join(home, ".local", "share")
    return os.path.join(base, "moss_ref")


class DirectoryStore:
    """A store in a directory (the embedded default). Safe across threads and processes."""

    def __init__(self, root: str | os.PathLike[str], *, keep_versions: int = 2, grace_seconds: float = 60.0) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.keep_versions = keep_versions
        self.grace_seconds = grace_seconds
        self._marked = False

    def __repr__(self) -> str:
        return f"DirectoryStore({self.root!r})"

    # -- paths ------------------------------------------------------------------------------

    def _project_dir(self, project_id: str) -> str:
        if not isinstance(project_id, str):
            raise TypeError(f"project_id must be str, got {type(project_id).__name__}")
        return child_path(os.path.join(self.root, "projects"), project_id)

    def _index(self, project_id: str, name: str) -> IndexDirectory:
        validate_index_name(name)
        folder = os.path.join(self._project_dir(project_id), "indexes")
        return IndexDirectory(
            child_path(folder, name), name, keep_versions=self.keep_versions, grace_seconds=self.grace_seconds
        )

    def _check_marker(self, create: bool) -> None:
        """The root's format marker: created on first write, checked on every first access."""
        if self._marked:
            return
        if os.path.lexists(self.root) and not os.path.isdir(self.root):
            raise internal(f"store I/O failed at {self.root}: the store root is not a directory")
        path = os.path.join(self.root, STORE_MARKER)
        try:
            marker = read_json_file(path, 4096, STORE_MARKER)
        except FileNotFoundError:
            if not create:
                return
            os.makedirs(self.root, exist_ok=True)
            atomic_write(path, dumps_line({"format": STORE_FORMAT, "format_version": FORMAT_VERSION}))
            self._marked = True
            return
        if not isinstance(marker, dict) or marker.get("format") != STORE_FORMAT:
            raise FormatError(f"{path} is not a moss_ref store marker")
        if marker.get("format_version") != FORMAT_VERSION:
            raise FormatError(
                f"store format_version {marker.get('format_version')!r}; this reader understands {FORMAT_VERSION}"
            )
        self._marked = True

    # -- credentials (STO-2, STO-3) -----------------------------------------------------------

    def authenticate(self, project_id: str, project_key: str, *, register: bool = True) -> None:
        """Trust on first use: the first key seen for a project is registered, atomically.

        ``register=False`` (``moss-ref serve`` without ``--allow-first-use``) refuses a project
        nobody provisioned, after paying the same slow hash a wrong key pays.
        """
        if not isinstance(project_key, str):
            raise TypeError(f"project_key must be str, got {type(project_key).__name__}")
        with guard("The project registration could not be decoded."):
            self._check_marker(create=register)
            folder = self._project_dir(project_id)
            path = os.path.join(folder, PROJECT_FILE)
            stored = self._registered_hash(path)
            if stored is None:
                mine = hash_key(project_key)
                if not register:
                    raise unauthorized(f"unknown project {project_id!r}")
                stored = self._register(folder, path, project_id, mine)
                if hmac.compare_digest(stored, mine):
                    return  # our registration won: this key is the project's key
        if not verify_key(project_key, stored):
            raise unauthorized(f"wrong project key for project {project_id!r}")

    def register_project(self, project_id: str, project_key: str) -> bool:
        """Provision ``project_id`` with ``project_key`` (``moss-ref projects add``); False if it exists."""
        if not isinstance(project_key, str):
            raise TypeError(f"project_key must be str, got {type(project_key).__name__}")
        with guard("The project registration could not be decoded."):
            self._check_marker(create=True)
            folder = self._project_dir(project_id)
            path = os.path.join(folder, PROJECT_FILE)
            if self._registered_hash(path) is not None:
                return False
            mine = hash_key(project_key)
            return hmac.compare_digest(self._register(folder, path, project_id, mine), mine)

    def list_projects(self) -> list[str]:
        """The ids of every registered project, sorted (no keys: only their hashes are stored)."""
        with guard("The project registration could not be decoded."):
            self._check_marker(create=False)
            folder = os.path.join(self.root, "projects")
            try:
                entries = sorted(os.listdir(folder))
            except FileNotFoundError:
                return []
            out: list[str] = []
            for entry in entries:
                path = os.path.join(folder, entry, PROJECT_FILE)
                if self._registered_hash(path) is None:
                    continue
                record = unseal(read_bytes(path, 1 << 16, PROJECT_FILE), PROJECT_FILE)
                if child_path(folder, record["project_id"]) == os.path.join(folder, entry):
                    out.append(record["project_id"])
            return sorted(out)

    def _registered_hash(self, path: str) -> Optional[str]:
        try:
            data = read_bytes(path, 1 << 16, PROJECT_FILE)
        except FileNotFoundError:
            return None
        record = unseal(data, PROJECT_FILE)
        if not isinstance(record, dict) or sorted(record) != ["created_at", "key_hash", "project_id"]:
            raise FormatError(f"{path}: expected exactly project_id, key_hash and created_at")
        key_hash = record["key_hash"]
        if not isinstance(key_hash, str) or not key_hash:
            raise FormatError(f"{path}: key_hash must be a non-empty string")
        return key_hash

    def _register(self, folder: str, path: str, project_id: str, key_hash: str) -> str:
        """Publish project.json with ``os.link`` (fails if it exists): exactly one key wins (STO-3)."""
        body = seal({"project_id": project_id, "key_hash": key_hash, "created_at": now_iso()})
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{PROJECT_FILE}.tmp-{uuid.uuid4().hex}")
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process registered first: its key decides
        except OSError:  # no hard links here: exclusive create, then fill (readers retry below)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
                    f.flush()
                    os.fsync(f.fileno())
        finally:
            os.unlink(tmp)
        fsync_dir(folder)
        winner = self._registered_hash(path)
        if winner is None:
            raise FormatError(f"{path} vanished during registration")
        return winner

    # -- indexes (STO-4..STO-6) -----------------------------------------------------------------

    def read_index(self, project_id: str, name: str) -> Optional[StoredIndex]:
        with guard():
            self._check_marker(create=False)
            return self._index(project_id, name).read()

    def read_summary(self, project_id: str, name: str) -> Optional[IndexSummary]:
        with guard():
            self._check_marker(create=False)
            return self._index(project_id, name).read_summary()

    def write_index(self, project_id: str, index: StoredIndex, expect_version: Optional[str] = None) -> StoredIndex:
        with guard():
            self._check_marker(create=True)
            return self._index(project_id, index.name).publish(index, expect_version)

    def delete_index(self, project_id: str, name: str) -> bool:
        with guard():
            self._check_marker(create=False)
            return self._index(project_id, name).delete()

    def list_indexes(self, project_id: str) -> list[IndexSummary]:
        with guard():
            self._check_marker(create=False)
            folder = os.path.join(self._project_dir(project_id), "indexes")
            try:
                entries = sorted(os.listdir(folder))
            except FileNotFoundError:
                return []
            out: list[IndexSummary] = []
            for entry in entries:
                summary = _summary_of_directory(os.path.join(folder, entry))
                if summary is not None:
                    out.append(summary)
            return sorted(out, key=lambda s: s.name)

    def index_directory(self, project_id: str, name: str) -> IndexDirectory:
        """The directory holding every version of index ``name`` (``moss-ref inspect`` checks its files)."""
        return self._index(project_id, name)

    def index_directories(self, project_id: str) -> list[IndexDirectory]:
        """Every index directory of the project, by directory name, unread (``moss-ref ls``)."""
        folder = os.path.join(self._project_dir(project_id), "indexes")
        try:
            entries = sorted(os.listdir(folder))
        except FileNotFoundError:
            return []
        paths = [os.path.join(folder, entry) for entry in entries]
        return [IndexDirectory(path, None) for path in paths if os.path.isdir(path)]

    # -- jobs (STO-7) ---------------------------------------------------------------------------

    def _job_path(self, project_id: str, job_id: str) -> Optional[str]:
        if not isinstance(job_id, str) or not _JOB_ID_RE.match(job_id):
            return None
        return os.path.join(self._project_dir(project_id), "jobs", f"{job_id}.json")

    def save_job(self, project_id: str, job: JobRecord) -> None:
        path = self._job_path(project_id, job.job_id)
        if path is None:
            raise ValueError(f"job id {job.job_id!r} must match [A-Za-z0-9_-]{{1,128}}")
        body = seal({k: getattr(job, k) for k in _JOB_KEYS})
        with guard():
            self._check_marker(create=True)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, body)

    def read_job(self, project_id: str, job_id: str) -> Optional[JobRecord]:
        path = self._job_path(project_id, job_id)
        if path is None:
            return None
        with guard("The job record could not be decoded."):
            self._check_marker(create=False)
            try:
                data = read_bytes(path, 1 << 16, f"job {job_id}")
            except FileNotFoundError:
                return None
            return _job_from_json(unseal(data, f"job {job_id}"), job_id)


def _summary_of_directory(path: str) -> Optional[IndexSummary]:
    """Summary of an index directory found by listing (its real name comes from its manifest,
    which must map back to this very directory)."""
    if not os.path.isdir(path):
        return None
    return IndexDirectory(path, None).read_summary()


def _job_from_json(record: Any, job_id: str) -> JobRecord:
    if not isinstance(record, dict) or sorted(record) != sorted(_JOB_KEYS):
        raise FormatError(f"job {job_id}: expected exactly the keys {', '.join(_JOB_KEYS)}")
    strings = ("job_id", "index_name", "kind", "status", "created_at", "updated_at")
    for key in strings:
        if not isinstance(record[key], str):
            raise FormatError(f"job {job_id}: {key} must be a string")
    for key in ("completed_at", "error"):
        if record[key] is not None and not isinstance(record[key], str):
            raise FormatError(f"job {job_id}: {key} must be a string or null")
    count = record["doc_count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise FormatError(f"job {job_id}: doc_count must be an integer >= 0")
    if record["job_id"] != job_id:
        raise FormatError(f"job {job_id}: the file records job {record['job_id']!r}")
    if record["kind"] not in _JOB_KINDS:
        raise FormatError(f"job {job_id}: unknown kind {record['kind']!r}")
    if record["status"] not in _JOB_STATUSES:
        raise FormatError(f"job {job_id}: unknown status {record['status']!r}")
    return JobRecord(**{k: record[k] for k in _JOB_KEYS})
