"""Indexes a client has loaded for querying (C-13..C-18; rules CLD-9..CLD-14).

A loaded index is a read-only ``SessionCore`` built from one stored version; nothing ever
mutates it. Reloading builds a new core and swaps the registry entry, so a query that already
holds the old core finishes on it undisturbed.

``query_loaded`` ranks one or several loaded indexes. For one index it is exactly the session
pipeline (``_query.run``), honouring ``min_score`` and ``candidate_depth`` as the real client
does; ``group_by`` is ignored (the 1.21 client never passes it on). For several
(``query_multi_index``) each signal's candidates are gathered from every index and ranked
together — vector list by (s desc, index position, position), keyword list by (BM25 desc,
index position, position), each index scoring BM25 with its own statistics — then fused by the
same weighted RRF and ordered by (fused desc, index position, position). With a single index
both paths give the same answer (tested).
"""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import Optional

from ._corpus import Corpus
from ._errors import query_invalid
from ._explain import Explanation, explain
from ._protocols import Embedder, KeywordBackend, VectorBackend
from ._query import (
    RRF_K,
    Hit,
    QueryPlan,
    check_query_vector,
    plan_query,
    rank_keywords,
    rank_vectors,
    run,
    scored,
    similarities32,
    unit_float32,
)
from ._session_core import SessionCore
from ._snapshot import contents_for
from ._types import QueryOptions, QueryResultDocumentInfo, SearchResult
from .stores.base import StoredIndex

__all__ = ["LoadedIndex", "LoadedIndexes", "build_core", "explain_loaded", "query_loaded"]

CANNOT_EMBED = "This index cannot embed text queries. Pass a query embedding, or use alpha 0 for keyword-only search."


@dataclass
class LoadedIndex:
    """One loaded index: its core, the stored version it came from, and how it was loaded."""

    name: str
    core: SessionCore
    version: str
    stale: bool = False
    auto_refresh: bool = False
    polling_interval: float = 600.0
    cache_path: Optional[str] = None
    checked_at: float = field(default_factory=time.monotonic)

    def refresh_due(self) -> bool:
        return self.auto_refresh and time.monotonic() - self.checked_at >= self.polling_interval


