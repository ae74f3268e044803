"""The numpy keyword backend ``numpy``: postings in arrays, vectorized BM25, same results as ``python``.

Storage: every document gets a *row* (rows are handed out in increasing order; an upsert takes a
new row). Per token, its postings are two ``array('i')`` — rows (increasing) and term
frequencies — that grow by appending and are read at query time as zero-copy numpy views. Per
row: the document's length and an alive flag. Deleting only clears the flag (a tombstone);
document frequencies are then counted over alive rows. When tombstones outnumber the live
documents (and at least 1,024), every posting list is compacted and rows renumbered in order.

Ranking (KW-1..KW-4): each query token's contributions are computed for all its postings with
numpy float64 arithmetic (once per token between changes, cached), in exactly the order of the
rule (``_keyword_rule``: the same bits as Python), multiplied by the token's repeat count and
added into a score per row, term after term: when the postings are many (common words, at least
a quarter of the rows), as float32 sums of dense per-token vectors (``_dense_sum``, cached,
bound ``_floor_of32``); else by one float64 ``np.bincount`` over the distinct rows held (rare
words), within the relative bound of :func:`moss_ref._keyword_rule.shortlist_floor` of the exact
score. Either sum is inexact (it is not ``fsum``), but within its bound of the exact score, so
the rows scoring at least the floor of the k-th largest (``_kth``) surely hold the top k and
every document tied with its k-th. Only that shortlist is rescored exactly — ``math.fsum`` of the very contributions,
repeats included, gathered for all candidates at once — and sorted by (bm25 desc, position asc).
Filters become a boolean row mask (cached for a repeated frozenset until the next change) that
drops the postings of the rows it excludes (zeroes their float32 sums, for common words).

Memory: 8 bytes per posting plus 5 per row (and the id -> row dict), about a tenth of the
pure-Python index; between changes, the weights of the tokens queried lately (``_term_weights``:
12 bytes per cached posting, at most 48 bytes a row) and the dense float32 contributions of up to
16 common ones (``_dense_of``: 4 bytes a row each, at most 64 bytes a row).
"""

from __future__ import annotations

import math
import threading
from array import array
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any

from moss_ref._bm25 import K1, B
from moss_ref._errors import invalid
from moss_ref._keyword_rule import (
    FLOAT32_UNIT,
    K1_PLUS_1,
    NOT_INDEXED,
    ONE_MINUS_B,
    exact_rank,
    idf,
    shortlist_floor,
)
from moss_ref._protocols import KeywordBackend
from moss_ref._registry import missing_extra

try:
    import numpy as np
    import numpy.typing as npt
except ImportError as exc:  # pragma: no cover - exercised only without numpy
    raise missing_extra("numpy", "numpy") from exc

from ._kth import floor32, rows_near_top

__all__ = ["NumpyKeywords", "create"]

_COMPACT_MIN = 1024

_MASK_CACHE_SIZE = 8
# Scored exactly in Python, no array work (``_few``): at most _FEW_POSTINGS postings in all, or
# _FEW_SPARSE when they hold under a quarter of the rows (rare words). Measured, median of 400,
# 3 query tokens, top 20: common words over 200 rows (305 postings) 94 us in Python vs 45 us
# summed densely, 50 rows (77 postings) 30 vs 41 us; two rare words over 100,000 rows, caches
# cold, 150 postings 0.59 vs 0.80 ms in the array path, 400 postings 1.14 vs 1.22 ms.
_FEW_POSTINGS = 64
_FEW_SPARSE = 256
_LEAST = 5e-324  # the least positive float: ">= _LEAST" is "> 0"
_WEIGHTS_CACHE_SIZE = 256  # tokens whose weights are kept between changes (see _term_weights)
_DENSE_CACHE_SIZE = 16  # tokens whose dense float32 contributions are kept (see _dense): 64 bytes a row
_DENSE_MAX_TERMS = 1 << 16  # longer queries (absurd) are summed in float64
_DENSE_LEAST = 2.0**-100  # a smaller contribution (none is, below 2**31 rows) is summed in float64
_LEAST32: np.float32 = np.float32(np.nextafter(np.float32(0.0), np.float32(1.0)))  # the least positive float32


