"""Every keyword backend returns the rule's ranking bit for bit (KW-1..KW-5).

An exhaustive oracle written here from the rule (every posting scored, ``math.fsum`` per
document, (bm25 desc, position asc)) is compared with ``python`` (pruned) and ``numpy`` — also
``numpy`` compacting after every delete — on random corpora of a tiny vocabulary, so common words,
repeated words, equal lengths and ties at the cut are the rule rather than the exception; with
upserts, deletes, batches repeating an id, filters given as sets, frozensets and lists, and k
from 0 past the corpus size. Scores are compared with ``==`` (floats, bit for bit).
"""

from __future__ import annotations

import math
import random
import sys
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from itertools import pairwise
from typing import Callable
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_ref._keyword_rule import length_norm, weight
from moss_ref._keywords import PythonKeywords, bucket, bucket_floor
from moss_ref._protocols import KeywordBackend
from moss_ref._registry import create_keyword_backend, keyword_backend_names

numpy_keywords = pytest.importorskip("moss_ref_backends.numpy_keywords")

WORDS = ["the", "a", "and", "fox", "red", "rare", "x"]
IDS = [f"d{i}" for i in range(12)]


class Oracle:
    """The rule, exhaustively: no index structure beyond the token lists."""

    def __init__(self) -> None:
        self.docs: dict[str, list[str]] = {}

    def put(self, ids: Sequence[str], tokens: Sequence[Sequence[str]]) -> None:
        for i, t in zip(ids, tokens):
            self.docs[i] = list(t)

    def remove(self, ids: Collection[str]) -> None:
        for i in ids:
            self.docs.pop(i, None)

    def rank(
        self, query: Sequence[str], k: int, position: Mapping[str, int], allowed: Collection[str] | None
    ) -> list[tuple[str, float]]:
        n = len(self.docs)
        if k <= 0 or n == 0:
            return []
        avgdl = sum(map(len, self.docs.values())) / n
        df = Counter(t for toks in self.docs.values() for t in set(toks))
        scores = {}
        for doc_id, toks in self.docs.items():
            if allowed is not None and doc_id not in allowed:
                continue
            tf = Counter(toks)
            parts = []
            for t in query:
                if tf[t]:
                    term_idf = math.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5))
                    parts.append(term_idf * tf[t] * 2.2 / (tf[t] + 1.2 * (0.25 + 0.75 * len(toks) / avgdl)))
            if parts:
                scores[doc_id] = math.fsum(parts)
        return sorted(scores.items(), key=lambda item: (-item[1], position[item[0]]))[:k]


class CompactingNumpy(numpy_keywords.NumpyKeywords):  # type: ignore[misc,name-defined]
    """Compacts its postings whenever a tombstone exists."""

    compact_min = 1
    compact_ratio = 0.0


FACTORIES: dict[str, Callable[[], KeywordBackend]] = {
    "python": PythonKeywords,
    "numpy": lambda: numpy_keywords.NumpyKeywords(),
    "numpy-compacting": CompactingNumpy,
}

token_lists = st.lists(st.sampled_from(WORDS), max_size=10)
put_op = st.tuples(st.just("put"), st.lists(st.tuples(st.sampled_from(IDS), token_lists), min_size=1, max_size=6))
remove_op = st.tuples(st.just("remove"), st.lists(st.sampled_from([*IDS, "unknown"]), max_size=4))
queries = st.tuples(
    st.lists(st.sampled_from([*WORDS, "absent"]), max_size=5),
    st.sampled_from([0, 1, 2, 3, 5, 8, 100]),
    st.none() | st.tuples(st.sampled_from(["set", "frozenset", "list"]), st.lists(st.sampled_from(IDS), max_size=8)),
)


def _allowed(spec: tuple[str, list[str]] | None) -> Collection[str] | None:
    if spec is None:
        return None
    kind, ids = spec
    return set(ids) if kind == "set" else frozenset(ids) if kind == "frozenset" else ids


