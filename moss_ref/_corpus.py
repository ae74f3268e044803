"""The searchable contents of one index: documents, their vectors and the keyword index.

A :class:`Corpus` is shared by a live session and by a client-loaded index. It keeps three
views in step — records by id, one float32 vector per id in a vector backend, and the BM25
index — and changes them only through :meth:`put` and :meth:`remove`, which callers invoke after
the whole batch has been validated (R-D-1), so the views can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional

from ._bm25 import KeywordIndex
from ._filters import Filter
from ._protocols import VectorBackend


@dataclass(slots=True)
class Record:
    """A stored document without its vector (the vector lives in the backend)."""

    id: str
    text: str
    metadata: Optional[dict[str, str]]
    payload: Optional[str]


class Corpus:
    """Records + vectors + keywords of one index."""

    __slots__ = ("_fixed", "dimension", "keywords", "records", "vectors")

    def __init__(self, vectors: VectorBackend, dimension: Optional[int] = None) -> None:
        self.records: dict[str, Record] = {}
        self.vectors = vectors
        self.keywords = KeywordIndex()
        #: Length of every stored vector. A built-in model fixes it up front; a custom index has
        #: None until its first vectors, and again whenever it becomes empty (S-20, CUS rules).
        self.dimension = dimension
        self._fixed = dimension is not None

    def __len__(self) -> int:
        return len(self.records)

    def put(self, records: Sequence[Record], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or replace ``records`` with their vectors (already validated, one per record)."""
        if not records:
            return
        self.vectors.put([r.id for r in records], vectors)
        for record in records:
            self.records[record.id] = record
            self.keywords.add(record.id, record.text)
        if self.dimension is None:
            self.dimension = len(vectors[0])

    def remove(self, ids: Iterable[str]) -> int:
        """Remove the listed ids; unknown ids are ignored and a repeated id counts once (R-D-5)."""
        present = [i for i in dict.fromkeys(ids) if i in self.records]
        self.vectors.remove(present)
        for doc_id in present:
            del self.records[doc_id]
            self.keywords.remove(doc_id)
        if not self.records and not self._fixed:
            self.dimension = None
        return len(present)

    def matching(self, flt: Optional[Filter]) -> Optional[set[str]]:
        """Ids passing ``flt`` (None means: no filter, every document)."""
        if flt is None:
            return None
        return {doc_id for doc_id, record in self.records.items() if flt.matches(record.metadata)}
