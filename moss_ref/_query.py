"""Query validation and hybrid ranking (R-Q-1..R-Q-9, Q-1..Q-12, S-27..S-31).

A query is first turned into a :class:`QueryPlan` — every option checked, the filter compiled —
before any document is looked at; then :func:`run` ranks the corpus:

* vector signal: ``s = dot(q32, d)`` with ``q32`` the float32-rounded unit query (exact, see
  ``_protocols``); shown score ``clamp(s, 0, 1)``; order (s desc, id asc);
* keyword signal: BM25 (``_bm25``); order (bm25 desc, id asc);
* ``alpha == 1`` ranks by the vector, ``alpha == 0`` by keywords with every score 0, anything
  in between fuses each signal's top ``depth`` by weighted Reciprocal Rank Fusion
  ``alpha/(60 + rank_v) + (1 - alpha)/(60 + rank_k)`` and orders by (fused desc, s desc, id asc);
* filters restrict both signals before ranking; ``min_score`` applies before ``top_k``.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from numbers import Real
from operator import mul
from typing import Final, Optional

from ._corpus import Corpus
from ._errors import InvalidArgumentError, query_invalid
from ._filters import Filter, compile_filter
from ._grouping import is_parent_grouping
from ._types import ParentGrouping, QueryOptions

_PLAIN_NUMBERS: Final = frozenset((float, int))

RRF_K = 60
DEFAULT_ALPHA = 0.8
CUSTOM_NEEDS_EMBEDDING = "This session uses custom embeddings. Provide a query embedding via QueryOptions.embedding."


@dataclass(frozen=True)
class QueryPlan:
    """A validated query."""

    text: str
    top_k: int
    alpha: float
    embedding: Optional[list[float]]
    filter: Optional[Filter]
    min_score: Optional[float]
    depth: int
    group_by: Optional[ParentGrouping]

    @property
    def blank(self) -> bool:
        return not self.text.strip()

    @property
    def needs_vector(self) -> bool:
        """Whether ranking uses the vector signal at all (alpha 0 never embeds, Q-6)."""
        return self.alpha > 0 or (self.blank and self.embedding is not None)


@dataclass(frozen=True)
class Hit:
    """One ranked document: its id and exact similarity (None at keyword-only ranking)."""

    id: str
    similarity: Optional[float]

    @property
    def score(self) -> float:
        """Shown score: the clamped similarity, 0 for keyword-only ranking (Q-4)."""
        return 0.0 if self.similarity is None else min(1.0, max(0.0, self.similarity))


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _to_float(value: Real) -> float:
    """``float(value)``, with numbers too large for a float (huge ints, Fractions) as ±inf (ERR-2)."""
    try:
        return float(value)
    except OverflowError:
        return -math.inf if value < 0 else math.inf


def _unit_interval(name: str, value: object, what: str) -> float:
    """A real number in [0, 1] (no bool, no NaN, nothing too large for a float), else InvalidArgumentError."""
    number = _to_float(value) if _is_number(value) else math.nan  # type: ignore[arg-type]
    if not 0.0 <= number <= 1.0:
        raise query_invalid(f"{name} must be {what} between 0.0 and 1.0; got {value!r}")
    return number


def _count(name: str, value: object, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise query_invalid(f"{name} must be a non-negative integer; got {value!r}")
    if value < 0:
        raise query_invalid(f"{name} must be a non-negative integer; got {value}")
    return value


def check_query_vector(vector: object, dimension: Optional[int]) -> list[float]:
    """M-7 / R-Q-1: non-empty, finite, of the index dimension, nonzero."""
    if isinstance(vector, (str, bytes)) or not isinstance(vector, Sequence):
        raise query_invalid(f"query embedding must be a sequence of numbers; got {type(vector).__name__}")
    items = vector if type(vector) is list else list(vector)  # one pass over the caller's sequence
    values: list[float]
    try:
        if not _PLAIN_NUMBERS.issuperset(map(type, items)):
            raise OverflowError  # not all plain floats and ints: take the checked path below
        values = list(map(float, items))  # fast path
    except OverflowError:
        values = []
        for i, x in enumerate(items):
            if not _is_number(x):
                raise query_invalid(f"query embedding[{i}] must be a number; got {x!r}") from None
            values.append(_to_float(x))
    if not values:
        raise query_invalid("query embedding must be non-empty.")
    # A finite sum proves every component finite (one inf or nan makes the sum inf or nan).
    if not math.isfinite(sum(values)) and not all(math.isfinite(x) for x in values):
        raise query_invalid("query embedding must contain only finite numbers; every component must be a finite number")
    if dimension is not None and len(values) != dimension:
        raise query_invalid(f"Invalid query embedding length: expected {dimension} but received {len(values)}.")
    if not any(values):
        raise query_invalid(
            "query embedding must have a nonzero norm; an all-zero vector has no direction for cosine similarity"
        )
    return values


def unit_float32(vector: Sequence[float]) -> list[float]:
    """``q / |q|`` computed in float64, then rounded to float32 (the query side of R-Q-1)."""
    norm = math.sqrt(math.fsum(map(mul, vector, vector)))
    if not math.isfinite(norm) or norm == 0.0:
        # Components so large their squares overflow: rescale first (the direction is what counts).
        peak = max(abs(x) for x in vector)
        scaled = [x / peak for x in vector]
        norm = math.sqrt(math.fsum(x * x for x in scaled))
        return array("f", [x / norm for x in scaled]).tolist()
    return array("f", [x / norm for x in vector]).tolist()


def plan_query(
    text: object,
    options: Optional[QueryOptions],
    *,
    custom: bool,
    dimension: Optional[int],
    default_top_k: int = 5,
    strict: bool = False,
) -> QueryPlan:
    """Validate a query completely (S-28 first, then every option) before ranking."""
    opts = options if options is not None else QueryOptions()
    if not isinstance(opts, QueryOptions):
        raise query_invalid(f"options must be a QueryOptions or None; got {type(opts).__name__}")
    if custom and opts.embedding is None:
        raise InvalidArgumentError(CUSTOM_NEEDS_EMBEDDING)
    if not isinstance(text, str):
        raise query_invalid(f"query must be a str; got {type(text).__name__}")
    top_k = _count("top_k", opts.top_k, default_top_k)
    alpha = _unit_interval("alpha", DEFAULT_ALPHA if opts.alpha is None else opts.alpha, "a finite number")
    embedding = None if opts.embedding is None else check_query_vector(opts.embedding, dimension)
    flt = None if opts.filter is None else compile_filter(opts.filter, "filter", strict=strict)
    min_score: Optional[float] = None
    if opts.min_score is not None:
        min_score = _unit_interval("min_score", opts.min_score, "a number")
        if alpha == 0.0:
            raise query_invalid(
                "min_score requires a query embedding; it is not supported for keyword-only queries "
                "(alpha == 0 or an index with no vectors)"
            )
    if opts.candidate_depth is not None:
        depth = _count("candidate_depth", opts.candidate_depth, 0)
        if depth < 1:
            raise query_invalid(f"candidate_depth must be at least 1; got {depth}")
        depth = max(depth, top_k)
    else:
        depth = 2 * top_k
    group_by = opts.group_by
    if group_by is not None and not is_parent_grouping(group_by):
        raise query_invalid(f"group_by must be a ParentGrouping of two str field names or None; got {group_by!r}")
    return QueryPlan(text, top_k, alpha, embedding, flt, min_score, depth, group_by)


def run(plan: QueryPlan, corpus: Corpus, embed_query: Callable[[str], Sequence[float]]) -> list[Hit]:
    """Rank ``corpus`` for a validated plan; ``embed_query`` is called only if the vector signal is used."""
    if plan.top_k == 0 or (plan.blank and plan.embedding is None) or len(corpus) == 0:
        return []
    allowed = corpus.allowed(plan.filter)
    if allowed is not None and not allowed:
        return []
    if plan.needs_vector and corpus.dimension is None:
        return []  # a custom index with no vectors yet (R-Q-9)
    k = plan.top_k
    if plan.group_by is not None:
        k = 4 * plan.top_k  # over-fetch so sibling hits can collapse into up to top_k groups
    query_vector: Optional[list[float]] = None
    if plan.needs_vector:
        raw = plan.embedding if plan.embedding is not None else embed_query(plan.text)
        query_vector = unit_float32(check_query_vector(raw, corpus.dimension))
    if plan.alpha >= 1.0 or plan.blank:
        assert query_vector is not None
        hits = [Hit(i, s) for i, s in corpus.vectors.rank(query_vector, k, allowed)]
    elif plan.alpha <= 0.0:
        hits = [Hit(i, None) for i, _ in corpus.keywords.rank(plan.text, k, allowed)]
    else:
        assert query_vector is not None
        hits = _fuse(plan, corpus, query_vector, allowed, max(plan.depth, k))
    if plan.min_score is not None:
        hits = [h for h in hits if h.score >= plan.min_score]
    return hits if plan.group_by is not None else hits[: plan.top_k]


def _fuse(
    plan: QueryPlan, corpus: Corpus, query_vector: list[float], allowed: Optional[Set[str]], depth: int
) -> list[Hit]:
    """Weighted RRF of the two candidate lists (R-Q-3); order (fused desc, s desc, id asc) (R-Q-4)."""
    vector_list = corpus.vectors.rank(query_vector, depth, allowed)
    keyword_list = corpus.keywords.rank(plan.text, depth, allowed)
    fused: dict[str, float] = {}
    similarity = dict(vector_list)
    for rank, (doc_id, _) in enumerate(vector_list, start=1):
        fused[doc_id] = plan.alpha / (RRF_K + rank)
    for rank, (doc_id, _) in enumerate(keyword_list, start=1):
        fused[doc_id] = fused.get(doc_id, 0.0) + (1.0 - plan.alpha) / (RRF_K + rank)
    missing = [doc_id for doc_id, _ in keyword_list if doc_id not in similarity]
    if missing:
        similarity.update(corpus.vectors.similarities(query_vector, missing))
    order = sorted(fused, key=lambda doc_id: (-fused[doc_id], -similarity[doc_id], doc_id))
    return [Hit(doc_id, similarity[doc_id]) for doc_id in order]