@settings(max_examples=300)
@given(ops=st.lists(put_op | remove_op, min_size=1, max_size=12), asked=st.lists(queries, min_size=1, max_size=6))
def test_every_backend_gives_the_oracle_ranking(ops: list[tuple[str, list]], asked: list) -> None:  # type: ignore[type-arg]
    oracle = Oracle()
    backends = {name: make() for name, make in FACTORIES.items()}
    position: dict[str, int] = {}
    counter = 0
    for op, arg in ops:
        if op == "put":
            ids, toks = [i for i, _ in arg], [t for _, t in arg]
            for i in ids:
                if i not in position:
                    position[i] = counter
                    counter += 1
            oracle.put(ids, toks)
            for b in backends.values():
                b.put(ids, toks)
        else:
            oracle.remove(arg)
            for i in arg:
                position.pop(i, None)
            for b in backends.values():
                b.remove(arg)
        for b in backends.values():
            assert len(b) == len(oracle.docs)
        for query, k, spec in asked:
            allowed = _allowed(spec)
            want = oracle.rank(query, k, position, allowed)
            for name, b in backends.items():
                assert b.rank(query, k, position, allowed) == want, name


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("seed", range(6))
def test_larger_corpora_with_common_words_and_ties(name: str, seed: int) -> None:
    """Hundreds of documents of a Zipf-like vocabulary, equal lengths and many exact ties at the cut:
    the pruned walk stops early and the numpy shortlist is narrow, and both still agree."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(40)]
    weights = [1.0 / (r + 1) for r in range(40)]
    backend = FACTORIES[name]()
    oracle = Oracle()
    position: dict[str, int] = {}
    for batch in range(4):
        ids = [f"doc{rng.randrange(600)}" for _ in range(150)]
        toks = [rng.choices(vocab, weights, k=rng.choice([8, 8, 8, rng.randint(1, 40)])) for _ in ids]
        for i in ids:
            position.setdefault(i, len(position) + 1000 * batch)
        backend.put(ids, toks)
        oracle.put(ids, toks)
        gone = rng.sample(sorted(oracle.docs), 20)
        backend.remove(gone)
        oracle.remove(gone)
        for i in gone:
            del position[i]
        for _ in range(15):
            query = rng.choices(vocab[:8], k=rng.randint(1, 4)) + rng.choices(vocab, k=rng.randint(0, 2))
            k = rng.choice([1, 5, 10, 20, 40])
            allowed = None if rng.random() < 0.6 else frozenset(rng.sample(sorted(oracle.docs), 60))
            assert backend.rank(query, k, position, allowed) == oracle.rank(query, k, position, allowed)


def test_length_buckets_bound_their_lengths() -> None:
    for length in range(1, 5000):
        lb = bucket(length)
        assert bucket_floor(lb) <= length
        assert bucket(bucket_floor(lb)) == lb
        assert lb < 512
    # a bound from the bucket floor is at least every contribution of the bucket
    for length in (16, 17, 33, 100, 1000):
        lo = bucket_floor(bucket(length))
        assert weight(0.7, 3, length_norm(lo, 12.5)) >= weight(0.7, 3, length_norm(length, 12.5))


def test_registry_names_auto_and_the_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from moss_ref._registry import MissingExtraError, resolve_keyword_backend_name

    assert {"python", "numpy"} <= set(keyword_backend_names())
    assert create_keyword_backend("python").name == "python"
    assert create_keyword_backend("auto").name == "numpy"
    monkeypatch.setenv("MOSS_REF_KEYWORD_BACKEND", "python")
    assert resolve_keyword_backend_name(None) == "python"
    assert resolve_keyword_backend_name("numpy") == "numpy"
    with pytest.raises(Exception, match="Unknown keyword backend 'whoosh'"):
        create_keyword_backend("whoosh")
    with pytest.raises(Exception, match="takes no options"):
        create_keyword_backend("python", depth=3)
    monkeypatch.setitem(__import__("sys").modules, "numpy", None)
    monkeypatch.delitem(__import__("sys").modules, "moss_ref_backends.numpy_keywords")
    with pytest.raises(MissingExtraError, match=r"moss-ref\[numpy\]"):
        create_keyword_backend("numpy")
    assert create_keyword_backend("auto").name == "python"


def test_client_keyword_backend_choice() -> None:
    from moss_ref import DocumentInfo, MossClient, QueryOptions
    from moss_ref.stores.memory import MemoryStore

    for name in ("python", "numpy"):
        client = MossClient("p", "k", store=MemoryStore(), embedder="hash-v1", keyword_backend=name)
        session = client.session_sync("idx", "custom")
        assert session.core.corpus.keywords.name == name
        session.core.add_docs(
            [DocumentInfo("a", "red fox", None, [1.0, 0.0]), DocumentInfo("b", "fox", None, [0.0, 1.0])]
        )
        found = session.core.query("fox", QueryOptions(embedding=[1.0, 0.0], alpha=0.0, top_k=2))
        assert [d.id for d in found.docs] == ["b", "a"]


@pytest.mark.parametrize("seed", range(4))
def test_kth_largest_is_the_partition_value_even_with_many_ties(seed: int) -> None:
    """The numpy backends' sampled k-th largest (one partition of a few thousand) is exactly
    np.partition's over the whole array, with few distinct scores (BM25) or all distinct."""
    np = pytest.importorskip("numpy")
    from moss_ref_backends._kth import kth_largest

    rng = np.random.default_rng(seed)
    for trial in range(400):
        m = int(rng.integers(1, 30000))
        k = int(rng.integers(1, min(m, 120) + 1))
        distinct = int(rng.integers(1, 40)) if trial % 2 else m
        dtype = np.float32 if trial % 3 else np.float64
        scores = rng.random(distinct)[rng.integers(0, distinct, m)].astype(dtype)
        if trial % 5 == 0:  # mostly zeros, as BM25 scores of rare words are
            scores[rng.random(m) < 0.99] = 0
        assert kth_largest(scores, k) == float(np.partition(scores, m - k)[m - k])


