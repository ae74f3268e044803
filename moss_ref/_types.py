"""Value types of the Moss API (T-1..T-16), with the real SDK's constructor signatures.

Constructors validate types the way the real SDK's constructors do (T-1: ``DocumentInfo`` is
strict about ``str``; T-12: ``QueryOptions.top_k`` must be a non-negative ``int``); value
ranges (alpha, min_score, filters) are checked when the options are used, not here (T-12).
As in the compiled originals (observed: moss 1.21.0), instances compare and hash by identity,
and the ``metadata``/``embedding`` read from a ``DocumentInfo`` are fresh copies; unlike them,
these types have a readable ``repr``.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Optional, TypeVar

from . import _convert

__all__ = [
    "DocumentInfo",
    "QueryResultDocumentInfo",
    "SearchResult",
    "QueryOptions",
    "GetDocumentsOptions",
    "MutationOptions",
    "ParentGrouping",
    "PushIndexResult",
    "MutationResult",
    "JobStatus",
    "JobPhase",
    "JobStatusResponse",
    "JobProgress",
    "IndexStatus",
    "IndexStatusValues",
    "IndexInfo",
    "ModelRef",
    "LoadIndexesResult",
    "Chunking",
]


_T = TypeVar("_T", bound=type)


def _final(cls: _T) -> _T:
    """API-7: moss 1.21's value types are native classes that Python cannot subclass (``class
    Q(moss.QueryOptions)`` is a ``TypeError``); neither can these, so no subclass can bypass
    the conversions of API-6 (a property overridden to return a string, say)."""

    def refuse(sub: type, /, **kwargs: object) -> None:
        raise TypeError(f"type 'moss_ref.{cls.__name__}' is not an acceptable base type")

    setattr(cls, "__init_subclass__", classmethod(refuse))  # noqa: B010  # (typed code cannot assign a method)
    return cls


_check_str = _convert.text


_HIGH: Final = 3 if sys.byteorder == "little" else 0  # the byte holding the sign and top exponent bits
_NEXT: Final = 2 if sys.byteorder == "little" else 1  # the byte holding the lowest exponent bit


def all_finite_float32(vectors: Sequence[Sequence[float]]) -> bool:
    """True when ``vectors`` are all ``array('f')`` and every component is finite, checked at C speed
    on their bytes (a float32 is NaN or infinite exactly when its exponent bits are all ones: a
    high byte of 0x7F or 0xFF and the top bit of the next). False also when some vector is not an
    ``array('f')``: the caller then checks component by component."""
    if not all(type(v) is array and v.typecode == "f" for v in vectors):
        return False
    raw = b"".join(vectors)  # type: ignore[arg-type]
    high = raw[_HIGH::4]
    for top in (0x7F, 0xFF):
        start = high.find(top)
        while start != -1:
            if raw[4 * start + _NEXT] & 0x80:
                return False
            start = high.find(top, start + 1)
    return True


def stored_embedding(doc: DocumentInfo) -> Optional[array[float]]:
    """The document's float32 embedding values themselves, not a copy (the core reads, never writes)."""
    return doc._embedding


def metadata_copy(doc: DocumentInfo) -> Optional[dict[str, str]]:
    """One copy of the document's metadata (``doc.metadata`` copies on every read)."""
    md = doc._metadata
    return None if md is None else dict(md)


@_final
class DocumentInfo:
    """A document: ``id``, ``text``, optional ``metadata`` (str -> str), ``embedding``, ``payload``.

    T-1: the constructor is strict (``id``/``text``/metadata values/``payload`` must be ``str``);
    empty ids, empty embeddings and NaN components are accepted here and rejected by ``add_docs``.
    The embedding is kept as float32 values (S-20), so ``0.1`` reads back as ``0.10000000149011612``
    (stored as one ``array('f')``; ``embedding`` returns a fresh list of them).
    """

    __slots__ = ("_embedding", "_id", "_metadata", "_payload", "_text")

    def __init__(
        self,
        id: str,
        text: str,
        metadata: Optional[Mapping[str, str]] = None,
        embedding: Optional[Sequence[float]] = None,
        payload: Optional[str] = None,
    ) -> None:
        self.id = id
        self.text = text
        self.metadata = metadata
        self.embedding = embedding
        self.payload = payload

    @property
    def id(self) -> str:
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        self._id = _check_str("DocumentInfo.id", value)

    @property
    def text(self) -> str:
        return self._text

    @text.setter
    def text(self, value: str) -> None:
        self._text = _check_str("DocumentInfo.text", value)

    @property
    def metadata(self) -> Optional[dict[str, str]]:
        """A fresh copy: changing it changes nothing in the document (as in moss 1.21)."""
        return None if self._metadata is None else dict(self._metadata)

    @metadata.setter
    def metadata(self, value: Optional[Mapping[str, str]]) -> None:
        if value is None:
            self._metadata = None
            return
        self._metadata = _convert.text_mapping("DocumentInfo.metadata", value)

    @property
    def embedding(self) -> Optional[list[float]]:
        """A fresh list of the float32 values (as in moss 1.21)."""
        return None if self._embedding is None else list(self._embedding)

    @embedding.setter
    def embedding(self, value: Optional[Sequence[float]]) -> None:
        self._embedding = None if value is None else _convert.float32_array("DocumentInfo.embedding", value)

    @property
    def payload(self) -> Optional[str]:
        return self._payload

    @payload.setter
    def payload(self, value: Optional[str]) -> None:
        self._payload = None if value is None else _check_str("DocumentInfo.payload", value)

    def __repr__(self) -> str:
        emb = None if self._embedding is None else f"<{len(self._embedding)} floats>"
        return (
            f"DocumentInfo(id={self.id!r}, text={self.text!r}, metadata={self._metadata!r}, "
            f"embedding={emb}, payload={self.payload!r})"
        )


