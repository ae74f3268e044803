"""The store contract: what the real SDK calls the cloud (R-ST-1..R-ST-6, P-5).

A store holds projects; a project holds named indexes and jobs. The contract is small on purpose
(tinydb's storages): authenticate, read/write/delete/list indexes, save/read jobs. A write
publishes a complete new version or nothing (R-ST-5); readers see whole versions only.

The implementations live beside this module: ``memory`` (tests), ``directory`` (the embedded
default, with its on-disk ``format``) and ``http`` (a ``moss-ref serve`` service).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Optional, Protocol, runtime_checkable

from .._corpus import Record
from .._errors import INTERNAL, MossError
from .._protocols import EmbedderFingerprint


@dataclass(frozen=True)
class StoredTerms:
    """The keyword index of a stored version, in document order (FMT-15): what resume loads
    instead of tokenizing every text again.

    ``lengths[i]`` is the number of term ids of record ``i``'s keyword document, or
    ``NOT_INDEXED`` (0xFFFFFFFF) for a blank document; ``terms`` holds the term ids of every indexed
    document, record after record, each record's in ascending order (repeats kept). ``version``
    names the function that made them (``moss_ref._keyword_rule.TERMS_VERSION``): a reader with
    another one ignores them and tokenizes the texts.
    """

    version: str
    lengths: array  # type: ignore[type-arg]  # typecode "I", one per record
    terms: array  # type: ignore[type-arg]  # typecode "I"


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
    index_id: str = ""  # stable across versions; new when an index is deleted and re-created
    keywords: Optional[StoredTerms] = None  # the keyword index's terms, when the writer kept them

    @property
    def doc_count(self) -> int:
        return len(self.records)

    def vector(self, i: int) -> array:  # type: ignore[type-arg]
        d = self.dimension or 0
        return self.vectors[i * d : (i + 1) * d]


@dataclass(frozen=True)
class IndexSummary:
    """What ``list_indexes`` needs without loading vectors."""

    name: str
    model_id: str
    doc_count: int
    version: str
    created_at: str
    updated_at: str
    index_id: str = ""
    embedder: Optional[EmbedderFingerprint] = None
    dimension: Optional[int] = None


class IndexConflict(MossError):
    """A conditional write lost a race: the index is not at the version the writer expected.

    ``expected``/``found`` are versions; ``""`` means "no index". Client calls retry or turn it
    into a specific error (create_index on an existing name).
    """

    def __init__(self, name: str, expected: str, found: str) -> None:
        detail = f"index {name!r} is at version {found or '(none)'!s}, expected {expected or '(none)'!s}"
        super().__init__(f"The index changed while the operation ran. Retry the operation. {detail}", INTERNAL, detail)
        self.name = name
        self.expected = expected
        self.found = found


def summary_of(index: StoredIndex) -> IndexSummary:
    return IndexSummary(
        index.name,
        index.model_id,
        index.doc_count,
        index.version,
        index.created_at,
        index.updated_at,
        index_id=index.index_id,
        embedder=index.embedder,
        dimension=index.dimension,
    )


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

    def read_summary(self, project_id: str, name: str) -> Optional[IndexSummary]:
        """What ``read_index`` would describe, without reading documents or vectors."""

    def write_index(self, project_id: str, index: StoredIndex, expect_version: Optional[str] = None) -> StoredIndex:
        """Publish ``index`` atomically; returns it with ``version``, ``index_id`` and timestamps set.

        ``expect_version`` None writes unconditionally (push); ``""`` only if no index of that
        name exists (create_index); a version only if it is still current (read-modify-write).
        Otherwise nothing changes and ``IndexConflict`` is raised.
        """

    def delete_index(self, project_id: str, name: str) -> bool:
        """True if an index was removed; readers see it gone at once."""

    def list_indexes(self, project_id: str) -> list[IndexSummary]:
        """Every index of the project, by name (code point order)."""

    def save_job(self, project_id: str, job: JobRecord) -> None:
        """Store (or replace) a job record durably."""

    def read_job(self, project_id: str, job_id: str) -> Optional[JobRecord]:
        """The job, or None for an unknown id (any string; never used as a path unchecked)."""
