"""Query validation and hybrid ranking (QRY-1..QRY-14; observed: moss 1.21.0).

A query is first turned into a :class:`QueryPlan` — every option checked, the filter compiled —
before any document is looked at; then :func:`run` ranks the corpus:

* vector signal: ``s = dot(q32, d)`` with ``q32`` the float32-rounded unit query (exact, see
  ``_protocols``); order (s desc, position asc). The shown score is the cosine ``s / |d|``,
  clamped to [0, 1] and rounded to float32 — alpha and rank never change it;
* keyword signal: BM25 (``_bm25`` tokenizes, ``_keyword_rule`` scores, a keyword backend ranks);
  order (bm25 desc, position asc);
* ``alpha`` is clamped to [0, 1]; ``alpha == 1`` ranks by the vector, ``alpha == 0`` by keywords
  with every score 0, anything in between fuses each signal's top ``2 * top_k`` by weighted
  Reciprocal Rank Fusion ``alpha/(30 + rank_v) + (1 - alpha)/(30 + rank_k)`` and orders by
  (fused desc, position asc);
* ``position`` is a document's place in the index (first insertion order, kept by upserts);
* a session ignores ``min_score`` and ``candidate_depth`` (the 1.21 session drops them);
  ``MossClient.query`` honours them (``client_options=True``);
* filters restrict both signals before ranking.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from itertools import repeat
from operator import mul, truediv
from typing import Final, Optional

from ._bm25 import term_ids
from ._corpus import Corpus
from ._errors import InvalidArgumentError, query_invalid
from ._filters import Filter, compile_filter
from ._overlap import both, wanted
from ._types import ParentGrouping, QueryOptions

RRF_K = 30
DEFAULT_ALPHA = 0.8
GROUP_FETCH = 10  # a grouped query ranks top_k * 10 hits, then collapses siblings
CUSTOM_NEEDS_EMBEDDING = "This session uses custom embeddings. Provide a query embedding via QueryOptions.embedding."
_FLOAT32_MAX: Final = 3.4028234663852886e38


@dataclass(frozen=True)
class QueryPlan:
    """A validated query. ``alpha`` is already clamped to [0, 1]."""

    text: str
    top_k: int
    alpha: float
    embedding: Optional[list[float]]
    filter: Optional[Filter]
    min_score: Optional[float]
    depth: int
    group_by: Optional[ParentGrouping]
    dimension: Optional[int] = None  # the dimension ``embedding`` was checked against (None: not checked)
    square_sum: Optional[float] = None  # math.fsum of the squares of ``embedding`` when checked for use

    @property
    def blank(self) -> bool:
        return not self.text.strip()

    @property
    def needs_vector(self) -> bool:
        """Whether ranking uses the vector signal at all (alpha 0 never embeds, Q-6)."""
        return self.alpha > 0

    @property
    def fetch(self) -> int:
        """How many ranked hits the query needs: ``top_k``, or ``GROUP_FETCH * top_k`` when grouped."""
        return self.top_k * (GROUP_FETCH if self.group_by is not None else 1)


@dataclass(frozen=True)
class Hit:
    """One ranked document: its id, its exact similarity (None at keyword-only ranking) and shown score."""

    id: str
    similarity: Optional[float]
    score: float = 0.0


def _finite(name: str, value: float, what: str) -> float:
    """A finite number, else InvalidArgumentError (QueryOptions made it a float when set, API-6)."""
    if not math.isfinite(value):
        raise query_invalid(f"{name} must be {what}; got {value!r}")
    return value


def _unit_interval(name: str, value: float, what: str) -> float:
    """A finite number in [0, 1], else InvalidArgumentError."""
    number = _finite(name, value, f"{what} between 0.0 and 1.0")
    if not 0.0 <= number <= 1.0:
        raise query_invalid(f"{name} must be {what} between 0.0 and 1.0; got {value!r}")
    return number


def check_query_vector(vector: Sequence[float], dimension: Optional[int], *, used: bool = True) -> list[float]:
    """QRY-2: non-empty, finite, of the index dimension; with a usable norm when ``used``.

    ``vector`` is either ``QueryOptions.embedding`` (see :func:`check_option_vector`, which does
    the same for it with fewer passes) or an embedder's output, which ``embed_checked`` found to
    be a sequence of numbers finite as float32 (MOD-2). The norm matters only when the vector
    signal is used (``alpha > 0``): then the sum of the squared float32 components, rounded to
    float32, must be neither 0 nor infinite — so an all-zero vector is refused there and accepted
    by a keyword-only query (observed: moss 1.21.0).
    """
    values = list(map(float, vector))
    _check_values(values, dimension)
    if used:
        as32 = array("f", values)
        _check_square_sum(math.fsum(map(mul, as32, as32)))
    return values


def check_option_vector(
    vector: list[float], dimension: Optional[int], *, used: bool
) -> tuple[list[float], Optional[float]]:
    """:func:`check_query_vector` for ``QueryOptions.embedding``, with the same outcome, and
    ``math.fsum`` of the squares of its components when ``used`` (None otherwise), for
    :func:`unit_float32`.

    ``vector`` is what the getter returns: a new list of the float32 values set (a value beyond
    the float32 range became infinite, API-6; no subclass can override the getter, API-7; a copy,
    API-1, so nobody else holds it). Its components are their own float32 casts, so one sum of
    squares serves the check and the normalisation, and the list itself is kept.
    """
    values = vector
    _check_values(values, dimension)
    if not used:
        return values, None
    square_sum = math.fsum(map(mul, values, values))
    _check_square_sum(square_sum)
    return values, square_sum


def _check_values(values: list[float], dimension: Optional[int]) -> None:
    if not values:
        raise query_invalid("query embedding must be non-empty.")
    if not math.isfinite(sum(values)):  # a finite sum proves every component finite
        raise query_invalid(
            "query embedding must contain only finite numbers; every component must be a finite float32 number "
            f"(at most {_FLOAT32_MAX:g} in magnitude)"
        )
    if dimension is not None and len(values) != dimension:
        raise query_invalid(f"Invalid query embedding length: expected {dimension} but received {len(values)}.")


def _check_square_sum(square_sum: float) -> None:
    """The exact sum of the squared float32 components, rounded to float32, is neither 0 nor infinite."""
    rounded = array("f", [square_sum])[0]  # the cast gives inf past float32
    if rounded == 0.0 or math.isinf(rounded):
        raise query_invalid(
            "query embedding must have a nonzero, finite norm: the sum of its squared float32 components "
            "is 0 or overflows float32, so it has no direction for cosine similarity (alpha 0 accepts it)"
        )


def unit_float32(vector: Sequence[float], square_sum: Optional[float] = None) -> array[float]:
    """``q / |q|`` computed in float64, then rounded to float32 (the query side of QRY-1), as the
    ``array('f')`` the vector backends are handed (a numpy one reads it without a float per value);
    ``square_sum``, when given, is ``math.fsum`` of the squares of ``vector`` (a caller that has it)."""
    norm = math.sqrt(math.fsum(map(mul, vector, vector)) if square_sum is None else square_sum)
    if not math.isfinite(norm) or norm == 0.0:
        # Components so large their squares overflow: rescale first (the direction is what counts).
        peak = max(abs(x) for x in vector)
        scaled = [x / peak for x in vector]
        norm = math.sqrt(math.fsum(x * x for x in scaled))
        return array("f", [x / norm for x in scaled])
    return array("f", map(truediv, vector, repeat(norm, len(vector))))  # x / norm, at C speed


def plan_query(
    text: object,
    options: Optional[QueryOptions],
    *,
    custom: bool,
    dimension: Optional[int],
    default_top_k: int = 5,
    strict: bool = False,
    client_options: bool = False,
) -> QueryPlan:
    """Validate a query completely (S-28 first, then every option) before ranking.

    ``alpha`` must be a finite number and is clamped to [0, 1] (strict mode refuses values
    outside). A grouped query ranks like an ungrouped one with ``top_k * GROUP_FETCH`` (so its
    candidate depth is twice that), then collapses siblings into at most ``top_k`` groups.
    ``client_options``: honour ``min_score`` and ``candidate_depth`` (``MossClient.query``); a
    session ignores both, unchecked, as the 1.21 session does (strict mode refuses them there).
    """
    opts = options if options is not None else QueryOptions()
    if not isinstance(opts, QueryOptions):
        raise query_invalid(f"options must be a QueryOptions or None; got {type(opts).__name__}")
    if custom and opts.embedding is None:
        raise InvalidArgumentError(CUSTOM_NEEDS_EMBEDDING)
    if not isinstance(text, str):
        raise query_invalid(f"query must be a str; got {type(text).__name__}")
    top_k = default_top_k if opts.top_k is None else opts.top_k  # an int >= 0 since it was set (API-6)
    raw_alpha = DEFAULT_ALPHA if opts.alpha is None else opts.alpha
    if strict:
        if opts.alpha_was_bool:  # the options read True as 1.0 and False as 0.0, as moss's do (API-6)
            raise query_invalid(f"alpha must be a finite number between 0.0 and 1.0; got the bool {opts.alpha}")
        alpha = _unit_interval("alpha", raw_alpha, "a finite number")
    else:
        alpha = min(1.0, max(0.0, _finite("alpha", raw_alpha, "a finite number (clamped to [0, 1])")))
    embedding = square_sum = None
    given = opts.embedding  # a new list on every read (API-1): read it once
    if given is not None:
        # An index with no vectors yet (dimension None) answers [] before the norm is looked at;
        # non-finite components are refused everywhere (observed: moss 1.21.0).
        embedding, square_sum = check_option_vector(given, dimension, used=alpha > 0 and dimension is not None)
    flt = None if opts.filter is None else compile_filter(opts.filter, "filter", strict=strict)
    group_by = opts.group_by  # None or a ParentGrouping of two str: QueryOptions reads it when set (API-6)
    fetch = top_k * (GROUP_FETCH if group_by is not None else 1)
    min_score: Optional[float] = None
    depth = 2 * fetch
    if client_options:
        if opts.min_score is not None:
            min_score = _unit_interval("min_score", opts.min_score, "a number")
            if alpha == 0.0:
                raise query_invalid(
                    "min_score requires a query embedding; it is not supported for keyword-only queries "
                    "(alpha == 0 or an index with no vectors)"
                )
        if opts.candidate_depth is not None:
            depth = opts.candidate_depth
            if depth < 1:
                raise query_invalid(f"candidate_depth must be at least 1; got {depth}")
            depth = max(depth, fetch)
    elif strict:
        for name in ("min_score", "candidate_depth"):
            if getattr(opts, name) is not None:
                raise query_invalid(
                    f"SessionIndex.query ignores {name} (the real SDK never applies it in a session); "
                    "leave it None here, or use MossClient.query on a loaded index, which honours it"
                )
    checked = dimension if embedding is not None and alpha > 0 else None
    return QueryPlan(text, top_k, alpha, embedding, flt, min_score, depth, group_by, checked, square_sum)


def rank_vectors(
    corpus: Corpus, query_vector: Sequence[float], k: int, allowed: Optional[Set[str]]
) -> list[tuple[str, float]]:
    """The ``k`` best ``(id, s)`` by (s desc, position asc), ``s`` rounded to float32 (QRY-1, QRY-6).

    Backends rank by the exact similarity and order ties by id. Rounding is monotone, so the
    float32 values come in the same order, with new ties among documents whose exact values
    differ by less than float32 resolution. To order every tie by position, ask for one more row
    than needed and, while the extra row still ties with the k-th, for twice as many, so every
    document tied with the k-th is seen before the cut.
    """
    if k <= 0:
        return []
    want = k + 1
    while True:
        got = corpus.vectors.rank(query_vector, want, allowed)
        rounded = array("f", [s for _, s in got]).tolist()
        if len(got) < want or rounded[-1] < rounded[k - 1]:
            break
        want *= 2
    position = corpus.position
    ranked = sorted(zip((i for i, _ in got), rounded), key=lambda item: (-item[1], position[item[0]]))
    return ranked[:k]


def similarities32(corpus: Corpus, query_vector: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
    """QRY-1: the similarity of each of ``ids``, rounded to float32 as :func:`rank_vectors` does."""
    exact = corpus.vectors.similarities(query_vector, ids)
    return dict(zip(exact, array("f", exact.values()).tolist()))


def rank_keywords(corpus: Corpus, text: str, k: int, allowed: Optional[Set[str]]) -> list[tuple[str, float]]:
    """The ``k`` best ``(id, bm25)`` by (bm25 desc, position asc) (QRY-3, QRY-6)."""
    if k <= 0:
        return []
    return corpus.keywords.rank(term_ids(text), k, corpus.position, allowed)


def scored(corpus: Corpus, hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` with their shown scores filled in (QRY-1): the cosine ``s / |d|`` clamped to
    [0, 1], rounded to float32 (all in one array); 0 for a zero document vector and for
    keyword-only hits."""
    norm = corpus.norm
    cosines = []
    for h in hits:
        if h.similarity is not None:
            d = norm(h.id)
            cosines.append(0.0 if d == 0.0 else min(1.0, max(0.0, h.similarity / d)))
    shown = iter(array("f", cosines).tolist())
    return [h if h.similarity is None else Hit(h.id, h.similarity, next(shown)) for h in hits]