@_final
@dataclass(eq=False)
class QueryResultDocumentInfo:
    """One query hit (T-3). ``score`` in [0, 1] comes from vector similarity alone (Q-4)."""

    id: str
    text: str
    metadata: Optional[dict[str, str]] = None
    score: float = 0.0
    index_name: Optional[str] = None
    payload: Optional[str] = None


@_final
@dataclass(eq=False)
class SearchResult:
    """Query answer (T-4): ``docs`` in relevance order, ``query`` echoes the text."""

    docs: list[QueryResultDocumentInfo]
    query: str
    index_name: Optional[str] = None
    time_taken_ms: Optional[int] = None
    model_id: Optional[str] = None


@_final
class QueryOptions:
    """Query options (T-12). Each field is read when set, as moss 1.21 reads it (API-6): ``embedding``
    as float32 values, ``top_k`` and ``candidate_depth`` as unsigned ints, ``alpha`` and
    ``min_score`` as numbers, ``group_by`` as a ParentGrouping; ``filter`` is kept as given and
    checked when used. Ranges are checked at query time (QRY-2, QRY-4, QRY-9).
    """

    __slots__ = (
        "_alpha",
        "_alpha_bool",
        "_candidate_depth",
        "_embedding",
        "_group_by",
        "_min_score",
        "_top_k",
        "filter",
    )

    def __init__(
        self,
        embedding: Optional[Sequence[float]] = None,
        top_k: Optional[int] = None,
        alpha: Optional[float] = None,
        filter: Optional[Mapping[str, Any]] = None,
        group_by: Optional[ParentGrouping] = None,
        min_score: Optional[float] = None,
        candidate_depth: Optional[int] = None,
    ) -> None:
        self.embedding = embedding
        self.top_k = top_k
        self.alpha = alpha
        self.filter = filter
        self.group_by = group_by
        self.min_score = min_score
        self.candidate_depth = candidate_depth

    @property
    def embedding(self) -> Optional[list[float]]:
        """A fresh list of the float32 values (as in moss 1.21: changing it changes nothing here)."""
        return None if self._embedding is None else list(self._embedding)

    @embedding.setter
    def embedding(self, value: Optional[Sequence[float]]) -> None:
        self._embedding = None if value is None else _convert.float32_list("QueryOptions.embedding", value)

    @property
    def top_k(self) -> Optional[int]:
        return self._top_k

    @top_k.setter
    def top_k(self, value: Optional[int]) -> None:
        self._top_k = _convert.count("QueryOptions.top_k", value)

    @property
    def alpha(self) -> Optional[float]:
        return self._alpha

    @alpha.setter
    def alpha(self, value: Optional[float]) -> None:
        self._alpha = _convert.number("QueryOptions.alpha", value)
        self._alpha_bool = isinstance(value, bool)  # strict mode refuses a bool alpha (STRICT-1)

    @property
    def alpha_was_bool(self) -> bool:
        """Whether ``alpha`` was given as a bool (read as 0.0 or 1.0; strict mode refuses it)."""
        return self._alpha_bool

    @property
    def group_by(self) -> Optional[ParentGrouping]:
        return self._group_by

    @group_by.setter
    def group_by(self, value: Optional[ParentGrouping]) -> None:
        self._group_by: Optional[ParentGrouping] = _convert.instance(
            "QueryOptions.group_by", value, ParentGrouping, "ParentGrouping"
        )

    @property
    def min_score(self) -> Optional[float]:
        return self._min_score

    @min_score.setter
    def min_score(self, value: Optional[float]) -> None:
        self._min_score = _convert.number("QueryOptions.min_score", value)

    @property
    def candidate_depth(self) -> Optional[int]:
        return self._candidate_depth

    @candidate_depth.setter
    def candidate_depth(self, value: Optional[int]) -> None:
        self._candidate_depth = _convert.count("QueryOptions.candidate_depth", value)

    def __repr__(self) -> str:
        return (
            f"QueryOptions(top_k={self.top_k!r}, alpha={self.alpha!r}, filter={self.filter!r}, "
            f"min_score={self.min_score!r}, candidate_depth={self.candidate_depth!r}, "
            f"embedding={'None' if self.embedding is None else f'<{len(self.embedding)} floats>'})"
        )