def test_numpy_term_weights_are_cached_between_changes_within_their_budget() -> None:
    """A token's contributions are weighed once per state of the statistics (the cache of
    ``_term_weights``), dropped by any change, least recently used out first, and never more than
    4 postings a row + 1,024 nor ``_WEIGHTS_CACHE_SIZE`` tokens."""
    rng = random.Random(5)
    backend = numpy_keywords.NumpyKeywords()
    ids = [f"d{i}" for i in range(1000)]
    backend.put(ids, [[rng.randrange(60) for _ in range(12)] for _ in ids])
    position = {i: n for n, i in enumerate(ids)}
    few = numpy_keywords.NumpyKeywords()  # the few-postings path weighs through the same cache
    few.put(ids[:5], [[7, 8], [7], [8, 9], [9], [7]])
    assert few.rank([7, 9], 2, position, None) and set(few._weights) == {7, 9}
    assert sum(len(backend._postings[t][0]) for t in (0, 1, 2)) > numpy_keywords._FEW_POSTINGS  # the array path
    first = backend.rank([0, 1, 2], 10, position, None)
    cached = backend._weights[0]
    assert backend.rank([0, 1, 2], 10, position, None) == first
    assert backend._weights[0] is cached  # the same arrays: not weighed again
    assert not cached[1].flags.writeable  # shared by later queries, so read-only
    for token in range(60):
        backend.rank([token, 0], 5, position, None)  # token 0 stays the most recently used
        held = sum(rows.size for rows, _ in backend._weights.values())
        assert held == backend._weights_held <= 4 * len(ids) + 1024
    assert 0 in backend._weights and 1 not in backend._weights  # evicted, least recently used first
    with mock.patch.object(numpy_keywords, "_WEIGHTS_CACHE_SIZE", 3):
        for token in range(10, 20):
            backend.rank([token, token + 20], 5, position, None)
        assert len(backend._weights) <= 3
    backend.remove(["d0"])
    assert backend._weights == {} and backend._weights_held == 0
    backend.rank([0], 5, position, None)
    assert 0 in backend._weights and backend._weights[0] is not cached


