"""The searchable contents of one index: documents, their vectors and the keyword index.

A :class:`Corpus` is shared by a live session and by a client-loaded index. It keeps four
views in step — records by id, one float32 vector per id in a vector backend, the tokens of
each record's keyword document in a keyword backend (BM25: text and metadata, QRY-17), and an inverted
metadata index field -> value -> ids — and changes them only through :meth:`put`
and :meth:`remove`, which callers invoke after the whole batch has been validated (R-D-1), so
the views can never disagree.

Filters (:meth:`allowed`) are answered from the metadata index when the compiled filter's index
plan allows it (``$eq``/``$in`` combined with ``$and``/``$or``: set algebra, no document looked
at); an ``$and`` with some indexable part narrows the candidates that the filter is then
evaluated on; anything else is evaluated on every document. Exact answers are cached per plan
as frozensets until the next change, so a repeated filter costs a dict lookup, and vector
backends can cache the rows of that very frozenset. The result is always the set of ids for
which ``Filter.matches`` holds.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from operator import mul
from typing import Final, Optional

from ._bulk import collector_paused, export_terms, load_rows, load_terms
from ._filters import Filter, IndexAll, IndexAny, IndexPlan, IndexTerm
from ._keyword_rule import documents_terms, is_blank_document
from ._keywords import PythonKeywords
from ._protocols import KeywordBackend, VectorBackend

_CACHE_SIZE: Final = 32  # cached filter results at most, and at most 2 ids per document + 1024 in all
_EMPTY: Final[frozenset[str]] = frozenset()


@dataclass(slots=True)
class Record:
    """A stored document without its vector (the vector lives in the backend)."""

    id: str
    text: str
    metadata: Optional[dict[str, str]]
    payload: Optional[str]


class Corpus:
    """Records + vectors + keywords (+ a metadata index) of one index."""

    __slots__ = (
        "_cache",
        "_cache_lock",
        "_fields",
        "_fixed",
        "_next_position",
        "_norms",
        "dimension",
        "keywords",
        "position",
        "records",
        "vectors",
    )

    def __init__(
        self, vectors: VectorBackend, dimension: Optional[int] = None, keywords: Optional[KeywordBackend] = None
    ) -> None:
        self.records: dict[str, Record] = {}
        #: Each id's place in the index: a counter value given at its first insertion, kept by an
        #: upsert, dropped by a delete (a re-added id goes last). Ties in every ranking order by it,
        #: as in the real SDK (QRY-6); it orders ids exactly as ``records`` (a dict) does.
        self.position: dict[str, int] = {}
        self._next_position = 0
        self.vectors = vectors
        self.keywords: KeywordBackend = PythonKeywords() if keywords is None else keywords
        #: Length of every stored vector. A built-in model fixes it up front; a custom index has
        #: None until its first vectors, and again whenever it becomes empty (S-20, CUS rules).
        self.dimension = dimension
        self._fixed = dimension is not None
        self._fields: dict[str, dict[str, set[str]]] = {}  # field -> value -> ids
        self._cache: dict[IndexPlan, frozenset[str]] = {}
        self._cache_lock = threading.Lock()
        self._norms: dict[str, float] = {}  # id -> |d| of its stored vector, until the next change

    def __len__(self) -> int:
        return len(self.records)

    def put(self, records: Sequence[Record], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or replace ``records`` with their vectors (already validated, one per record).

        New ids take the next positions in order; a replaced id keeps its position (QRY-6).
        """
        if not records:
            return
        ids = [r.id for r in records]
        self.vectors.put(ids, vectors)
        self._put_keywords(records)
        self._changed()
        stored = self.records
        for record in records:
            old = stored.get(record.id)
            if old is not None:
                self._unindex(old)
            stored[record.id] = record
            if old is None:
                self.position[record.id] = self._next_position
                self._next_position += 1
            self._index(record)
        if self.dimension is None:
            self.dimension = len(vectors[0])

    def load(
        self,
        records: Sequence[Record],
        rows: array[float],
        dimension: Optional[int],
        terms: Optional[tuple[array[int], array[int]]] = None,
    ) -> None:
        """Fill an empty corpus with a stored index's records and float32 rows (VEC-7 bulk path),
        and with their stored keyword terms when given (``StoredTerms``), else tokenizing them."""
        assert not self.records, "load() needs an empty corpus"
        if not records:
            return
        assert dimension is not None
        ids = [r.id for r in records]
        with collector_paused():
            load_rows(self.vectors, ids, rows, dimension)
            # an empty backend: its bulk load
            if terms is None:
                self._put_keywords(records)
            else:
                load_terms(self.keywords, records, *terms)
            self._changed()
            # stored order is position order (see _snapshot): ties survive a resume
            self.records = dict(zip(ids, records))
            self.position = dict(zip(ids, range(len(ids))))
            self._next_position = len(ids)
            self._index_all(records)
        if self.dimension is None:
            self.dimension = dimension

    def export_terms(self, records: Sequence[Record]) -> tuple[array[int], array[int]]:
        """``(lengths, terms)`` of ``records`` (stored ones) as the keyword index holds them."""
        return export_terms(self.keywords, records)

    def _put_keywords(self, records: Sequence[Record]) -> None:
        """Index the records' keyword documents; a blank one is left out (and taken out when an
        upsert blanks a document), so it counts in neither N nor avgdl (QRY-17)."""
        kept: list[Record] = []
        blank: list[str] = []
        for r in records:
            if is_blank_document(r.text, r.metadata):
                blank.append(r.id)
            else:
                kept.append(r)
        if blank:
            self.keywords.remove(blank)
        if kept:
            self.keywords.put([r.id for r in kept], documents_terms((r.text, r.metadata) for r in kept))

    def remove(self, ids: Iterable[str]) -> int:
        """Remove the listed ids; unknown ids are ignored and a repeated id counts once (R-D-5)."""
        present = [i for i in dict.fromkeys(ids) if i in self.records]
        if not present:
            return 0
        self.vectors.remove(present)
        self.keywords.remove(present)
        self._changed()
        for doc_id in present:
            self._unindex(self.records.pop(doc_id))
            del self.position[doc_id]
        if not self.records and not self._fixed:
            self.dimension = None
        return len(present)

    # -- filters ---------------------------------------------------------------------------------

    def allowed(self, flt: Optional[Filter]) -> Optional[Set[str]]:
        """Ids passing ``flt`` (None: no filter), read-only; a frozenset when answered from the index."""
        if flt is None:
            return None
        plan = flt.index_plan
        records = self.records
        if plan is not None:
            if flt.exact_plan:
                return self._lookup(plan)
            candidates = self._lookup(plan)
            return {i for i in candidates if flt.matches(records[i].metadata)}
        return {doc_id for doc_id, record in records.items() if flt.matches(record.metadata)}

    def _lookup(self, plan: IndexPlan) -> frozenset[str]:
        """The ids selected by ``plan`` (a superset of the matches when it holds a None part)."""
        cache = self._cache
        with self._cache_lock:
            cached = cache.pop(plan, None)
            if cached is not None:
                cache[plan] = cached  # most recently used last
                return cached
        found = frozenset(self._select(plan))
        with self._cache_lock:
            budget = 2 * len(self.records) + 1024 - len(found)
            while cache and (len(cache) >= _CACHE_SIZE or sum(map(len, cache.values())) > budget):
                del cache[next(iter(cache))]  # least recently used first
            cache[plan] = found
        return found

    def _select(self, plan: IndexPlan) -> Set[str]:
        if isinstance(plan, IndexTerm):
            by_value = self._fields.get(plan.field)
            if not by_value:
                return _EMPTY
            if len(plan.values) == 1:
                return by_value.get(next(iter(plan.values)), _EMPTY)
            return set().union(*(by_value.get(v, _EMPTY) for v in plan.values))
        assert plan is not None
        parts = [self._select(part) for part in plan.parts if part is not None]
        if isinstance(plan, IndexAll):
            parts.sort(key=len)
            return set(parts[0]).intersection(*parts[1:])
        assert isinstance(plan, IndexAny)
        return set().union(*parts)

    def norm(self, doc_id: str) -> float:
        """``|d| = sqrt(fsum(d_i * d_i))`` of ``doc_id``'s stored vector (0.0 without one; QRY-1).

        Squares of float32 values are exact in float64, so this is the same on every backend;
        cached per id until the next change (a shown score needs it for every hit).
        """
        norm = self._norms.get(doc_id)
        if norm is None:
            vector = self.vectors.get(doc_id) or []
            norm = self._norms[doc_id] = math.sqrt(math.fsum(map(mul, vector, vector)))
        return norm

    def _changed(self) -> None:
        self._norms = {}
        if self._cache:
            with self._cache_lock:
                self._cache.clear()

    def _index_all(self, records: Sequence[Record]) -> None:
        """:meth:`_index` of many records into an empty index (the bulk load's loop)."""
        fields = self._fields
        for record in records:
            metadata = record.metadata
            if not metadata:
                continue
            doc_id = record.id
            for field, value in metadata.items():  # plain str keys and values (API-6)
                by_value = fields.get(field)
                if by_value is None:
                    by_value = fields[field] = {}
                ids = by_value.get(value)
                if ids is None:
                    by_value[value] = {doc_id}
                else:
                    ids.add(doc_id)

    def _index(self, record: Record) -> None:
        metadata = record.metadata
        if not metadata:
            return
        fields = self._fields
        for field, value in metadata.items():  # plain str keys and values: DocumentInfo copies them (API-6)
            by_value = fields.get(field)
            if by_value is None:
                by_value = fields[field] = {}
            ids = by_value.get(value)
            if ids is None:
                by_value[value] = {record.id}
            else:
                ids.add(record.id)

    def _unindex(self, record: Record) -> None:
        metadata = record.metadata
        if not metadata:
            return
        fields = self._fields
        for field, value in metadata.items():
            by_value = fields.get(field, {})
            ids = by_value.get(value)
            if ids is not None:
                ids.discard(record.id)
                if not ids:
                    del by_value[value]
                    if not by_value:
                        del fields[field]