def run(plan: QueryPlan, corpus: Corpus, embed_query: Callable[[str], Sequence[float]]) -> list[Hit]:
    """Rank ``corpus`` for a validated plan; ``embed_query`` is called only if the vector signal is used.

    A blank query returns nothing at alpha 0 and without an embedding; with an embedding at
    alpha > 0 it ranks by the vector alone (observed: moss 1.21.0). Returns ``plan.fetch`` hits
    at most (more only before ``min_score`` applies).
    """
    if plan.top_k == 0 or len(corpus) == 0 or (plan.blank and (plan.embedding is None or plan.alpha == 0.0)):
        return []
    allowed = corpus.allowed(plan.filter)
    if allowed is not None and not allowed:
        return []
    if plan.needs_vector and corpus.dimension is None:
        return []  # a custom index with no vectors yet (R-Q-9)
    k = plan.fetch
    if 0.0 < plan.alpha < 1.0 and not plan.blank:
        query_vector, order, similarity = _fuse(plan, corpus, embed_query, allowed, plan.depth)
        if plan.min_score is None:
            del order[k:]  # only the hits returned need a similarity (their shown score)
        missing = [doc_id for doc_id in order if doc_id not in similarity]
        if missing:
            similarity.update(similarities32(corpus, query_vector, missing))
        hits = [Hit(doc_id, similarity[doc_id]) for doc_id in order]
    elif plan.alpha <= 0.0 and not plan.blank:
        hits = [Hit(i, None) for i, _ in rank_keywords(corpus, plan.text, k, allowed)]
    else:
        hits = [Hit(i, s) for i, s in rank_vectors(corpus, _query_vector(plan, corpus, embed_query), k, allowed)]
    if plan.min_score is not None:
        hits = [h for h in scored(corpus, hits) if h.score >= plan.min_score]
    return scored(corpus, hits[:k])