@_final
class GetDocumentsOptions:
    """get_docs options (T-13), read when set as moss 1.21 reads them (API-6): ``doc_ids`` a list of
    str, ``sort_by`` a str, ``ascending`` a bool, ``group_by`` a ParentGrouping; the filter is
    kept as given and checked when used."""

    __slots__ = ("_ascending", "_doc_ids", "_group_by", "_sort_by", "filter")

    def __init__(
        self,
        doc_ids: Optional[Sequence[str]] = None,
        filter: Optional[Mapping[str, Any]] = None,
        sort_by: Optional[str] = None,
        ascending: Optional[bool] = None,
        group_by: Optional[ParentGrouping] = None,
    ) -> None:
        self.doc_ids = doc_ids
        self.filter = filter
        self.sort_by = sort_by
        self.ascending = ascending
        self.group_by = group_by

    @property
    def doc_ids(self) -> Optional[list[str]]:
        return self._doc_ids

    @doc_ids.setter
    def doc_ids(self, value: Optional[Sequence[str]]) -> None:
        self._doc_ids = None if value is None else _convert.text_list("GetDocumentsOptions.doc_ids", value)

    @property
    def sort_by(self) -> Optional[str]:
        return self._sort_by

    @sort_by.setter
    def sort_by(self, value: Optional[str]) -> None:
        self._sort_by = _convert.optional_text("GetDocumentsOptions.sort_by", value)

    @property
    def ascending(self) -> Optional[bool]:
        return self._ascending

    @ascending.setter
    def ascending(self, value: Optional[bool]) -> None:
        self._ascending = _convert.flag("GetDocumentsOptions.ascending", value)

    @property
    def group_by(self) -> Optional[ParentGrouping]:
        return self._group_by

    @group_by.setter
    def group_by(self, value: Optional[ParentGrouping]) -> None:
        self._group_by: Optional[ParentGrouping] = _convert.instance(
            "GetDocumentsOptions.group_by", value, ParentGrouping, "ParentGrouping"
        )

    def __repr__(self) -> str:
        return (
            f"GetDocumentsOptions(doc_ids={self.doc_ids!r}, filter={self.filter!r}, sort_by={self.sort_by!r}, "
            f"ascending={self.ascending!r}, group_by={self.group_by!r})"
        )


@_final
class MutationOptions:
    """``upsert``: None or True replace existing ids (S-15); False skips them (R-D-3). A bool only (API-6)."""

    __slots__ = ("_upsert",)

    def __init__(self, upsert: Optional[bool] = None) -> None:
        self.upsert = upsert

    @property
    def upsert(self) -> Optional[bool]:
        return self._upsert

    @upsert.setter
    def upsert(self, value: Optional[bool]) -> None:
        self._upsert = _convert.flag("MutationOptions.upsert", value)

    def __repr__(self) -> str:
        return f"MutationOptions(upsert={self.upsert!r})"


@_final
class ParentGrouping:
    """Collapse documents sharing metadata ``parent_field``, siblings ordered by ``order_field`` (T-14).
    Both are str, checked when set (API-6)."""

    __slots__ = ("_order_field", "_parent_field")

    def __init__(self, parent_field: str, order_field: str) -> None:
        self.parent_field = parent_field
        self.order_field = order_field

    @property
    def parent_field(self) -> str:
        return self._parent_field

    @parent_field.setter
    def parent_field(self, value: str) -> None:
        self._parent_field = _convert.text("ParentGrouping.parent_field", value)

    @property
    def order_field(self) -> str:
        return self._order_field

    @order_field.setter
    def order_field(self, value: str) -> None:
        self._order_field = _convert.text("ParentGrouping.order_field", value)

    def __repr__(self) -> str:
        return f"ParentGrouping(parent_field={self.parent_field!r}, order_field={self.order_field!r})"


