"""The pure-Python keyword backend ``python`` (stdlib only): BM25 top-k with dynamic pruning (KW-4).

Storage: for each document its length and its distinct tokens; for each token a dict id -> tf
(its postings) and the same postings cut into *impact groups*: one set of ids per (tf, length
bucket). Length buckets are exact below 16 tokens and eighth-octaves above ([16, 17], [18, 19],
..., [30, 31], [32, 35], ...), so every document of a group has the same tf and a length of at
least the bucket's lower edge ``lo``.

Upper bounds: a contribution (KW-1) grows with tf and shrinks with length, and every float64 step
of it is monotone, so ``weight(idf, tf, length_norm(lo, avgdl))`` bounds every contribution of a
group (times the token's repeat count in the query) — computed per query, since idf and avgdl
change with every document.

Ranking is group at a time, a block-max relative of MaxScore/NRA (KW-4). Each query token's
groups are visited in descending bound order; an unseen document's score is at most ``U``, the
sum over query tokens of the bound of that token's next unvisited group (0 once all are visited).
The next group visited is the smallest one whose visit alone brings ``U`` below the k-th best
score so far, else the one lowering ``U`` most per id. The ids of a group not seen before (a
C-level set difference, narrowed by the filter) are scored *exactly* (KW-1, KW-2: per document
its signature (length, tf of each query token) is read with C-level ``map`` calls, and each
distinct signature is scored once with ``math.fsum``). As soon as k documents are scored and
``U`` (with a 1e-9 relative margin, far above every rounding involved) is below the k-th best
exact score, no unseen document can enter the top k or tie with its k-th, so the walk stops; the
scored documents at or above the k-th score are sorted by (bm25 desc, position asc) (KW-3). A
query of common words scores the documents of the high-impact groups (repeated words, short
documents) and those needed to settle the k-th score, not every posting.

Not thread-safe by itself; the session serialises mutations.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence, Set
from typing import TYPE_CHECKING, Final

from ._errors import invalid
from ._keyword_rule import NOT_INDEXED, exact_rank, idf, length_norm, weight
from ._protocols import KeywordBackend

__all__ = ["PythonKeywords", "bucket", "bucket_floor", "create"]

_EXACT_BELOW: Final = 16
_GROUP_STRIDE: Final = 512  # group key = tf * 512 + length bucket (buckets stay below 512)
_MARGIN: Final = 1e-9  # relative slack on the unseen bound: far above any rounding of a sum of bounds


def bucket(length: int) -> int:
    """The length bucket of ``length`` >= 1: itself below 16, then eighth-octaves."""
    if length < _EXACT_BELOW:
        return length
    e = length.bit_length() - 1
    return _EXACT_BELOW + (e - 4) * 8 + ((length >> (e - 3)) & 7)


def bucket_floor(lb: int) -> int:
    """The smallest length of bucket ``lb``."""
    if lb < _EXACT_BELOW:
        return lb
    e, m = divmod(lb - _EXACT_BELOW, 8)
    return (8 + m) << (e + 1)


class PythonKeywords:
    """``KeywordBackend`` with impact groups and pruned top-k; see the module docstring."""

    name = "python"

    __slots__ = ("_groups", "_lengths", "_postings", "_terms", "_total_length")

    def __init__(self) -> None:
        self._lengths: dict[str, int] = {}
        self._terms: dict[str, tuple[int, ...]] = {}  # distinct terms of each document
        self._postings: dict[int, dict[str, int]] = {}  # term -> id -> tf
        self._groups: dict[int, dict[int, set[str]]] = {}  # term -> group key -> ids
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def __repr__(self) -> str:
        return f"<PythonKeywords n={len(self._lengths)} tokens={len(self._postings)}>"

    # -- mutation -----------------------------------------------------------------------------

    def put(self, ids: Sequence[str], tokens: Sequence[Sequence[int]]) -> None:
        if len(ids) != len(tokens):
            raise invalid(f"put() got {len(ids)} ids but {len(tokens)} token lists.")
        lengths, terms, postings, groups = self._lengths, self._terms, self._postings, self._groups
        for doc_id, toks in zip(ids, tokens):
            if doc_id in lengths:
                self._unindex(doc_id)
            length = len(toks)
            counts = Counter(toks)
            lengths[doc_id] = length
            terms[doc_id] = tuple(counts)
            self._total_length += length
            lb = bucket(length) if length else 0
            for token, tf in counts.items():
                key = tf * _GROUP_STRIDE + lb
                posting = postings.get(token)
                if posting is None:
                    postings[token] = {doc_id: tf}
                    groups[token] = {key: {doc_id}}
                    continue
                posting[doc_id] = tf
                by_key = groups[token]
                members = by_key.get(key)
                if members is None:
                    by_key[key] = {doc_id}
                else:
                    members.add(doc_id)

    def _unindex(self, doc_id: str) -> None:
        length = self._lengths.pop(doc_id)
        self._total_length -= length
        lb = bucket(length) if length else 0
        postings, groups = self._postings, self._groups
        for token in self._terms.pop(doc_id):
            posting = postings[token]
            key = posting.pop(doc_id) * _GROUP_STRIDE + lb
            by_key = groups[token]
            members = by_key[key]
            members.discard(doc_id)
            if not members:
                del by_key[key]
            if not posting:
                del postings[token], groups[token]

    def remove(self, ids: Iterable[str]) -> None:
        lengths = self._lengths
        for doc_id in ids:
            if doc_id in lengths:
                self._unindex(doc_id)

    def clear(self) -> None:
        self._lengths.clear()
        self._terms.clear()
        self._postings.clear()
        self._groups.clear()
        self._total_length = 0

    def export_terms(self, ids: Sequence[str]) -> tuple[array[int], array[int]] | None:
        """``(lengths, terms)`` of ``ids``, each id's term ids ascending (repeats kept); an id not
        indexed has length ``0xFFFFFFFF``. None when some token is not a 32-bit term id."""
        lengths, out = array("I"), array("I")
        postings, terms, stored = self._postings, self._terms, self._lengths
        try:
            for doc_id in ids:
                length = stored.get(doc_id)
                if length is None:
                    lengths.append(NOT_INDEXED)
                    continue
                lengths.append(length)
                for token in sorted(terms[doc_id]):
                    tf = postings[token][doc_id]
                    if tf == 1:
                        out.append(token)
                    else:
                        out.extend([token] * tf)
        except (OverflowError, TypeError):
            return None  # tokens that are not 32-bit term ids (a third-party caller)
        return lengths, out

    # -- ranking ------------------------------------------------------------------------------

    def rank(
        self, query: Sequence[int], k: int, position: Mapping[str, int], allowed: Collection[str] | None
    ) -> list[tuple[str, float]]:
        n_docs = len(self._lengths)
        if k <= 0 or n_docs == 0:
            return []
        postings, groups = self._postings, self._groups
        counts = Counter(t for t in query if t in postings)
        if not counts:
            return []
        avgdl = self._total_length / n_docs
        terms = tuple(counts)
        reps = tuple(counts.values())
        idfs = tuple(idf(n_docs, len(postings[t])) for t in terms)
        # Per token: its groups by descending bound (one bound covers the token's repeats), then a
        # sentinel (0.0, empty): past its last group a token adds nothing.
        per_term: list[list[tuple[float, set[str]]]] = []
        for t, term_idf, c in zip(terms, idfs, reps):
            bounded = [
                (c * weight(term_idf, key // _GROUP_STRIDE, length_norm(bucket_floor(key % _GROUP_STRIDE), avgdl)), ids)
                for key, ids in groups[t].items()
            ]
            bounded.sort(key=lambda item: -item[0])
            bounded.append((0.0, set()))
            per_term.append(bounded)
        cursor = [0] * len(terms)  # each token's next unvisited group
        allowed_set = _as_set(allowed)
        lookups: list[Callable[[str], int | None]] = [self._lengths.__getitem__, *(postings[t].get for t in terms)]
        memo: dict[tuple[int | None, ...], float] = {}  # (length, tf of each token) -> exact score

        def exact(signature: tuple[int | None, ...]) -> float:
            length = signature[0]
            assert length is not None
            norm = length_norm(length, avgdl)
            parts: list[float] = []
            for tf, term_idf, c in zip(signature[1:], idfs, reps):
                if tf is not None:
                    parts.extend([weight(term_idf, tf, norm)] * c)
            return math.fsum(parts)

        scored: dict[str, float] = {}
        seen: set[str] = set()
        best: list[float] = []  # the k best exact scores so far, descending
        while True:
            unseen = math.fsum(b[g][0] for b, g in zip(per_term, cursor)) * (1.0 + _MARGIN)
            if len(best) == k and unseen < best[-1]:
                break  # no unseen document can reach the k-th best score
            ti = _next_token(per_term, cursor, unseen - best[-1] if len(best) == k else math.inf)
            if ti < 0:
                break  # every group visited
            members = per_term[ti][cursor[ti]][1]
            cursor[ti] += 1
            fresh = list(members - seen if allowed_set is None else (members & allowed_set) - seen)
            if not fresh:
                continue
            seen.update(fresh)
            signatures: list[tuple[int | None, ...]] = list(zip(*[map(get, fresh) for get in lookups]))
            for signature in set(signatures).difference(memo):
                memo[signature] = exact(signature)
            scores = list(map(memo.__getitem__, signatures))
            scored.update(zip(fresh, scores))
            if len(best) < k or max(scores) > best[-1]:
                best = heapq.nlargest(k, [*best, *scores])
        if len(best) == k:
            floor = best[-1]
            return exact_rank(((d, s) for d, s in scored.items() if s >= floor), k, position)
        return exact_rank(scored.items(), k, position)


def _next_token(per_term: list[list[tuple[float, set[str]]]], cursor: list[int], needed: float) -> int:
    """The token whose next group to visit: the smallest one lowering the unseen bound by ``needed``
    alone, else the one lowering it most per id; -1 when every group is visited."""
    best_ti, best_rate, enough_ti, enough_size = -1, -1.0, -1, 0
    for ti, (bounded, g) in enumerate(zip(per_term, cursor)):
        if g + 1 >= len(bounded):
            continue
        drop = bounded[g][0] - bounded[g + 1][0]
        size = len(bounded[g][1]) or 1
        if drop >= needed and (enough_ti < 0 or size < enough_size):
            enough_ti, enough_size = ti, size
        if drop / size > best_rate:
            best_ti, best_rate = ti, drop / size
    return enough_ti if enough_ti >= 0 else best_ti


def _as_set(allowed: Collection[str] | None) -> Set[str] | None:
    if allowed is None or isinstance(allowed, (set, frozenset)):
        return allowed
    return frozenset(allowed)


def create(**options: object) -> PythonKeywords:
    """Registry factory for ``python``. It takes no options."""
    if options:
        raise invalid(f"The python keyword backend takes no options; got {', '.join(sorted(options))}.")
    return PythonKeywords()


if TYPE_CHECKING:  # static proof that the class satisfies the protocol (mypy --strict)
    _protocol_check: KeywordBackend = PythonKeywords()