class NumpyKeywords:
    """``KeywordBackend`` over per-token posting arrays; see the module docstring."""

    name = "numpy"
    parallel_rank = True  # ranks mostly inside numpy: a hybrid query may run it beside the scan (_overlap)
    compact_min = _COMPACT_MIN  # compaction needs at least this many tombstones ...
    compact_ratio = 1.0  # ... and at least this many per live document

    __slots__ = (
        "_alive",
        "_dead",
        "_dense",
        "_ids",
        "_lengths",
        "_masks",
        "_norms",
        "_postings",
        "_rows",
        "_total_length",
        "_weights",
        "_weights_held",
        "_weights_lock",
    )

    def __init__(self) -> None:
        self._weights_lock = threading.Lock()  # loaded indexes are ranked without a session lock
        self._reset()

    def _reset(self) -> None:
        self._ids: list[str | None] = []  # row -> id (None: a tombstone)
        self._rows: dict[str, int] = {}  # id -> row
        self._lengths = array("i")  # row -> token count
        self._alive = bytearray()  # row -> 1 while the row's document is indexed
        self._dead = 0
        self._postings: dict[int, tuple[array[int], array[int]]] = {}  # token -> (rows, tfs)
        self._total_length = 0
        self._norms: Any = None  # per-row length norms for the current statistics (None: stale)
        self._masks: dict[frozenset[str], Any] = {}
        # token -> (live rows, contributions) for the current statistics; see _term_weights
        self._weights: dict[int, tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]] = {}
        self._weights_held = 0  # postings in _weights
        self._dense: dict[int, npt.NDArray[np.float32] | None] = {}  # token -> see _dense_of

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"<NumpyKeywords n={len(self._rows)} tokens={len(self._postings)} tombstones={self._dead}>"

    # -- mutation -----------------------------------------------------------------------------

    def _changed(self) -> None:
        self._norms = None
        self._masks.clear()
        self._weights.clear()
        self._weights_held = 0
        self._dense.clear()

    def put(self, ids: Sequence[str], tokens: Sequence[Sequence[int]]) -> None:
        if len(ids) != len(tokens):
            raise invalid(f"put() got {len(ids)} ids but {len(tokens)} token lists.")
        if not ids:
            return
        self._changed()
        row_of, order = self._rows, self._ids
        first = len(order)
        sizes = [len(toks) for toks in tokens]
        self._lengths.extend(sizes)
        self._alive.extend(b"\x01" * len(ids))
        self._total_length += sum(sizes)
        for doc_id in ids:  # rows in order; a replaced id (even one repeated in the batch) is tombstoned
            old = row_of.get(doc_id)
            if old is not None:
                self._kill(old)
            row_of[doc_id] = len(order)
            order.append(doc_id)
        self._add_postings(first, sizes, tokens)
        self._maybe_compact()

    def _add_postings(self, first: int, sizes: Sequence[int], tokens: Sequence[Sequence[int]]) -> None:
        """Append the postings of rows ``first, first + 1, ...`` (one token list each), vectorized."""
        total = sum(sizes)
        if total == 0:
            return
        try:
            flat = np.fromiter(chain.from_iterable(tokens), dtype=np.int64, count=total)
        except (OverflowError, TypeError, ValueError):
            flat = None
        if flat is None or int(flat.min()) < 0 or int(flat.max()) > 0xFFFFFFFF:
            self._add_postings_one_by_one(first, tokens)  # not 32-bit term ids (a third-party caller)
            return
        self._add_flat(first, np.asarray(sizes, dtype=np.int64), flat)

    def _add_flat(self, first: int, sizes: npt.NDArray[Any], flat: npt.NDArray[Any]) -> None:
        """Append the postings of rows ``first, first + 1, ...``: row ``first + i`` holds the
        ``sizes[i]`` next 32-bit term ids of ``flat``.

        The (token, row) pairs are sorted by token then row and counted (tf); each token's run
        is appended to its posting arrays, so rows stay increasing in every list.
        """
        if flat.size == 0:
            return
        rows = np.repeat(np.arange(first, first + sizes.size, dtype=np.uint64), sizes)
        # (32-bit term id, row) as one key, in ascending order: the rows ascend already, so a
        # stable order by term id gives it (``_stable_order32``, twice as fast as sorting the keys)
        by_term = _stable_order32(flat)
        pairs = (flat[by_term].astype(np.uint64) << np.uint64(32)) | rows[by_term]
        new = np.empty(pairs.size, dtype=bool)  # the first of each run of equal pairs
        new[0] = True
        np.not_equal(pairs[1:], pairs[:-1], out=new[1:])
        at = np.flatnonzero(new)
        keys = pairs[at]
        tfs = np.diff(np.append(at, pairs.size))
        del pairs, new, rows
        token_of = keys >> np.uint64(32)
        starts = np.flatnonzero(np.concatenate(([True], token_of[1:] != token_of[:-1])))
        ends = np.append(starts[1:], keys.size)
        row_bytes = (keys & np.uint64(0xFFFFFFFF)).astype(np.int32).tobytes()
        tf_bytes = tfs.astype(np.int32).tobytes()
        postings = self._postings
        for token, start, end in zip(token_of[starts].tolist(), (4 * starts).tolist(), (4 * ends).tolist()):
            posting = postings.get(token)
            if posting is None:
                postings[token] = (array("i", row_bytes[start:end]), array("i", tf_bytes[start:end]))
            else:
                posting[0].frombytes(row_bytes[start:end])
                posting[1].frombytes(tf_bytes[start:end])

    # -- bulk export and import (stored terms) ------------------------------------------------

    def load_terms(self, ids: Sequence[str], lengths: array[int], terms: array[int]) -> None:
        """Fill an empty backend: ``ids[i]`` holds the next ``lengths[i]`` term ids of ``terms``."""
        if self._rows:
            raise invalid("load_terms() needs an empty keyword backend.")
        n = len(ids)
        if n != len(lengths) or lengths.itemsize != 4 or terms.itemsize != 4:
            raise invalid("load_terms() needs one array('I') length per id and array('I') terms.")
        sizes = np.frombuffer(memoryview(lengths), dtype=np.uint32, count=n)
        flat = np.frombuffer(memoryview(terms), dtype=np.uint32)
        if int(sizes.sum(dtype=np.int64)) != flat.size or int(sizes.max(initial=0)) >= 1 << 31:
            raise invalid("load_terms() got lengths that do not fit the terms.")
        rows = dict(zip(ids, range(n)))
        if len(rows) != n:
            raise invalid("load_terms() needs unique ids.")
        self._rows = rows
        self._ids = list(ids)
        self._lengths = array("i", sizes.astype(np.int32).tobytes())
        self._alive = bytearray(b"\x01" * n)
        self._total_length = int(flat.size)
        self._changed()
        self._add_flat(0, sizes.astype(np.int64), flat)

    def export_terms(self, ids: Sequence[str]) -> tuple[array[int], array[int]] | None:
        """``(lengths, terms)`` of ``ids``, each id's term ids ascending (repeats kept); an id not
        indexed has length ``0xFFFFFFFF``. None when some token is not a 32-bit term id."""
        tokens = list(self._postings)
        try:
            token_arr = np.array(tokens, dtype=np.int64)
        except (OverflowError, TypeError, ValueError):
            return None
        if token_arr.size and (int(token_arr.min()) < 0 or int(token_arr.max()) > 0xFFFFFFFF):
            return None
        n = len(ids)
        index_of_row: npt.NDArray[np.int64] | None = None
        if not self._dead and n == len(self._ids) and ids == self._ids:  # every row, in row order
            out_lengths = array("I", self._lengths.tobytes())
        else:
            rows_of_ids = np.fromiter(map(self._rows.get, ids, repeat(-1)), dtype=np.int64, count=n)
            present = rows_of_ids >= 0
            lengths = np.full(n, NOT_INDEXED, dtype=np.uint32)
            lengths[present] = np.frombuffer(self._lengths, dtype=np.int32)[rows_of_ids[present]]
            out_lengths = array("I", lengths.tobytes())
            index_of_row = np.full(len(self._ids), -1, dtype=np.int64)
            index_of_row[rows_of_ids[present]] = np.flatnonzero(present)
        if not tokens:
            return out_lengths, array("I")
        # The postings token after token in ascending term id, each token's rows ascending; a
        # stable order by document (``_stable_order32``) then puts each document's term ids in
        # ascending order, with no comparison sort.
        by_id = np.argsort(token_arr, kind="stable").tolist()
        held = list(self._postings.values())
        ordered = [held[i] for i in by_id]
        sizes = np.fromiter((len(rows) for rows, _ in ordered), dtype=np.int64, count=len(ordered))
        rows = np.concatenate([np.frombuffer(r, dtype=np.int32) for r, _ in ordered])
        tfs = np.concatenate([np.frombuffer(t, dtype=np.int32) for _, t in ordered])
        term_of = np.repeat(token_arr[by_id].astype(np.uint32), sizes)
        if index_of_row is None:
            index = rows
        else:
            index = index_of_row[rows]
            keep = index >= 0  # a tombstone, or an id not asked for
            index, term_of, tfs = index[keep], term_of[keep], tfs[keep]
        order = _stable_order32(index)
        flat = np.repeat(term_of[order], tfs[order])
        return out_lengths, array("I", flat.tobytes())

    def _add_postings_one_by_one(self, first: int, tokens: Sequence[Sequence[int]]) -> None:
        """:meth:`_add_postings` for tokens that are not 32-bit term ids: the same lists, row by row."""
        postings = self._postings
        for r, toks in enumerate(tokens, start=first):
            for token, tf in Counter(toks).items():
                posting = postings.get(token)
                if posting is None:
                    postings[token] = (array("i", (r,)), array("i", (tf,)))
                else:
                    posting[0].append(r)
                    posting[1].append(tf)

    def _kill(self, r: int) -> None:
        doc_id = self._ids[r]
        assert doc_id is not None
        del self._rows[doc_id]
        self._ids[r] = None
        self._alive[r] = 0
        self._total_length -= self._lengths[r]
        self._dead += 1

    def remove(self, ids: Iterable[str]) -> None:
        row_of = self._rows
        changed = False
        for doc_id in ids:
            r = row_of.get(doc_id)
            if r is not None:
                self._kill(r)
                changed = True
        if changed:
            self._changed()
            if not row_of:
                self._reset()
            else:
                self._maybe_compact()

    def _maybe_compact(self) -> None:
        if not self._dead or self._dead < self.compact_min or self._dead < self.compact_ratio * len(self._rows):
            return
        alive = np.frombuffer(self._alive, dtype=np.uint8).astype(bool)
        new_row = np.cumsum(alive, dtype=np.int64) - 1  # old row -> new row (for alive rows)
        compacted: dict[int, tuple[array[int], array[int]]] = {}
        for token, (rows, tfs) in self._postings.items():
            r = np.frombuffer(rows, dtype=np.int32)
            keep = alive[r]
            if not keep.any():
                continue
            compacted[token] = (
                array("i", new_row[r[keep]].astype(np.int32).tobytes()),
                array("i", np.frombuffer(tfs, dtype=np.int32)[keep].tobytes()),
            )
            del r, keep
        lengths = np.frombuffer(self._lengths, dtype=np.int32)[alive]
        self._postings = compacted
        self._lengths = array("i", lengths.astype(np.int32).tobytes())
        del lengths
        self._ids = [i for i in self._ids if i is not None]
        self._rows = {doc_id: r for r, doc_id in enumerate(self._ids) if doc_id is not None}
        self._alive = bytearray(b"\x01" * len(self._ids))
        self._dead = 0

    def clear(self) -> None:
        self._reset()

    # -- ranking ------------------------------------------------------------------------------

    def _row_norms(self, avgdl: float) -> npt.NDArray[np.float64]:
        """``length_norm`` of every row (KW-1 order: ``K1 * ((1 - B) + (B * length) / avgdl)``)."""
        norms = self._norms
        if norms is None:
            lengths = np.frombuffer(self._lengths, dtype=np.int32).astype(np.float64)
            norms = self._norms = K1 * (ONE_MINUS_B + B * lengths / avgdl)
        return norms  # type: ignore[no-any-return]

    def _mask(self, allowed: Collection[str]) -> npt.NDArray[np.bool_]:
        key = allowed if type(allowed) is frozenset else None
        if key is not None:
            cached = self._masks.get(key)
            if cached is not None:
                return cached  # type: ignore[no-any-return]
        row_of = self._rows
        rows = np.fromiter((row_of[i] for i in allowed if i in row_of), dtype=np.intp)
        mask = np.zeros(len(self._ids), dtype=bool)
        mask[rows] = True
        if key is not None:
            if len(self._masks) >= _MASK_CACHE_SIZE:
                self._masks.pop(next(iter(self._masks)), None)
            self._masks[key] = mask
        return mask

    def rank(
        self, query: Sequence[int], k: int, position: Mapping[str, int], allowed: Collection[str] | None
    ) -> list[tuple[str, float]]:
        n_docs = len(self._rows)
        if k <= 0 or n_docs == 0:
            return []
        postings = self._postings
        counts: dict[int, int] = {}  # query token -> its repeats (a plain dict: Counter costs more here)
        for t in query:
            if t in postings:
                counts[t] = counts.get(t, 0) + 1
        if not counts:
            return []
        if self._total_length == 0:
            return []  # no live document holds a token (tombstoned postings may remain)
        avgdl = self._total_length / n_docs
        norms = self._row_norms(avgdl)
        total = sum([len(postings[t][0]) for t in counts])
        if total <= _FEW_POSTINGS or (total <= _FEW_SPARSE and 4 * total < len(self._ids)):
            return exact_rank(self._few(counts, n_docs, norms, allowed), k, position)
        n_rows = len(self._ids)
        tokens: list[int] = []
        per_term: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], int]] = []
        for token, c in counts.items():
            rows, w = self._term_weights(token, n_docs, norms)
            if rows.size:
                tokens.append(token)
                per_term.append((rows, w, c))
        if not per_term:
            return []
        terms = sum(counts.values())
        if 4 * sum([rows.size for rows, _, _ in per_term]) >= n_rows and n_rows >= k and terms <= _DENSE_MAX_TERMS:
            # Many postings (common words): the float32 sum of each token's dense contributions.
            acc32 = self._dense_sum(tokens, per_term, n_rows)
            if acc32 is not None:
                if allowed is not None:
                    acc32 *= self._mask(allowed)  # 0 for a row the filter excludes
                _, cands = rows_near_top(acc32, k, lambda kth: _floor_of32(kth, terms))
                if cands.size == 0:
                    return []
                return exact_rank(self._exact(cands, per_term), k, position)
        held = np.concatenate([rows for rows, _, _ in per_term])  # the postings, term after term
        contributions = np.concatenate([w if c == 1 else w * c for _, w, c in per_term])  # each > 0 (KW-2)
        if allowed is not None:
            keep = self._mask(allowed)[held]
            held, contributions = held[keep], contributions[keep]
        # Each row's float sum of its contributions, added term after term (bincount adds in array
        # order). Few postings: over the distinct rows they hold (all of them score > 0), so a rare
        # word's query touches a few rows, not n; else over every row (> 0 exactly where held).
        if 4 * held.size < n_rows:
            distinct, inverse = np.unique(held, return_inverse=True)
            acc = np.bincount(inverse, contributions, distinct.size)
        else:
            distinct = None
            acc = np.bincount(held, contributions, n_rows)
        # The k-th largest score: when at least k rows score (> 0) it is theirs, and the shortlist
        # is the rows at or above its floor (> 0); else every scoring row.
        if acc.size >= k:
            # > 0 always: a row that holds no query token, or that the filter excludes, is never a candidate
            _, picked = rows_near_top(acc, k, lambda kth: max(shortlist_floor(kth, terms), _LEAST))
        else:
            picked = np.flatnonzero(acc > 0.0)
        cands = picked if distinct is None else distinct[picked]
        if cands.size == 0:
            return []
        if distinct is None:
            return exact_rank(self._exact(cands, per_term), k, position)
        # Few postings (rare words): most rows hold one query token. A row's float sum is then
        # its exact score already: one product ``w * c`` is the correctly rounded ``c w``, as
        # ``fsum`` of c copies of w is; so is the one sum of two products that are exact
        # (repeat counts that are powers of two). Only the other rows need ``fsum``.
        most = 2 if all(c & (c - 1) == 0 for c in counts.values()) else 1
        sure = np.bincount(inverse, minlength=distinct.size)[picked] <= most  # query tokens a row holds
        ids = self._ids
        scores = [(ids[r], s) for r, s in zip(cands[sure].tolist(), acc[picked[sure]].tolist())]
        if not sure.all():
            scores += self._exact(cands[~sure], per_term)
        return exact_rank(scores, k, position)

    def _term_weights(
        self, token: int, n_docs: int, norms: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
        """The live rows holding ``token`` and their KW-1 contributions (each > 0), cached.

        They depend on the collection statistics only (document count, the token's document
        frequency, the average length), which every change alters, so the cache is emptied by
        every change (``_changed``); between changes, a word that many queries share — a common
        word, the expensive kind — is weighed once. Least recently used out first, the cache
        keeps at most ``_WEIGHTS_CACHE_SIZE`` tokens and ``4 * rows + 1024`` postings in all
        (12 bytes each: at most 48 bytes a row, plus ~400 bytes a token); a token none of whose
        postings is live is not kept.
        """
        cache = self._weights
        with self._weights_lock:
            hit = cache.pop(token, None)
            if hit is not None:
                cache[token] = hit  # most recently used last
                return hit
        rows_arr, tfs_arr = self._postings[token]
        rows = np.frombuffer(rows_arr, dtype=np.int32).copy()  # a copy: an exported array('i') cannot grow
        tf = np.frombuffer(tfs_arr, dtype=np.int32).astype(np.float64)
        if self._dead:
            live = np.frombuffer(self._alive, dtype=np.uint8).astype(bool)[rows]
            rows, tf = rows[live], tf[live]
        # KW-1 elementwise in rule order, idf * tf * (K1 + 1) / (tf + norm), with in-place steps
        # (products and sums commute bit for bit) and take (twice as fast as rows-indexing)
        w = tf * idf(n_docs, rows.size) if rows.size else tf
        w *= K1_PLUS_1
        denominator = norms.take(rows)
        denominator += tf
        w /= denominator
        if rows.size == 0:
            return rows, w
        budget = 4 * len(self._ids) + 1024 - rows.size  # >= 1024: rows.size <= len(self._ids)
        rows.flags.writeable = w.flags.writeable = False  # shared by later queries
        with self._weights_lock:  # two readers of a loaded index may weigh at once
            old = cache.pop(token, None)
            if old is not None:
                self._weights_held -= old[0].size
            while cache and (self._weights_held > budget or len(cache) >= _WEIGHTS_CACHE_SIZE):
                oldest = next(iter(cache))
                self._weights_held -= cache.pop(oldest)[0].size
            cache[token] = (rows, w)
            self._weights_held += rows.size
        return rows, w

    def _dense_sum(
        self,
        tokens: Sequence[int],
        per_term: Sequence[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], int]],
        n_rows: int,
    ) -> npt.NDArray[np.float32] | None:
        """Each row's float32 sum, term after term, of its contributions rounded to float32 and
        multiplied by their repeat counts (0 where a token is absent); None if some token's
        contributions do not all fit float32 as normal numbers (see :func:`_floor_of32`).

        Three float32 additions of cached dense vectors cost a third of the float64 ``bincount``
        over the concatenated postings of common words (at 100,000 rows), and the result feeds
        only the shortlist: the candidates are rescored exactly (``_exact``).
        """
        acc: npt.NDArray[np.float32] | None = None
        for token, (rows, w, c) in zip(tokens, per_term):
            dense = self._dense_of(token, rows, w, n_rows)
            if dense is None:
                return None
            if acc is None:
                acc = dense * np.float32(c) if c != 1 else dense.copy()
            elif c == 1:
                acc += dense
            else:
                acc += dense * np.float32(c)
        return acc

    def _dense_of(
        self, token: int, rows: npt.NDArray[np.int32], w: npt.NDArray[np.float64], n_rows: int
    ) -> npt.NDArray[np.float32] | None:
        """``token``'s contributions ``w`` (at ``rows``) as a dense float32 vector of ``n_rows``, 0
        elsewhere; cached like the weights (cleared by every change), at most ``_DENSE_CACHE_SIZE``
        tokens (4 bytes a row each), least recently used out first. None (also cached) when a
        contribution is below ``_DENSE_LEAST``."""
        cache = self._dense
        with self._weights_lock:
            if token in cache:
                hit = cache.pop(token)
                cache[token] = hit  # most recently used last
                return hit
        dense: npt.NDArray[np.float32] | None = None
        if float(w.min()) >= _DENSE_LEAST:
            dense = np.zeros(n_rows, dtype=np.float32)
            dense[rows] = w  # rounded to nearest float32
            dense.flags.writeable = False  # shared by later queries
        with self._weights_lock:  # two readers of a loaded index may build at once
            cache.pop(token, None)
            while len(cache) >= _DENSE_CACHE_SIZE:
                cache.pop(next(iter(cache)))
            cache[token] = dense
        return dense

    def _few(
        self, counts: Mapping[int, int], n_docs: int, norms: npt.NDArray[np.float64], allowed: Collection[str] | None
    ) -> list[tuple[str, float]]:
        """The exact score of every (allowed) row holding a query token, when the postings are few
        (rare words): each token's contributions (``_term_weights``, the arrays' bits), then
        ``math.fsum`` of each row's, repeats included (KW-1, KW-2); a row holding one token
        scores that contribution (``fsum`` of one number).

        A dozen numpy calls cost more than these few postings do in Python; with every holding
        row scored exactly, no shortlist is needed.
        """
        parts: dict[int, list[float]] = {}
        for token, c in counts.items():
            rows, w = self._term_weights(token, n_docs, norms)
            for r, x in zip(rows.tolist(), w.tolist()):
                held = parts.get(r)
                if held is None:
                    parts[r] = [x] * c
                else:
                    held.extend([x] * c)
        ids = self._ids
        scored = []
        for r, p in parts.items():
            doc_id = ids[r]
            if doc_id is not None and (allowed is None or doc_id in allowed):  # rows are live: never None
                scored.append((doc_id, p[0] if len(p) == 1 else math.fsum(p)))
        return scored

    def _exact(
        self, cands: npt.NDArray[np.intp], per_term: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], int]]
    ) -> list[tuple[str, float]]:
        """``math.fsum`` of each candidate's contributions, repeats included (KW-2)."""
        columns = []  # per query token (repeated as often as the query repeats it): its contributions
        cands = cands.astype(np.int32)  # the rows' dtype: searchsorted would cast each posting list to int64
        for rows, w, c in per_term:
            at = np.searchsorted(rows, cands)
            at[at >= rows.size] = 0
            columns.extend([np.where(rows[at] == cands, w[at], 0.0)] * c)  # 0: not in that document
        parts = np.stack(columns, axis=1).tolist()  # one row per candidate; its zeros change no fsum
        ids = self._ids
        return [(ids[r], math.fsum(p)) for r, p in zip(cands.tolist(), parts)]