@_final
@dataclass(frozen=True, eq=False)
class PushIndexResult:
    """Result of ``SessionIndex.push_index`` (T-5). moss_ref pushes synchronously: status ``completed``."""

    job_id: str
    index_name: str
    doc_count: int
    status: str


@_final
@dataclass(frozen=True, eq=False)
class MutationResult:
    """Result of a client-side mutation job (T-6)."""

    job_id: str
    index_name: str
    doc_count: int


class _StrEnumLike:
    """A class-constant namespace whose members carry ``.value`` (as the compiled enums do)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _StrEnumLike):
            return type(self) is type(other) and self.value == other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"

    def __str__(self) -> str:
        return self.value


@_final
class JobStatus(_StrEnumLike):
    """Job status constants (T-8)."""

    PENDING_UPLOAD: JobStatus
    UPLOADING: JobStatus
    BUILDING: JobStatus
    COMPLETED: JobStatus
    FAILED: JobStatus


for _n in ("PENDING_UPLOAD", "UPLOADING", "BUILDING", "COMPLETED", "FAILED"):
    setattr(JobStatus, _n, JobStatus(_n.lower()))


@_final
class JobPhase(_StrEnumLike):
    """Job phase constants (T-9)."""

    DOWNLOADING: JobPhase
    DESERIALIZING: JobPhase
    GENERATING_EMBEDDINGS: JobPhase
    BUILDING_INDEX: JobPhase
    UPLOADING: JobPhase
    CLEANUP: JobPhase
    WAITING_FOR_PARSER: JobPhase
    PARSING: JobPhase
    PARSING_COMPLETE: JobPhase
    QUEUED: JobPhase
    CRAWLING: JobPhase
    PARSING_DOCUMENTS: JobPhase


for _n in (
    "DOWNLOADING",
    "DESERIALIZING",
    "GENERATING_EMBEDDINGS",
    "BUILDING_INDEX",
    "UPLOADING",
    "CLEANUP",
    "WAITING_FOR_PARSER",
    "PARSING",
    "PARSING_COMPLETE",
    "QUEUED",
    "CRAWLING",
    "PARSING_DOCUMENTS",
):
    setattr(JobPhase, _n, JobPhase(_n.lower()))


@_final
@dataclass(frozen=True)
class JobStatusResponse:
    """Status of a job (T-7). ISO-8601 timestamps; ``current_phase`` None once completed."""

    job_id: str
    status: JobStatus
    progress: float
    current_phase: Optional[JobPhase]
    error: Optional[str]
    created_at: str
    updated_at: str
    completed_at: Optional[str]


@_final
@dataclass(frozen=True)
class JobProgress:
    job_id: str
    status: JobStatus
    progress: float
    current_phase: Optional[JobPhase]


@_final
class IndexStatus:
    """Index status (T-10), shaped like the real class (observed: moss 1.21.0).

    The constants ``IndexStatus.NotStarted``, ``Building``, ``Ready`` and ``Failed`` are plain
    ``str`` values (``IndexInfo.status`` is one of them); ``IndexStatus(value)`` wraps any ``str``
    in ``.value`` and refuses other types with ``TypeError``. Instances compare by identity, as
    the real ones do.
    """

    NotStarted: ClassVar[str] = "NotStarted"
    Building: ClassVar[str] = "Building"
    Ready: ClassVar[str] = "Ready"
    Failed: ClassVar[str] = "Failed"

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"argument 'value': '{type(value).__name__}' object is not an instance of 'str'")
        self.value = value

    def __repr__(self) -> str:
        return f"IndexStatus({self.value!r})"


IndexStatusValues: dict[str, str] = {n: n for n in ("NotStarted", "Building", "Ready", "Failed")}


@_final
@dataclass(frozen=True)
class ModelRef:
    """Model of an index (T-11)."""

    id: str
    version: str


@_final
@dataclass(frozen=True)
class IndexInfo:
    """An index in the store (T-10)."""

    id: str
    name: str
    version: str
    status: str
    doc_count: int
    created_at: str
    updated_at: str
    model: ModelRef


@_final
@dataclass
class LoadIndexesResult:
    """Best-effort multi-load result (T-16, C-16)."""

    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    failed_codes: dict[str, str] = field(default_factory=dict)


@_final
@dataclass
class Chunking:
    """Native chunking options (D-17). Accepted for signature compatibility; see CONFORMANCE.md."""

    chunk_size: Optional[int] = None
    chunk_overlap: Optional[int] = None
    mode: str = "pages"
    markdown_header_depth: Optional[int] = None