def fused_scores(
    alpha: float, vector_list: Sequence[tuple[str, float]], keyword_list: Sequence[tuple[str, float]]
) -> dict[str, float]:
    """QRY-5: ``alpha/(RRF_K + rank_v) + (1 - alpha)/(RRF_K + rank_k)``, ranks from 1; a list a
    document is missing from adds nothing. Used by ranking and by query explain (EXPL-4)."""
    fused: dict[str, float] = {}
    for rank, (doc_id, _) in enumerate(vector_list, start=1):
        fused[doc_id] = alpha / (RRF_K + rank)
    for rank, (doc_id, _) in enumerate(keyword_list, start=1):
        fused[doc_id] = fused.get(doc_id, 0.0) + (1.0 - alpha) / (RRF_K + rank)
    return fused


def _checked_embedding(plan: QueryPlan, corpus: Corpus) -> bool:
    """Whether the plan's embedding was checked by plan_query against this very dimension (QRY-2)."""
    return plan.embedding is not None and plan.dimension is not None and plan.dimension == corpus.dimension


def _query_vector(plan: QueryPlan, corpus: Corpus, embed_query: Callable[[str], Sequence[float]]) -> array[float]:
    """The unit float32 query vector of a plan that uses the vector signal (QRY-1, QRY-2)."""
    if _checked_embedding(plan, corpus):
        assert plan.embedding is not None
        return unit_float32(plan.embedding, plan.square_sum)  # its squares were summed by check_option_vector
    raw = check_query_vector(plan.embedding if plan.embedding is not None else embed_query(plan.text), corpus.dimension)
    return unit_float32(raw)


