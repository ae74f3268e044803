"""Query explain: why each result ranked where it did, with the numbers ranking used (EXPL-1..EXPL-6).

:func:`explain` ranks with :func:`._query.run` itself — the explained order *is* the query's
order — and then reads every number from the functions ranking calls: the candidate lists of
:func:`._query.rank_vectors` and :func:`._query.rank_keywords` (at the same depth), the fused
scores of :func:`._query.fused_scores`, and each query term's BM25 part from
:class:`._keyword_rule.TermStats`, built on the exact rule every keyword backend reproduces
(:func:`._keyword_rule.idf`, :func:`~._keyword_rule.length_norm`, :func:`~._keyword_rule.weight`).

Per result: the vector rank and similarity ``s`` (the dot product with the float32 unit
query rounded to float32, the value the vector order uses; the shown ``score`` is the cosine), the keyword rank and
BM25 with every query token's tf, df, idf and length normalisation, the fused score and its two
parts, and which key put it ahead of the next result: the fused score (or similarity, or BM25
when one signal ranks alone), or — on a tie of that key — its position in the index (QRY-6).
Grouping (``group_by``) is not applied: explain shows the documents that grouping collapses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Optional

from ._bm25 import K1, B
from ._corpus import Corpus
from ._keyword_rule import TermScore, TermStats, document_terms, is_blank_document
from ._query import RRF_K, QueryPlan, check_query_vector, fused_scores, rank_keywords, rank_vectors, run, unit_float32

__all__ = ["ExplainedHit", "Explanation", "TermScore", "explain", "format_explanation"]

HYBRID, VECTOR, KEYWORD, NOTHING = "hybrid", "vector", "keyword", "nothing"


@dataclass(frozen=True)
class ExplainedHit:
    """One result and the numbers that placed it (``None``: the signal did not list it)."""

    rank: int
    id: str
    score: float
    position: int
    vector_rank: Optional[int]
    similarity: Optional[float]
    keyword_rank: Optional[int]
    bm25: Optional[float]
    terms: tuple[TermScore, ...]
    vector_part: Optional[float]
    keyword_part: Optional[float]
    fused: Optional[float]
    decided_by: str
    """Why it ranks above the next result: ``fused score``, ``similarity``, ``bm25`` or
    ``position`` (a tie of that key); ``""`` for the last result."""


@dataclass(frozen=True)
class Explanation:
    """How one query was ranked; ``mode`` is ``hybrid``, ``vector``, ``keyword`` or ``nothing``."""

    query: str
    mode: str
    alpha: float
    rrf_k: int
    top_k: int
    depth: int
    k1: float
    b: float
    doc_count: int
    avgdl: float
    hits: tuple[ExplainedHit, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mode(plan: QueryPlan, corpus: Corpus) -> str:
    """The branch :func:`._query.run` takes (kept in step with it; the tests compare orders)."""
    if plan.top_k == 0 or len(corpus) == 0 or (plan.blank and (plan.embedding is None or plan.alpha == 0.0)):
        return NOTHING
    if plan.needs_vector and corpus.dimension is None:
        return NOTHING
    if plan.alpha >= 1.0 or plan.blank:
        return VECTOR
    return KEYWORD if plan.alpha <= 0.0 else HYBRID


def explain(plan: QueryPlan, corpus: Corpus, embed_query: Callable[[str], Sequence[float]]) -> Explanation:
    """Rank ``corpus`` for ``plan`` exactly as ``run`` does and explain every hit (EXPL-1..EXPL-5)."""
    cache: dict[str, Sequence[float]] = {}

    def embed_once(text: str) -> Sequence[float]:
        if text not in cache:
            cache[text] = embed_query(text)
        return cache[text]

    hits = run(plan, corpus, embed_once)
    mode = _mode(plan, corpus) if hits else NOTHING
    n_docs = len(corpus)
    stats = (
        TermStats(
            {
                i: document_terms(r.text, r.metadata)
                for i, r in corpus.records.items()
                if not is_blank_document(r.text, r.metadata)
            }
        )
        if hits
        else None
    )
    avgdl = stats.avgdl if stats is not None else 0.0
    allowed = corpus.allowed(plan.filter) if hits else None
    vector_list: list[tuple[str, float]] = []
    keyword_list: list[tuple[str, float]] = []
    fused: dict[str, float] = {}
    depth = plan.depth if mode == HYBRID else plan.fetch
    if mode in (HYBRID, VECTOR):
        raw = plan.embedding if plan.embedding is not None else embed_once(plan.text)
        query_vector = unit_float32(check_query_vector(raw, corpus.dimension))
        vector_list = rank_vectors(corpus, query_vector, depth, allowed)
    if mode in (HYBRID, KEYWORD):
        keyword_list = rank_keywords(corpus, plan.text, depth, allowed)
    if mode == HYBRID:
        fused = fused_scores(plan.alpha, vector_list, keyword_list)
    v_rank = {doc_id: r for r, (doc_id, _) in enumerate(vector_list, start=1)}
    k_rank = {doc_id: r for r, (doc_id, _) in enumerate(keyword_list, start=1)}
    bm25 = dict(keyword_list)
    out: list[ExplainedHit] = []
    for i, hit in enumerate(hits):
        vr, kr = v_rank.get(hit.id), k_rank.get(hit.id)
        terms = tuple(stats.term_scores(plan.text, hit.id)) if stats is not None and mode in (HYBRID, KEYWORD) else ()
        out.append(
            ExplainedHit(
                rank=i + 1,
                id=hit.id,
                score=hit.score,
                position=corpus.position[hit.id],
                vector_rank=vr,
                similarity=hit.similarity,
                keyword_rank=kr,
                bm25=bm25.get(hit.id),
                terms=terms,
                vector_part=None if mode != HYBRID or vr is None else plan.alpha / (RRF_K + vr),
                keyword_part=None if mode != HYBRID or kr is None else (1.0 - plan.alpha) / (RRF_K + kr),
                fused=fused.get(hit.id),
                decided_by="",
            )
        )
    explained = [_decided(hit, out[i + 1] if i + 1 < len(out) else None, mode) for i, hit in enumerate(out)]
    top_k = plan.top_k
    return Explanation(plan.text, mode, plan.alpha, RRF_K, top_k, depth, K1, B, n_docs, avgdl, tuple(explained))


def _decided(hit: ExplainedHit, below: Optional[ExplainedHit], mode: str) -> ExplainedHit:
    """EXPL-5: the first key of the ranking order on which ``hit`` beats ``below``."""
    if below is None:
        return hit
    key, mine, theirs = {
        HYBRID: ("fused score", hit.fused, below.fused),
        VECTOR: ("similarity", hit.similarity, below.similarity),
        KEYWORD: ("bm25", hit.bm25, below.bm25),
    }.get(mode, ("position", None, None))
    decided = key if mine is not None and theirs is not None and mine > theirs else "position"
    return replace(hit, decided_by=decided)


def _g(value: Optional[float], digits: int = 6) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def format_explanation(explanation: Explanation) -> str:
    """The readable form ``moss-ref query --explain`` prints (EXPL-6)."""
    e = explanation
    lines = [
        f"query {e.query!r}: {e.mode} ranking, alpha {e.alpha:g}, top_k {e.top_k}, "
        f"{e.depth} candidates per signal, RRF k {e.rrf_k}",
        f"BM25: k1 {e.k1:g}, b {e.b:g}, {e.doc_count} documents, average length {e.avgdl:.6g} tokens",
    ]
    if not e.hits:
        lines.append("no results")
    for hit in e.hits:
        lines.append(f"#{hit.rank}  {hit.id}  score {hit.score:.6g}  (position {hit.position})")
        if e.mode in (HYBRID, VECTOR):
            rank = "not in the vector list" if hit.vector_rank is None else f"rank {hit.vector_rank}"
            lines.append(f"    vector:  {rank}, similarity {_g(hit.similarity, 9)}")
        if e.mode in (HYBRID, KEYWORD):
            rank = "not in the keyword list" if hit.keyword_rank is None else f"rank {hit.keyword_rank}"
            lines.append(f"    keyword: {rank}, BM25 {_g(hit.bm25, 9)}")
            if not any(t.tf for t in hit.terms):
                lines.append("      no query word occurs in it")
            for t in (t for t in hit.terms if t.tf):
                lines.append(
                    f"      {t.term!r}: tf {t.tf}, df {t.df}, idf {t.idf:.6g}, length {t.doc_length} "
                    f"(norm k1*(1-b+b*{t.doc_length}/{t.avgdl:.6g}) = {t.norm:.6g}) -> {t.contribution:.6g}"
                )
        if e.mode == HYBRID:
            v = "0" if hit.vector_rank is None else f"{e.alpha:g}/({e.rrf_k}+{hit.vector_rank})"
            k = "0" if hit.keyword_rank is None else f"{1 - e.alpha:g}/({e.rrf_k}+{hit.keyword_rank})"
            lines.append(f"    fused:   {v} + {k} = {_g(hit.fused, 9)}")
        if hit.decided_by:
            lines.append(f"    above #{hit.rank + 1} by {hit.decided_by}")
    return "\n".join(lines)