def _stable_order32(keys: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """The stable sorting permutation of ``keys`` (integers in ``[0, 2**32)``): ``keys[order]``
    ascends, equal keys in their original order.

    Two stable passes on 16-bit digits, low then high (least significant digit first), each a
    numpy radix sort (``kind="stable"`` on uint16): 40 vs 75 ms for 1.4 million (term id, row)
    pairs against one ``np.sort`` of 64-bit keys, 26 vs 62 ms against 32-bit ones.
    """
    wide = keys.astype(np.uint32)
    order = np.argsort((wide & np.uint32(0xFFFF)).astype(np.uint16), kind="stable")
    if wide.size == 0 or int(wide.max()) <= 0xFFFF:
        return order
    high = (wide >> np.uint32(16)).astype(np.uint16)[order]
    result: npt.NDArray[np.intp] = order[np.argsort(high, kind="stable")]
    return result


def _floor_of32(kth: float, terms: int) -> np.float32:
    """The float32 threshold below every :meth:`NumpyKeywords._dense_sum` value that can reach the
    top k, for the k-th largest such value ``kth`` and a query of ``terms`` tokens (KW-2).

    A row's value sums rounded products ``c * fl32(w)`` of positive normal contributions (no
    underflow: each is at least ``_DENSE_LEAST``), at most ``terms + 1`` float32 roundings of the
    exact score: :func:`moss_ref._keyword_rule.shortlist_floor` at ``FLOAT32_UNIT`` covers them,
    and is rounded down to float32 here. It is never below the least positive float32 (``kth ==
    0``: fewer than k rows score), so a row that holds no query token, or that the filter
    excludes (both sum to 0), is never a candidate.
    """
    threshold = shortlist_floor(kth, terms, FLOAT32_UNIT)
    if threshold < float(_LEAST32):  # as Python floats: numpy would round the threshold to float32 first
        return _LEAST32
    return floor32(threshold)


def create(**options: Any) -> NumpyKeywords:
    """Registry factory for ``numpy``. It takes no options."""
    if options:
        raise invalid(f"The numpy keyword backend takes no options; got {', '.join(sorted(options))}.")
    return NumpyKeywords()


if TYPE_CHECKING:  # static proof that the class satisfies the protocol (mypy --strict)
    _protocol_check: KeywordBackend = NumpyKeywords()
