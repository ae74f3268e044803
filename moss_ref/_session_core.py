"""The synchronous session: every SessionIndex rule, with no I/O and no event loop (R-API-3).

``SessionCore`` orchestrates; the rules live in small modules it delegates to: document input
(``_docs_input``), filters (``_filters``), query planning and ranking (``_query``), orders
(``_ordering``), grouping (``_grouping``). Every public method validates its whole input before
changing anything (R-D-1, R-E-1); a lock makes each call atomic across threads (R-C-1).
"""

from __future__ import annotations

import math
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Optional, TypeVar

from . import _convert
from ._corpus import Corpus, Record
from ._docs_input import to_document_infos
from ._embedding import embed_checked
from ._errors import InvalidArgumentError, NotADocumentError, internal, invalid, invalid_type, request_invalid
from ._explain import Explanation, explain
from ._filters import compile_filter
from ._grouping import collapse, group_documents
from ._models import CUSTOM
from ._ordering import sort_records
from ._protocols import Embedder, EmbedderFingerprint, KeywordBackend, VectorBackend
from ._query import Hit, plan_query, run
from ._types import (
    DocumentInfo,
    GetDocumentsOptions,
    MutationOptions,
    ParentGrouping,
    QueryOptions,
    QueryResultDocumentInfo,
    SearchResult,
    all_finite_float32,
    metadata_copy,
    stored_embedding,
)

CLOSED = "SessionIndex is closed"
R = TypeVar("R")