class LoadedIndexes:
    """Thread-safe name → ``LoadedIndex`` registry of one client."""

    def __init__(self) -> None:
        self._items: dict[str, LoadedIndex] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Optional[LoadedIndex]:
        with self._lock:
            return self._items.get(name)

    def put(self, entry: LoadedIndex) -> None:
        with self._lock:
            self._items[entry.name] = entry

    def pop(self, name: str) -> Optional[LoadedIndex]:
        with self._lock:
            return self._items.pop(name, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def build_core(
    stored: StoredIndex,
    embedder: Optional[Embedder],
    backend_factory: Callable[[], VectorBackend],
    keyword_factory: Optional[Callable[[], KeywordBackend]] = None,
) -> SessionCore:
    """A core holding ``stored`` (re-embedded when another embedder made the vectors, R-M-3)."""
    core = SessionCore(
        stored.name,
        stored.model_id,
        embedder=embedder,
        vector_backend_factory=backend_factory,
        keyword_backend_factory=keyword_factory,
        strict=False,  # never mutated; its queries are planned with the client's strict flag (_plan)
    )
    if stored.doc_count:
        core.replace_contents(stored.model_id, embedder, *contents_for(stored, embedder))
    return core


# -- querying ---------------------------------------------------------------------------------

_Entry = tuple[str, SessionCore]
_Ranked = tuple[int, Hit]  # (index position, hit)


def query_loaded(
    entries: Sequence[_Entry], text: object, options: Optional[QueryOptions], *, multi: bool, strict: bool = False
) -> SearchResult:
    """C-15 (one entry, ``multi=False``) or C-17 (``multi=True``) over read-only cores."""
    started = time.perf_counter()
    first = entries[0][1]
    plan = _plan(entries, text, options, multi=multi, strict=strict)

    def embed(query: str) -> Sequence[float]:
        return first.embed_texts([query])[0]

    corpora = [core.corpus for _, core in entries]
    if multi:
        ranked = _run_multi(plan, corpora, embed)
    else:
        ranked = [(0, hit) for hit in run(plan, corpora[0], embed)]
    docs = _results(ranked, [name for name, _ in entries], corpora, plan, multi)
    elapsed = int((time.perf_counter() - started) * 1000)
    return SearchResult(docs, plan.text, None if multi else entries[0][0], elapsed, first.model_id)


def explain_loaded(
    entry: _Entry, text: object, options: Optional[QueryOptions], *, strict: bool = False
) -> Explanation:
    """EXPL-1: ``MossClient.query`` on one loaded index (C-15), explained."""
    core = entry[1]
    plan = _plan([entry], text, options, multi=False, strict=strict)
    return explain(plan, core.corpus, lambda query: core.embed_texts([query])[0])


def _plan(
    entries: Sequence[_Entry], text: object, options: Optional[QueryOptions], *, multi: bool, strict: bool
) -> QueryPlan:
    """The client's query plan (C-15, C-17): client options honoured, grouping dropped, QRY-2 everywhere."""
    first = entries[0][1]
    custom = first.is_custom
    single_dimension = first.corpus.dimension if not multi else None
    plan = plan_query(
        text,
        _without_grouping(options),
        custom=False,
        dimension=single_dimension,
        default_top_k=10 if multi else 5,
        strict=strict,
        client_options=True,
    )
    if custom and plan.embedding is None and plan.needs_vector and not plan.blank:
        raise query_invalid(CANNOT_EMBED)
    if multi and plan.embedding is not None:
        # QRY-2 at every alpha, against every index, before any index is skipped (CLD-14)
        for _, core in entries:
            if core.corpus.dimension is not None:
                check_query_vector(plan.embedding, core.corpus.dimension, used=plan.needs_vector)
    return plan


def _without_grouping(options: Optional[QueryOptions]) -> Optional[QueryOptions]:
    """``options`` with ``group_by`` dropped: the client's queries never group (the 1.21 client drops it)."""
    if not isinstance(options, QueryOptions) or options.group_by is None:
        return options
    copy = QueryOptions.__new__(QueryOptions)
    for name in QueryOptions.__slots__:  # the stored state as it is (a bool alpha stays marked for strict mode)
        setattr(copy, name, getattr(options, name))
    copy.group_by = None
    return copy


def _run_multi(plan: QueryPlan, corpora: Sequence[Corpus], embed: Callable[[str], Sequence[float]]) -> list[_Ranked]:
    if plan.top_k == 0 or (plan.blank and (plan.embedding is None or plan.alpha == 0.0)):
        return []
    k = plan.top_k
    raw: Optional[Sequence[float]] = plan.embedding
    parts: list[tuple[int, Corpus, Optional[Set[str]], Optional[Sequence[float]]]] = []
    for pos, corpus in enumerate(corpora):
        if len(corpus) == 0:
            continue
        allowed = corpus.allowed(plan.filter)
        if allowed is not None and not allowed:
            continue
        query_vector: Optional[array[float]] = None
        if plan.needs_vector:
            if corpus.dimension is None:
                continue  # a custom index without vectors contributes nothing (R-Q-9)
            if raw is None:
                raw = embed(plan.text)
            query_vector = unit_float32(check_query_vector(raw, corpus.dimension))
        parts.append((pos, corpus, allowed, query_vector))
    if plan.alpha >= 1.0 or plan.blank:
        hits: list[_Ranked] = [(pos, Hit(i, s)) for pos, i, s in _vector_pool(parts, k)]
    elif plan.alpha <= 0.0:
        hits = [(pos, Hit(i, None)) for pos, i, _ in _keyword_pool(plan.text, parts, k)]
    else:
        hits = _fuse_multi(plan, parts, plan.depth)
    by_pos = {pos: corpus for pos, corpus, _, _ in parts}
    if plan.min_score is not None:
        hits = [(pos, h) for pos, h in _scored(by_pos, hits) if h.score >= plan.min_score]
    return _scored(by_pos, hits[:k])


_Part = tuple[int, Corpus, Optional[Set[str]], Optional[Sequence[float]]]


def _scored(by_pos: dict[int, Corpus], hits: Sequence[_Ranked]) -> list[_Ranked]:
    return [(pos, scored(by_pos[pos], [hit])[0]) for pos, hit in hits]


def _vector_pool(parts: Sequence[_Part], k: int) -> list[tuple[int, str, float]]:
    """The ``k`` best ``(index position, id, s)`` over every index: (s desc, index position, position)."""
    pool = [
        (-s, pos, c.position[i], i, s)
        for pos, c, allowed, qv in parts
        for i, s in rank_vectors(c, qv or [], k, allowed)
    ]
    return [(pos, i, s) for _, pos, _, i, s in sorted(pool)[:k]]


def _keyword_pool(text: str, parts: Sequence[_Part], k: int) -> list[tuple[int, str, float]]:
    """The ``k`` best ``(index position, id, bm25)``, each index with its own statistics."""
    pool = [
        (-b, pos, c.position[i], i, b) for pos, c, allowed, _ in parts for i, b in rank_keywords(c, text, k, allowed)
    ]
    return [(pos, i, b) for _, pos, _, i, b in sorted(pool)[:k]]


def _fuse_multi(plan: QueryPlan, parts: Sequence[_Part], depth: int) -> list[_Ranked]:
    """The hybrid rule of QRY-5 over candidates gathered from every index (CLD-14)."""
    fused: dict[tuple[int, str], float] = {}
    similarity: dict[tuple[int, str], float] = {}
    for rank, (pos, doc_id, s) in enumerate(_vector_pool(parts, depth), start=1):
        fused[(pos, doc_id)] = plan.alpha / (RRF_K + rank)
        similarity[(pos, doc_id)] = s
    for rank, (pos, doc_id, _) in enumerate(_keyword_pool(plan.text, parts, depth), start=1):
        fused[(pos, doc_id)] = fused.get((pos, doc_id), 0.0) + (1.0 - plan.alpha) / (RRF_K + rank)
    by_pos = {pos: (c, qv) for pos, c, _, qv in parts}
    for key in fused:
        if key not in similarity:
            corpus, qv = by_pos[key[0]]
            similarity[key] = similarities32(corpus, qv or [], [key[1]])[key[1]]
    order = sorted(fused, key=lambda key: (-fused[key], key[0], by_pos[key[0]][0].position[key[1]]))
    return [(pos, Hit(doc_id, similarity[(pos, doc_id)])) for pos, doc_id in order]


def _results(
    ranked: Sequence[_Ranked], names: Sequence[str], corpora: Sequence[Corpus], plan: QueryPlan, multi: bool
) -> list[QueryResultDocumentInfo]:
    out = []
    for pos, hit in ranked:
        rec = corpora[pos].records[hit.id]
        metadata = None if rec.metadata is None else dict(rec.metadata)
        index_name = names[pos] if multi else None
        out.append(QueryResultDocumentInfo(hit.id, rec.text, metadata, hit.score, index_name, rec.payload))
    return out