def test_numpy_weight_cache_survives_concurrent_readers() -> None:
    """A loaded index is ranked without a session lock (``_loaded``), so two threads may weigh
    tokens at once: the cache stays within its budget, its count stays true, and every ranking
    equals the one made alone."""
    import threading

    rng = random.Random(9)
    backend = numpy_keywords.NumpyKeywords()
    ids = [f"d{i}" for i in range(600)]
    backend.put(ids, [[rng.randrange(40) for _ in range(10)] for _ in ids])
    position = {i: n for n, i in enumerate(ids)}
    queries = [[rng.randrange(40) for _ in range(3)] for _ in range(60)]
    alone = [backend.rank(q, 7, position, None) for q in queries]
    errors: list[BaseException] = []
    seen: list[list[list[tuple[str, float]]]] = [[], [], []]

    def reader(n: int) -> None:
        try:
            for _ in range(10):
                seen[n].extend(backend.rank(q, 7, position, None) for q in queries)
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch every few bytecodes: races show up
    try:
        with mock.patch.object(numpy_keywords, "_WEIGHTS_CACHE_SIZE", 4):  # constant eviction
            backend._changed()
            threads = [threading.Thread(target=reader, args=(n,)) for n in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    assert all(s == alone * 10 for s in seen)
    assert backend._weights_held == sum(rows.size for rows, _ in backend._weights.values())
    assert len(backend._weights) <= 4


def test_numpy_float32_sums_of_common_words_keep_a_row_they_round_below_another() -> None:
    """Common words are summed in float32 for the shortlist (``_dense_sum``). Rounding can put a
    row below another whose exact score is lower; the shortlist's margin (``_floor_of32``) must
    keep it. The corpus (seeded, 1,000 documents) holds such a pair, found here by rounding the
    oracle's contributions to float32 and adding them in query order; with the pair as the
    filter and k = 1, a shortlist cut at the k-th float32 sum would drop the right answer."""
    np = pytest.importorskip("numpy")
    rng = random.Random(1143)
    docs = [
        ["w0"] * rng.randint(1, 4)
        + ["w1"] * rng.randint(0, 4)
        + ["w2"] * rng.randint(0, 3)
        + ["pad"] * rng.randint(0, 300)
        for _ in range(1000)
    ]
    ids = [f"d{i}" for i in range(len(docs))]
    query = ["w0", "w1", "w2"]
    oracle = Oracle()
    oracle.put(ids, docs)
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    exact = dict(oracle.rank(query, len(ids), position, None))
    avgdl = sum(map(len, docs)) / len(docs)
    df = Counter(t for toks in docs for t in set(toks))
    float32_sum = {}
    for doc_id, toks in zip(ids, docs):
        tf, total = Counter(toks), np.float32(0.0)
        for t in query:
            if tf[t]:
                w = math.log(1.0 + (len(docs) - df[t] + 0.5) / (df[t] + 0.5)) * tf[t] * 2.2
                total = np.float32(total + np.float32(w / (tf[t] + 1.2 * (0.25 + 0.75 * len(toks) / avgdl))))
        float32_sum[doc_id] = total
    by_exact = sorted(exact, key=lambda doc_id: -exact[doc_id])
    inverted = [(a, b) for a, b in pairwise(by_exact) if exact[a] > exact[b] and float32_sum[a] < float32_sum[b]]
    assert inverted  # the corpus does hold the case under test
    backend = numpy_keywords.NumpyKeywords()
    backend.put(ids, docs)
    for a, b in inverted:
        assert backend.rank(query, 1, position, frozenset({a, b})) == [(a, exact[a])]


def test_numpy_dense_float32_contributions_are_cached_and_bounded() -> None:
    """The dense float32 vectors of common words (``_dense_of``) are built once per state of the
    statistics, read-only, dropped by any change, at most ``_DENSE_CACHE_SIZE`` tokens (least
    recently used out first); a token with a contribution too small for float32's normal range
    (``_DENSE_LEAST``) is summed in float64 instead, with the same ranking."""
    rng = random.Random(3)
    backend = numpy_keywords.NumpyKeywords()
    ids = [f"d{i}" for i in range(800)]
    backend.put(ids, [[rng.randrange(30) for _ in range(20)] for _ in ids])
    position = {i: n for n, i in enumerate(ids)}
    first = backend.rank([0, 1, 2], 10, position, None)
    dense = backend._dense[0]
    assert dense is not None and not dense.flags.writeable and dense.size == len(ids)
    assert backend.rank([0, 1, 2], 10, position, None) == first and backend._dense[0] is dense
    for token in range(3, 30):
        backend.rank([token, 0], 5, position, None)  # token 0 stays the most recently used
        assert len(backend._dense) <= numpy_keywords._DENSE_CACHE_SIZE
    assert 0 in backend._dense and 1 not in backend._dense
    with mock.patch.object(numpy_keywords, "_DENSE_LEAST", 1e300):  # every contribution "too small"
        backend._changed()
        assert backend.rank([0, 1, 2], 10, position, None) == first
        assert backend._dense == {0: None}  # the first token refused: summed in float64
    backend.remove(["d0"])
    assert backend._dense == {}


@pytest.mark.parametrize("seed", range(3))
def test_numpy_sparse_array_path_for_many_rare_words(seed: int) -> None:
    """Rare words with more postings than the Python path takes (``_FEW_SPARSE``) but under a
    quarter of the rows: the float64 sum over the distinct rows held, where a row holding one
    query token (or two, repeat counts powers of two) keeps its float sum as exact; repeated query
    tokens and filters included, the oracle's ranking."""
    rng = random.Random(seed)
    vocab = [f"r{i}" for i in range(400)]
    ids = [f"d{i}" for i in range(3000)]
    docs = [rng.choices(vocab, k=rng.randint(1, 12)) + ["filler"] * rng.randint(0, 20) for _ in ids]
    backend = numpy_keywords.NumpyKeywords()
    backend.put(ids, docs)
    oracle = Oracle()
    oracle.put(ids, docs)
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    for trial in range(30):
        words = rng.sample(vocab, rng.randint(6, 14))
        query = words + rng.sample(words, rng.randint(0, 3)) * rng.choice([1, 2])  # repeats: counts 1-5
        postings = sum(len(backend._postings[w][0]) for w in set(query))
        assert numpy_keywords._FEW_SPARSE < postings and 4 * postings < len(ids)  # the path under test
        k = rng.choice([1, 5, 20, 100])
        allowed = None if trial % 3 else frozenset(rng.sample(ids, 900))
        assert backend.rank(query, k, position, allowed) == oracle.rank(query, k, position, allowed)


def test_numpy_float32_floor_keeps_the_margin_the_bound_needs() -> None:
    """KW-2 at float32: every dense float32 sum (at most ``terms + 1`` roundings of ``u = 2**-24``
    of the exact score, ``g = gamma(terms + 1)``) of a document of the final top k is at least
    ``kth (1 - g) / (1 + g)``; ``_floor_of32`` must be at or below that (exactly, in rationals),
    or be the least positive float32 (every positive sum is at least that: only sums of 0, rows
    without a query token or filtered out, are below it). It is a float32 and never below that."""
    np = pytest.importorskip("numpy")
    from fractions import Fraction

    rng = random.Random(8)
    u = Fraction(1, 2**24)
    least = float(np.nextafter(np.float32(0), np.float32(1)))
    kths = [0.0, least, 2 * least, 2.0**-126, 1e-30, 0.001, 0.5, 1.0, 3.0, 17.25, 1e6, 3e38]
    kths += [rng.lognormvariate(0, 3) for _ in range(300)]
    for kth in [float(np.float32(x)) for x in kths]:  # the k-th of float32 sums is a float32
        for terms in (1, 2, 3, 4, 7, 16, 100, 1 << 16):
            floor = numpy_keywords._floor_of32(kth, terms)
            assert isinstance(floor, np.float32) and float(floor) >= least
            g = (terms + 1) * u / (1 - (terms + 1) * u)
            assert float(floor) == least or Fraction(float(floor)) <= Fraction(kth) * (1 - g) / (1 + g), (kth, terms)
            assert kth > 0.0 or float(floor) == least


def test_floor32_is_the_largest_float32_at_most_its_argument() -> None:
    """``_kth.floor32`` (both numpy shortlists' thresholds): a float32 at most the float64 bound,
    with the next float32 up above it; -inf below the float32 range, the largest float32 above."""
    np = pytest.importorskip("numpy")
    from moss_ref_backends._kth import floor32

    rng = random.Random(4)
    values = [0.0, -0.0, 1e-46, -1e-46, 2.0**-149, -(2.0**-149), 2.0**-126, 1.0, -1.0, 0.1, -0.1, 3.4e38, -3.4e38]
    values += [rng.uniform(-1, 1) * 10 ** rng.uniform(-45, 38) for _ in range(2000)]
    for x in values:
        f = floor32(x)
        assert isinstance(f, np.float32) and float(f) <= x, x
        assert float(np.nextafter(f, np.float32(np.inf))) > x, x
    assert float(floor32(-1e39)) == -math.inf and float(floor32(1e39)) == float(np.finfo(np.float32).max)


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(
        st.one_of(
            st.integers(0, 40),
            st.integers(0, 0xFFFF),
            st.integers(0, 0xFFFFFFFF),
            st.sampled_from([0xFFFF, 0x10000, 0xFFFFFFFF]),
        ),
        max_size=300,
    )
)
def test_the_radix_order_is_the_stable_sorting_permutation(keys: list[int]) -> None:
    """``_stable_order32`` (export_terms and the postings build): the permutation a stable sort
    of the keys gives, for 16-bit keys (one pass) and 32-bit ones (two), repeats kept in order."""
    np = pytest.importorskip("numpy")
    for dtype in (np.int64, np.uint32):
        order = numpy_keywords._stable_order32(np.array(keys, dtype=dtype))
        assert order.tolist() == sorted(range(len(keys)), key=keys.__getitem__)