class SessionCore:
    """An in-memory index bound to one model: the semantics of ``SessionIndex`` (S-11..S-36)."""

    def __init__(
        self,
        name: str,
        model_id: str,
        *,
        embedder: Optional[Embedder],
        vector_backend_factory: Callable[[], VectorBackend],
        keyword_backend_factory: Optional[Callable[[], KeywordBackend]] = None,
        strict: bool,
    ) -> None:
        self._name = name
        self.strict = strict  # STRICT-1: also refuse input the real SDK accepts but cannot mean
        self._model_id = model_id
        self._embedder = embedder
        self._new_backend = vector_backend_factory
        self._new_keywords = keyword_backend_factory
        self._corpus = self._new_corpus(self._builtin_dimension())
        self._lock = threading.RLock()
        self._closed = False

    # -- properties (S-11..S-13, R-S-3) ------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def doc_count(self) -> int:
        with self._lock:
            self.ensure_open()
            return len(self._corpus)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def is_custom(self) -> bool:
        return self._model_id == CUSTOM

    @property
    def corpus(self) -> Corpus:
        """The searchable contents (used by stores to snapshot a session)."""
        return self._corpus

    @property
    def embedder(self) -> Optional[Embedder]:
        return self._embedder

    def close(self) -> None:
        """Idempotent (S-36)."""
        with self._lock:
            self._closed = True

    def ensure_open(self) -> None:
        """Raise ``InvalidArgumentError("SessionIndex is closed")`` after :meth:`close` (R-S-3)."""
        if self._closed:
            raise InvalidArgumentError(CLOSED)

    def _new_corpus(self, dimension: Optional[int]) -> Corpus:
        keywords = None if self._new_keywords is None else self._new_keywords()
        return Corpus(self._new_backend(), dimension, keywords)

    def _builtin_dimension(self) -> Optional[int]:
        return None if self._embedder is None else self._embedder.fingerprint.dimension

    # -- add_docs (S-14..S-21, R-D-1..R-D-4) ------------------------------------------------

    def add_docs(
        self,
        docs: object,
        options: Optional[MutationOptions] = None,
        *,
        chunker: Optional[Callable[[str], list[str]]] = None,
        chunking: object = None,
    ) -> tuple[int, int]:
        """Validate the whole batch, embed what will be stored, then apply it in order."""
        with self._lock:
            # moss 1.21 reads and checks the input before it looks at the session: a closed
            # session refuses a bad batch with the batch's own error.
            parsed = to_document_infos(docs, chunker=chunker, chunking=chunking, model_id=self._model_id)
            self._check_documents(parsed)
            self.ensure_open()
            self._check_vectors(parsed)
            upsert = _upsert_flag(options)
            plan, added, updated = self._plan_batch(parsed, upsert)
            if not plan:
                return (0, 0)
            vectors = self._vectors_for(plan)
            records = [Record(d.id, d.text, metadata_copy(d), d.payload) for d in plan]
            self._corpus.put(records, vectors)
            return (added, updated)

    def _check_documents(self, docs: Sequence[object]) -> None:
        """DOC-5, DOC-7: items are documents; in a custom session each carries an embedding.

        As in moss 1.21: an empty id is an ordinary id (refused only in strict mode).
        """
        for i, doc in enumerate(docs):
            if not isinstance(doc, DocumentInfo):
                message = f"docs[{i}] must be a DocumentInfo or a dict with 'id' and 'text'; got {type(doc).__name__}"
                raise NotADocumentError(message, detail=message)
            if self.strict and not doc.id:
                raise invalid(f"docs[{i}]: document id must be a non-empty string (strict mode)")
        if not self.is_custom:
            return  # built-in sessions ignore carried embeddings (R-D-4)
        missing = [d.id for d in docs if not stored_embedding(d)]  # type: ignore[arg-type,attr-defined]
        if missing:
            raise ValueError(
                f"Documents missing .embedding for custom model: {missing!r}. "
                "All documents must have .embedding set when using model_id='custom'."
            )

    def _check_vectors(self, docs: Sequence[DocumentInfo]) -> None:
        """DOC-8: every custom vector finite (all checked first), then all of one dimension."""
        if not self.is_custom:
            return
        found = [(doc.id, stored_embedding(doc)) for doc in docs if isinstance(doc, DocumentInfo)]
        vectors = [(doc_id, vector) for doc_id, vector in found if vector]
        if all_finite_float32([vector for _, vector in vectors]):
            vectors_to_check: list[tuple[str, Sequence[float]]] = []  # checked at C speed
        else:
            vectors_to_check = vectors  # type: ignore[assignment]
        for doc_id, vector in vectors_to_check:
            if math.isfinite(sum(vector)):
                continue  # a finite sum proves every component finite (an inf or a NaN would carry over)
            for position, x in enumerate(vector):
                if not math.isfinite(x):
                    shown = "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")
                    raise request_invalid(
                        f"embedding for document '{doc_id}' holds {shown} at position {position}; "
                        "every component must be a finite number"
                    )
        dimension = self._corpus.dimension
        for _, vector in vectors:
            if dimension is None:
                dimension = len(vector)
            elif len(vector) != dimension:
                raise request_invalid(f"Invalid embedding length: expected {dimension} but received {len(vector)}.")

    def _plan_batch(self, docs: Sequence[DocumentInfo], upsert: bool) -> tuple[list[DocumentInfo], int, int]:
        """R-D-2/R-D-3: apply in order; count added/updated; the last applied copy of an id wins.

        An id keeps the place of its first copy in the batch, which is the position that orders
        ties (QRY-6; observed: moss 1.21.0, batch a, b, a ranks a before b).
        """
        stored = self._corpus.records  # not copied: a batch is small, the index may be large
        new: set[str] = set()
        final: dict[str, DocumentInfo] = {}
        added = updated = 0
        for doc in docs:
            if doc.id in stored or doc.id in new:
                if not upsert:
                    continue
                updated += 1
            else:
                added += 1
                new.add(doc.id)
            final[doc.id] = doc  # the last copy wins, in the place of the first
        return list(final.values()), added, updated

    def _vectors_for(self, docs: Sequence[DocumentInfo]) -> list[Sequence[float]]:
        if self.is_custom:
            return [stored_embedding(d) for d in docs]  # type: ignore[misc]
        return self.embed_texts([d.text for d in docs])

    def embed_texts(self, texts: Sequence[str]) -> list[Sequence[float]]:
        """Embed with the session's embedder, its output validated (MOD-2)."""
        if self._embedder is None:
            raise internal(f"model '{self._model_id}' has no embedder")
        return embed_checked(self._embedder, texts)

    # -- delete_docs (S-22, R-D-5) ------------------------------------------------------------

    def delete_docs(self, doc_ids: object) -> int:
        with self._lock:
            ids = _convert.text_list("doc_ids", doc_ids)  # argument types first, a TypeError as in moss 1.21
            self.ensure_open()
            return self._corpus.remove(ids)

    # -- get_docs (S-23..S-26, R-D-6) ---------------------------------------------------------

    def get_docs(self, options: Optional[GetDocumentsOptions] = None, *, vectors: bool = False) -> list[DocumentInfo]:
        """DOC-10..DOC-15. ``vectors=True`` (``MossClient.get_docs`` only) fills custom embeddings."""
        with self._lock:
            opts = options if options is not None else GetDocumentsOptions()
            if not isinstance(opts, GetDocumentsOptions):
                raise invalid_type(f"options must be a GetDocumentsOptions or None; got {type(opts).__name__}")
            # doc_ids, sort_by, ascending and group_by were read when set (API-6); the filter is checked here
            ids = opts.doc_ids
            flt = None if opts.filter is None else compile_filter(opts.filter, "filter", strict=self.strict)
            grouping = opts.group_by
            self.ensure_open()  # after the argument types, as in moss 1.21
            records = self._corpus.records
            if ids is not None:
                chosen = [records[i] for i in ids if i in records]  # DOC-11: request order, repeats kept
            else:
                chosen = sorted(records.values(), key=lambda r: r.id)
            if flt is not None:
                chosen = [r for r in chosen if flt.matches(r.metadata)]
            if ids is None and opts.sort_by is not None:
                chosen = sort_records(chosen, opts.sort_by, opts.ascending is not False)
            if grouping is not None:
                return [
                    DocumentInfo(gid, text, _copy(lead.metadata), None, lead.payload)
                    for lead, gid, text in group_documents(chosen, grouping.parent_field, grouping.order_field)
                ]
            stored = self._corpus.vectors if vectors and self.is_custom else None
            return [_document(r, None if stored is None else stored.get(r.id)) for r in chosen]

    # -- query (S-27..S-32, QRY rules) --------------------------------------------------------

    def query(
        self, query: object, options: Optional[QueryOptions] = None, *, index_name: Optional[str] = None
    ) -> SearchResult:
        """QRY rules: ``min_score`` and ``candidate_depth`` are ignored; a custom session's ``model_id`` is None."""
        with self._lock:
            self.ensure_open()
            started = time.perf_counter()
            plan = plan_query(
                query, options, custom=self.is_custom, dimension=self._corpus.dimension, strict=self.strict
            )
            hits = run(plan, self._corpus, lambda text: self.embed_texts([text])[0])
            docs = self._results(hits, plan.group_by, plan.top_k, index_name)
            elapsed = int((time.perf_counter() - started) * 1000)
            return SearchResult(docs, plan.text, self._name, elapsed, None if self.is_custom else self._model_id)

    def explain_query(self, query: object, options: Optional[QueryOptions] = None) -> Explanation:
        """EXPL-1: the query as :meth:`query` plans and ranks it, explained (moss_ref extension)."""
        with self._lock:
            self.ensure_open()
            plan = plan_query(
                query, options, custom=self.is_custom, dimension=self._corpus.dimension, strict=self.strict
            )
            return explain(plan, self._corpus, lambda text: self.embed_texts([text])[0])

    def _results(
        self, hits: list[Hit], grouping: Optional[ParentGrouping], top_k: int, index_name: Optional[str]
    ) -> list[QueryResultDocumentInfo]:
        records = self._corpus.records

        def result(hit: Hit, doc_id: str, text: str, score: float) -> QueryResultDocumentInfo:
            record = records[hit.id]
            return QueryResultDocumentInfo(doc_id, text, _copy(record.metadata), score, index_name, record.payload)

        if grouping is None:
            return [result(h, h.id, records[h.id].text, h.score) for h in hits]
        groups = collapse(hits, lambda h: records[h.id], grouping.parent_field, grouping.order_field)
        return [result(g.ordered[0], g.id, g.text, max(h.score for h in g.members)) for g in groups[:top_k]]

    # -- bulk replacement (used by stores and disk snapshots) ---------------------------------

    def replace_contents(
        self,
        model_id: str,
        embedder: Optional[Embedder],
        records: Sequence[Record],
        rows: array[float],
        dimension: Optional[int],
        terms: Optional[tuple[array[int], array[int]]] = None,
    ) -> None:
        """Swap in a validated index (model adoption, S-7); builds the new corpus before swapping.

        ``rows`` holds the float32 vectors of ``records`` row after row (VEC-7 bulk load);
        ``terms`` their stored keyword terms (``StoredTerms``), or None to tokenize them.
        """
        with self._lock:
            self.ensure_open()
            corpus = self._new_corpus(None if embedder is None else embedder.fingerprint.dimension)
            corpus.load(records, rows, dimension, terms)
            self._corpus = corpus
            self._model_id = model_id
            self._embedder = embedder

    def fingerprint(self) -> Optional[EmbedderFingerprint]:
        return None if self._embedder is None else self._embedder.fingerprint

    def locked(self, fn: Callable[[], R]) -> R:
        """Run ``fn`` while holding the session lock (atomic snapshots for push)."""
        with self._lock:
            self.ensure_open()
            return fn()


def _document(record: Record, embedding: Optional[Sequence[float]] = None) -> DocumentInfo:
    """DOC-13: a fresh copy; a session passes no ``embedding`` (None, as moss 1.21 returns it)."""
    return DocumentInfo(record.id, record.text, _copy(record.metadata), embedding, record.payload)


def _copy(metadata: Optional[dict[str, str]]) -> Optional[dict[str, str]]:
    return None if metadata is None else dict(metadata)


def _upsert_flag(options: object) -> bool:
    """S-15: None options or ``upsert=None`` mean True; otherwise ``bool(upsert)``."""
    if options is None:
        return True
    if not isinstance(options, MutationOptions):
        raise invalid(f"options must be a MutationOptions or None; got {type(options).__name__}")
    return options.upsert is not False  # a bool or None: MutationOptions reads it when set (API-6)