def _fuse(
    plan: QueryPlan,
    corpus: Corpus,
    embed_query: Callable[[str], Sequence[float]],
    allowed: Optional[Set[str]],
    depth: int,
) -> tuple[array[float], list[str], dict[str, float]]:
    """Weighted RRF of the two candidate lists (QRY-5); order (fused desc, position asc) (QRY-6).

    Returns the query vector, the fused order and the (float32) similarities of the vector list;
    the caller looks up the similarities of the keyword-only hits it keeps (ranking needs only
    ranks). The keyword list may be ranked on a helper thread meanwhile (``_overlap``).
    """

    ready: Optional[array[float]] = None
    if not _checked_embedding(plan, corpus):
        ready = _query_vector(plan, corpus, embed_query)  # an embedder is user code: it runs before any ranking

    def vectors() -> tuple[array[float], list[tuple[str, float]]]:
        query_vector = ready if ready is not None else _query_vector(plan, corpus, embed_query)
        return query_vector, rank_vectors(corpus, query_vector, depth, allowed)

    (query_vector, vector_list), keyword_list = both(
        vectors,
        lambda: rank_keywords(corpus, plan.text, depth, allowed),
        overlap=wanted(len(corpus), corpus.dimension or 0, corpus.vectors, corpus.keywords),
    )
    fused = fused_scores(plan.alpha, vector_list, keyword_list)
    position = corpus.position
    order = sorted(fused, key=lambda doc_id: (-fused[doc_id], position[doc_id]))
    return query_vector, order, dict(vector_list)
