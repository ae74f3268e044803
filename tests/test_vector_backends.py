"""Vector backends (docs/rules/vectors.md): every backend equals an exact reference, bit for bit.

The reference ranks by the exact dot product computed with ``fractions.Fraction`` and rounded
once (``Fraction.__float__`` is correctly rounded): independent of the backends' fsum code.
"""

from __future__ import annotations

import math
import random
import struct
import tracemalloc
from array import array
from collections.abc import Callable, Collection, Sequence
from fractions import Fraction
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_ref._errors import InvalidArgumentError
from moss_ref._protocols import VectorBackend
from moss_ref._vectors import PythonVectors, error_bound_factor

try:
    from moss_ref_backends.numpy_vectors import NumpyVectors
except Exception:  # numpy not installed: python backend only
    NumpyVectors = None  # type: ignore[assignment,misc]

FACTORIES: list[Callable[[], Any]] = [PythonVectors] + ([NumpyVectors] if NumpyVectors is not None else [])
BACKEND_IDS = [f.__name__ for f in FACTORIES]


def f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def exact(q: Sequence[float], d: Sequence[float]) -> float:
    return float(sum((Fraction(a) * Fraction(b) for a, b in zip(q, d)), Fraction(0)))


def reference_rank(
    model: dict[str, list[float]], q: Sequence[float], k: int, allowed: Collection[str] | None
) -> list[tuple[str, float]]:
    q = [f32(x) for x in q]
    pool = model if allowed is None else {i: v for i, v in model.items() if i in set(allowed)}
    ranked = sorted(((i, exact(q, v)) for i, v in pool.items()), key=lambda t: (-t[1], t[0]))
    return ranked[: max(k, 0)]


# -- strategies: ties, near-ties, cancellation, negative, unnormalised, subnormal, huge ----------

TIE_POOL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1 + 2**-23, 1 - 2**-24, -(1 + 2**-23), 3.0, 2.0**20, -(2.0**20)]
float32s = st.one_of(
    st.sampled_from(TIE_POOL),
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-4, max_value=4, width=32),
    st.sampled_from([2.0**40, -(2.0**40), 2.0**-40, 2.0**-140, 3.4e38, -3.4e38]),
)
doc_ids = st.text(alphabet="abAB_é😀", min_size=1, max_size=3)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[tuple[Any, ...]], list[tuple[list[float], int, list[str] | None]]]:
    dim = draw(st.integers(1, 6))
    vector = st.lists(float32s, min_size=dim, max_size=dim)
    query, top = st.one_of(vector, st.lists(float32s, min_size=dim, max_size=dim)), st.integers(0, 12)
    if dim >= 4 and draw(st.integers(0, 2)):  # big + t - big + e: inexact kernels lose t, exact order differs
        big = draw(st.sampled_from([2.0**40, 2.0**50, 2.0**60]))
        small = st.floats(min_value=-(2.0**-14), max_value=2.0**-14, width=32)
        vector = st.builds(
            lambda mid, tail: [big, *mid, -big, tail], st.lists(small, min_size=dim - 3, max_size=dim - 3), small
        )
        query, top = st.one_of(st.just([1.0] * dim), st.just([1.0] * dim), vector), st.integers(0, 3)
    base = draw(st.lists(vector, min_size=1, max_size=4))  # reused rows make exact duplicates
    vector = st.one_of(vector, st.sampled_from(base))
    ops: list[tuple[Any, ...]] = []
    seen = ["unknown"]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["put", "put", "put", "put", "remove", "clear"]))
        if kind == "put":
            ids = draw(st.lists(st.one_of(doc_ids, st.sampled_from(seen)), max_size=12))
            seen.extend(ids)
            ops.append(("put", ids, [draw(vector) for _ in ids]))
        elif kind == "remove":
            ops.append(("remove", draw(st.lists(st.one_of(doc_ids, st.sampled_from(seen)), max_size=6))))
        else:
            ops.append(("clear",))
    queries = []
    for _ in range(draw(st.integers(1, 4))):
        q = draw(query)
        k = draw(top)
        allowed = draw(st.one_of(st.none(), st.lists(st.sampled_from(seen), max_size=12)))
        queries.append((q, k, allowed))
    return dim, ops, queries


def apply(ops: list[tuple[Any, ...]], backends: list[Any], model: dict[str, list[float]]) -> None:
    for op in ops:
        if op[0] == "put":
            for b in backends:
                b.put(op[1], op[2])
            for i, v in zip(op[1], op[2]):
                model[i] = [f32(x) for x in v]
        elif op[0] == "remove":
            for b in backends:
                b.remove(op[1])
            for i in op[1]:
                model.pop(i, None)
        else:
            for b in backends:
                b.clear()
            model.clear()


@settings(max_examples=200)
@given(scenario=scenarios())
def test_backends_equal_exact_reference(
    scenario: tuple[int, list[tuple[Any, ...]], list[tuple[list[float], int, list[str] | None]]],
) -> None:
    _, ops, queries = scenario
    backends = [f() for f in FACTORIES]
    model: dict[str, list[float]] = {}
    apply(ops, backends, model)
    for b in backends:
        assert len(b) == len(model)
        assert {i: b.get(i) for i in model} == model
        assert b.get("not-there") is None
    for q, k, allowed in queries:
        expected = reference_rank(model, q, k, allowed)
        sims = {i: s for i, s in reference_rank(model, q, len(model), None)}
        asked = [*(allowed or []), *list(model)[:2], "missing"]
        for b in backends:
            got = b.rank(q, k, allowed)
            assert got == expected, b.name
            assert [struct.pack("<d", s) for _, s in got] == [struct.pack("<d", s) for _, s in expected]
            assert b.similarities(q, asked) == {i: sims[i] for i in asked if i in model}


@pytest.mark.parametrize("factory", FACTORIES, ids=BACKEND_IDS)
def test_shortlist_survives_cancellation(factory: Callable[[], Any]) -> None:
    """Inexact kernels lose the middle term (2**30 + t - 2**30 + e gives e, exactly t + e): their
    order (by e) is the reverse of the exact order (by t); the error bound must widen the shortlist."""
    rng = random.Random(7)
    rows = {f"x{j:02d}": [2.0**30, f32(2.0**-30 * (60 - j)), -(2.0**30), 2.0**-40 * j] for j in range(1, 60)}
    rows.update({f"y{j:02d}": [0.0, f32(-(2.0**-20) * j), 0.0, 0.0] for j in range(1, 10)})
    ids = list(rows)
    rng.shuffle(ids)
    backend = factory()
    backend.put(ids, [rows[i] for i in ids])
    q = [1.0, 1.0, 1.0, 1.0]
    for k in (1, 3, 10, 100):
        assert backend.rank(q, k, None) == reference_rank(rows, q, k, None)
        allowed = ids[::2]
        assert backend.rank(q, k, allowed) == reference_rank(rows, q, k, allowed)


@pytest.mark.parametrize("factory", FACTORIES, ids=BACKEND_IDS)
def test_realistic_unit_vectors_with_near_ties(factory: Callable[[], Any]) -> None:
    rng = random.Random(11)
    dim = 384

    def unit() -> list[float]:
        v = [rng.gauss(0, 1) for _ in range(dim)]
        n = math.sqrt(math.fsum(x * x for x in v))
        return [f32(x / n) for x in v]

    model = {f"d{i:04d}": unit() for i in range(300)}
    base = model["d0000"]
    for j in range(20):  # near-duplicates of one row: one ulp apart in one component, and exact copies
        v = list(base)
        v[j] = float(array("f", [math.nextafter(base[j], math.inf)]).tolist()[0]) if j % 2 else base[j]
        model[f"n{j:02d}"] = v
    backend = factory()
    backend.put(list(model), list(model.values()))
    q = base
    for k in (1, 5, 21, 50):
        assert backend.rank(q, k, None) == reference_rank(model, q, k, None)
    assert backend.rank(q, 30, list(model)[100:]) == reference_rank(model, q, 30, list(model)[100:])


def f32_step(x: float, steps: int) -> float:
    """``x`` moved by ``steps`` float32 ulps (x > 0)."""
    (bits,) = struct.unpack("<I", struct.pack("<f", x))
    return float(struct.unpack("<f", struct.pack("<I", bits + steps))[0])


@pytest.mark.parametrize("factory", FACTORIES, ids=BACKEND_IDS)
@pytest.mark.parametrize("seed", range(4))
def test_near_duplicates_beyond_float32_resolution(factory: Callable[[], Any], seed: int) -> None:
    """Rows one ulp apart in a few components: a float32 kernel sees a handful of tied or wrongly
    ordered scores, the exact dot products all differ; the float32 error bound must widen the
    shortlist enough."""
    rng = random.Random(seed)
    dim = 64
    base = [f32(abs(rng.gauss(0, 1)) + 0.01) for _ in range(dim)]
    q = [f32(rng.gauss(0, 1)) for _ in range(dim)]
    model = {}
    for j in range(200):
        row = list(base)
        for i in rng.sample(range(dim), 8):
            row[i] = f32_step(row[i], rng.choice([-1, 1]))
        model[f"r{j:03d}"] = row
    backend = factory()
    backend.put(list(model), list(model.values()))
    for k in (1, 5, 20):
        assert backend.rank(q, k, None) == reference_rank(model, q, k, None)
    allowed = list(model)[::3]
    assert backend.rank(q, 5, allowed) == reference_rank(model, q, 5, allowed)


def test_python_and_numpy_agree_on_larger_random_sets() -> None:
    if NumpyVectors is None:
        pytest.skip("numpy not installed")
    rng = random.Random(3)
    ids = [f"doc-{i}" for i in range(2000)]
    vectors = [[f32(rng.choice([0.1, -0.1, 0.2, rng.uniform(-1, 1)])) for _ in range(16)] for _ in ids]
    py, npb = PythonVectors(), NumpyVectors()
    for b in (py, npb):
        b.put(ids, vectors)
        b.remove(ids[::7])
        b.put(ids[::14], vectors[1::14][: len(ids[::14])])
    for _ in range(20):
        q = [f32(rng.uniform(-1, 1)) for _ in range(16)]
        k = rng.choice([1, 10, 100, 5000])
        allowed = None if rng.random() < 0.5 else set(rng.sample(ids, 300))
        assert py.rank(q, k, allowed) == npb.rank(q, k, allowed)
        assert py.similarities(q, ids[:50]) == npb.similarities(q, ids[:50])


@pytest.mark.parametrize("factory", FACTORIES, ids=BACKEND_IDS)
def test_edge_cases(factory: Callable[[], Any]) -> None:
    backend = factory()
    assert isinstance(backend, VectorBackend)
    assert backend.rank([1.0], 5, None) == [] and backend.similarities([1.0], ["a"]) == {}
    backend.put(["b", "a", "a"], [[1.0, 0.0], [0.5, 0.5], [0.25, 0.0]])  # last one wins
    assert backend.get("a") == [0.25, 0.0] and len(backend) == 2
    assert backend.rank([1.0, 0.0], 0, None) == []
    assert backend.rank([1.0, 0.0], -1, None) == []
    assert backend.rank([1.0, 0.0], 10, None) == [("b", 1.0), ("a", 0.25)]
    assert backend.rank([1.0, 0.0], 10, ["a", "a", "zzz"]) == [("a", 0.25)]
    assert backend.rank([1.0, 0.0], 10, []) == []
    assert backend.rank([0.0, 0.0], 1, None) == [("a", 0.0)]  # all tie: id ascending
    backend.remove(["a", "unknown", "a"])
    assert len(backend) == 1 and backend.get("a") is None
    backend.clear()
    backend.put(["c"], [[1.0, 2.0, 3.0]])  # empty again: a new dimension is accepted
    assert backend.get("c") == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("factory", FACTORIES, ids=BACKEND_IDS)
def test_rejects_bad_vectors_atomically(factory: Callable[[], Any]) -> None:
    backend = factory()
    backend.put(["a"], [[1.0, 2.0]])
    with pytest.raises(InvalidArgumentError, match=r"vectors\[1\] has 3 components; expected 2"):
        backend.put(["b", "c"], [[1.0, 1.0], [1.0, 1.0, 1.0]])
    with pytest.raises(InvalidArgumentError, match=r"vectors\[0\].*finite"):
        backend.put(["b"], [[math.inf, 1.0]])
    with pytest.raises(InvalidArgumentError, match=r"vectors\[0\].*finite"):
        backend.put(["b"], [[1e39, 1.0]])  # beyond float32 range
    with pytest.raises(InvalidArgumentError, match="2 ids but 1 vectors"):
        backend.put(["b", "c"], [[1.0, 1.0]])
    with pytest.raises(InvalidArgumentError, match="query has 3 components"):
        backend.rank([1.0, 0.0, 0.0], 1, None)
    assert len(backend) == 1 and backend.get("b") is None


@pytest.mark.parametrize("factory", FACTORIES, ids=BACKEND_IDS)
def test_float32_overflow_in_the_fast_kernel(factory: Callable[[], Any]) -> None:
    """Huge custom vectors overflow a float32 kernel (numpy then scores in float64); exact anyway."""
    big = f32(3.0e38)
    # 2*big overflows float32; in float64 2*big + 2t - 2*big + 2e loses t (ulp(6e38) = 2**77)
    model = {f"h{j:02d}": [big, f32(1e21 * j), -big, f32(1e12 * (40 - j))] for j in range(40)}
    backend = factory()
    backend.put(list(model), list(model.values()))
    for q in ([2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0], [big, big, -1.0, 0.0]):
        for k in (1, 7):
            assert backend.rank(q, k, None) == reference_rank(model, q, k, None)


@pytest.mark.parametrize("factory", FACTORIES, ids=BACKEND_IDS)
def test_query_is_rounded_to_float32(factory: Callable[[], Any]) -> None:
    backend = factory()
    backend.put(["a"], [[1.0, 1.0]])
    q = [0.1, 0.2]  # not float32 values
    assert backend.rank(q, 1, None) == [("a", exact([f32(0.1), f32(0.2)], [1.0, 1.0]))]


@pytest.mark.skipif(NumpyVectors is None, reason="numpy extra not installed")
def test_numpy_backend_names_a_query_that_is_not_flat() -> None:
    backend = NumpyVectors()
    backend.put(["a"], [[1.0, 2.0]])
    with pytest.raises(InvalidArgumentError, match=r"flat sequence of numbers; got an array of shape \(1, 2\)"):
        backend.rank([[1.0, 0.0]], 1, None)
    with pytest.raises(InvalidArgumentError, match="flat sequence of numbers; got bytes"):
        backend.rank(b"\x00" * 8, 1, None)  # not read as raw float32 bytes
    assert backend.rank((0.5, 0.25), 1, None) == [("a", 1.0)]  # any flat sequence, a tuple too


def test_python_backend_memory_and_swap_remove() -> None:
    n, dim = 10_000, 384
    ids = [f"doc-{i:05d}" for i in range(n)]
    rows = [array("f", [float(i % 13) / 13.0] * dim) for i in range(64)]
    tracemalloc.start()
    try:
        backend = PythonVectors()
        for start in range(0, n, 1000):
            backend.put(ids[start : start + 1000], [rows[i % 64] for i in range(start, start + 1000)])
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert used <= 1.3 * n * dim * 4, used / (n * dim * 4)
    backend.remove(ids[:5000:2])  # swap-remove keeps one contiguous array of exactly n rows
    assert len(backend._data) == len(backend) * dim == (n - 2500) * dim
    assert backend.get(ids[1]) == rows[1].tolist() and backend.get(ids[n - 1]) == rows[(n - 1) % 64].tolist()


def test_numpy_backend_grows_by_doubling_and_swap_removes() -> None:
    if NumpyVectors is None:
        pytest.skip("numpy not installed")
    backend = NumpyVectors()
    capacities = []
    for i in range(100):
        backend.put([f"d{i}"], [[float(i), 1.0]])
        capacities.append(backend._matrix.shape[0])
    assert sorted(set(capacities)) == [16, 32, 64, 128]
    matrix = backend._matrix
    backend.remove([f"d{i}" for i in range(0, 100, 3)])
    assert backend._matrix is matrix  # no rebuild
    assert all(backend.get(f"d{i}") == [float(i), 1.0] for i in range(100) if i % 3)


def test_error_bound_factor_covers_recursive_summation() -> None:
    """VEC-4: the factor is at least twice gamma(n-1) = (n-1)u / (1-(n-1)u)."""
    u = 2.0**-53
    for n in (1, 2, 3, 384, 4096, 10**6):
        gamma = (n - 1) * u / (1 - (n - 1) * u)
        assert error_bound_factor(n) >= 2 * gamma + 6 * u


class SmallMethodsOnly:
    """A third-party backend with only the small methods: the bulk fallback must serve it (VEC-7)."""

    name = "small"

    def __init__(self) -> None:
        self.inner = PythonVectors()

    def __len__(self) -> int:
        return len(self.inner)

    def put(self, ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        self.inner.put(ids, vectors)

    def remove(self, ids: Any) -> None:
        self.inner.remove(ids)

    def clear(self) -> None:
        self.inner.clear()

    def get(self, doc_id: str) -> list[float] | None:
        return self.inner.get(doc_id)

    def rank(self, query: Sequence[float], k: int, allowed: Collection[str] | None) -> list[tuple[str, float]]:
        return self.inner.rank(query, k, allowed)

    def similarities(self, query: Sequence[float], ids: Any) -> dict[str, float]:
        return self.inner.similarities(query, ids)


@pytest.mark.parametrize("factory", [*FACTORIES, SmallMethodsOnly], ids=[*BACKEND_IDS, "small-methods-only"])
def test_bulk_export_and_load_round_trip_exactly(factory: Callable[[], Any]) -> None:
    """VEC-7: load_rows then export_rows gives the same float32 bits, in the order asked, and the
    loaded backend ranks exactly like one filled by put."""
    from moss_ref._bulk import export_rows, load_rows

    rng = random.Random(5)
    ids = [f"d{i:03d}" for i in range(60)]
    vectors = [[rng.uniform(-1, 1) for _ in range(7)] for _ in ids]
    rows = array("f", [x for v in vectors for x in v])
    loaded, filled = factory(), factory()
    load_rows(loaded, ids, rows, 7)
    filled.put(ids, vectors)
    assert len(loaded) == 60
    assert export_rows(loaded, ids).tobytes() == rows.tobytes()
    backwards = list(reversed(ids))
    assert export_rows(loaded, backwards).tobytes() == export_rows(filled, backwards).tobytes()
    query = [f32(x) for x in (0.3, -0.2, 0.9, 0.1, 0.0, -0.5, 0.25)]
    norm = math.sqrt(sum(x * x for x in query))
    query = [f32(x / norm) for x in query]
    assert loaded.rank(query, 10, None) == filled.rank(query, 10, None)
    loaded.put(["new"], [[1.0] * 7])  # a loaded backend keeps working as usual
    assert loaded.get("new") == [1.0] * 7 and len(loaded) == 61


@pytest.mark.parametrize("factory", FACTORIES, ids=BACKEND_IDS)
def test_bulk_load_needs_an_empty_backend(factory: Callable[[], Any]) -> None:
    backend = factory()
    backend.put(["a"], [[1.0, 0.0]])
    with pytest.raises(InvalidArgumentError, match="empty"):
        backend.load_rows(["b"], array("f", [0.0, 1.0]), 2)
    assert backend.get("a") == [1.0, 0.0] and backend.get("b") is None


_FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.integers(1, 6).flatmap(
        lambda width: st.lists(st.lists(_FLOAT32, min_size=width, max_size=width), min_size=1, max_size=8).map(
            lambda rows: (width, rows)
        )
    ),
    data=st.data(),
    few_rows=st.sampled_from([0, 64]),
)
def test_vectorized_exact_dots_are_fsum(rows: tuple[int, list[list[float]]], data: Any, few_rows: int) -> None:
    """``exact_dots`` returns ``math.fsum`` of the exact products bit for bit (R-V-1), whatever the
    exponents, signs, cancellations or zeros (its fast path, or its fallback), whether its last
    steps run in numpy (``_FEW_ROWS`` 0) or, for a short shortlist, in Python."""
    np = pytest.importorskip("numpy")
    from moss_ref_backends import _exact_dot

    width, values = rows
    query = data.draw(st.lists(_FLOAT32, min_size=width, max_size=width))
    block = np.array(values, dtype=np.float32)
    q = np.array(query, dtype=np.float32)
    want = [math.fsum(float(a) * float(b) for a, b in zip(row, q.tolist())) for row in block.tolist()]
    with mock.patch.object(_exact_dot, "_FEW_ROWS", few_rows):
        got = _exact_dot.exact_dots(block, q)
    assert [struct.pack("<d", x) for x in got] == [struct.pack("<d", x) for x in want]


def test_vectorized_exact_dots_on_unit_vectors_and_cancellations() -> None:
    """Wide rows: random unit vectors, exact negations (sums of 0) and scaled exponents."""
    np = pytest.importorskip("numpy")
    from moss_ref_backends._exact_dot import exact_dots

    rng = np.random.default_rng(7)
    for width in (1, 3, 383, 384, 385, 1024):
        block = rng.standard_normal((100, width)).astype(np.float32)  # above _FEW_ROWS: numpy throughout
        block[:10] *= (np.float32(2.0) ** rng.integers(-60, 60, (10, width))).astype(np.float32)
        half = width // 2
        block[10:20, half : 2 * half] = -block[10:20, :half]
        q = rng.standard_normal(width).astype(np.float32)
        q[half : 2 * half] = q[:half]
        want = [
            math.fsum(a * b for a, b in zip(row, q.astype(np.float64).tolist()))
            for row in block.astype(np.float64).tolist()
        ]
        pieces = [x for i in range(0, 100, 10) for x in exact_dots(block[i : i + 10], q)]  # finished in Python
        for got in (exact_dots(block, q), pieces):
            assert [struct.pack("<d", x) for x in got] == [struct.pack("<d", x) for x in want]


def test_a_bulk_load_pauses_the_collector_and_restores_its_state() -> None:
    """VEC-7: a corpus's bulk load runs with the cyclic collector paused, and leaves it as it was
    (enabled again, or still disabled when the caller had disabled it), also when the load fails."""
    import gc

    from moss_ref._bulk import collector_paused

    seen = []
    for before in (True, False):
        (gc.enable if before else gc.disable)()
        try:
            with collector_paused():
                seen.append(gc.isenabled())
            assert gc.isenabled() is before
            with pytest.raises(ZeroDivisionError), collector_paused():
                1 / 0  # noqa: B018
            assert gc.isenabled() is before
        finally:
            gc.enable()
    assert seen == [False, False]


def test_numpy_load_rows_borrows_the_block_and_copies_it_before_any_change() -> None:
    """VEC-7: the numpy backend's bulk load keeps a read-only view of the stored rows (no copy at
    resume); the first put or remove copies them, so the caller's array never changes."""
    pytest.importorskip("numpy")
    from array import array

    from moss_ref_backends.numpy_vectors import NumpyVectors

    from moss_ref._vectors import PythonVectors

    ids = [f"d{i}" for i in range(6)]
    rows = array("f", [float(i * 3 + j) / 7.0 for i in range(6) for j in range(3)])
    before = rows.tobytes()
    for change in ("put new", "put existing", "remove"):
        mine, reference = NumpyVectors(), PythonVectors()
        mine.load_rows(ids, rows, 3)
        reference.put(ids, [rows[i * 3 : (i + 1) * 3].tolist() for i in range(6)])
        query = array("f", [0.5, -0.25, 1.0]).tolist()
        assert mine.rank(query, 4, None) == reference.rank(query, 4, None)
        for backend in (mine, reference):
            if change == "put new":
                backend.put(["x", "d2"], [[9.0, 0.0, 1.0], [-1.0, 2.0, 0.5]])
            elif change == "put existing":
                backend.put(["d0"], [[1.0, 1.0, 1.0]])
            else:
                backend.remove(["d1", "d4"])
        assert rows.tobytes() == before
        assert mine.rank(query, 6, None) == reference.rank(query, 6, None)
        assert all(mine.get(i) == reference.get(i) for i in [*ids, "x"])


def test_numpy_backend_moves_a_large_matrix_into_a_mapping_and_grows_it_there() -> None:
    """From 4 MiB on (Linux) the matrix lives in a mapping of its own, grown by mremap, or copied
    into a new one while another view of it exists; every read agrees with the python backend."""
    np = pytest.importorskip("numpy")
    from moss_ref_backends import numpy_vectors

    dim, n = 1024, 2600  # 4 MiB = 1,024 rows
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    ids = [f"d{i}" for i in range(n)]
    mine, reference = NumpyVectors(), PythonVectors()
    held = []
    for start in range(0, n, 100):
        if start == 1700:
            held.append(mine._matrix)  # a view that exists while the next growth happens
        for backend in (mine, reference):
            backend.put(ids[start : start + 100], vectors[start : start + 100].tolist())
        if start == 200:
            assert mine._map is None  # still small: a numpy array
    assert mine._matrix.shape[0] >= n
    if numpy_vectors._MAPPED:
        assert mine._map is not None and len(mine._map) % (2 << 20) == 0
        assert np.shares_memory(mine._matrix, np.frombuffer(mine._map, dtype=np.uint8))
    for backend in (mine, reference):
        backend.remove(ids[::5])
        backend.put(ids[1::9], vectors[: len(ids[1::9])].tolist())
    for seed in range(5):
        q = np.random.default_rng(seed).standard_normal(dim).astype(np.float32).tolist()
        allowed = None if seed % 2 else set(ids[::3])
        assert mine.rank(q, 25, allowed) == reference.rank(q, 25, allowed)
        assert mine.similarities(q, ids[:40]) == reference.similarities(q, ids[:40])
    assert all(mine.get(i) == reference.get(i) for i in ids[::37])
    kept = [i for i in ids if reference.get(i) is not None]
    assert mine.export_rows(kept) == reference.export_rows(kept)
    loaded = NumpyVectors()
    loaded.load_rows(kept, mine.export_rows(kept), dim)  # a borrowed block: copied at the first change
    loaded.put(["new"], [vectors[0].tolist()])
    assert loaded.export_rows(kept) == mine.export_rows(kept) and loaded.get("new") == reference.get(ids[1])
    assert (loaded._map is not None) == numpy_vectors._MAPPED


def test_stored_norms_are_tight_upper_bounds_at_every_scale() -> None:
    """The numpy backend keeps bounds of the row norms, not the norms (its shortlist bounds use
    nothing else): each at least ``sqrt(fsum(d_i^2))``, within a relative ``(n + 4) 2**-23`` of it
    (or an absolute 1e-17 for rows whose float32 squares underflow), and rows whose float32
    squares overflow measured in float64."""
    np = pytest.importorskip("numpy")
    from moss_ref_backends.numpy_vectors import _norms_above

    rng = np.random.default_rng(11)
    for width in (1, 7, 384, 1000):
        block = rng.standard_normal((60, width)).astype(np.float32)
        block *= (np.float32(2.0) ** rng.integers(-140, 66, (60, 1))).astype(np.float32)  # underflow .. overflow
        block[0] = 0.0
        exact = np.array([math.sqrt(math.fsum(x * x for x in row)) for row in block.astype(np.float64).tolist()])
        bounds = _norms_above(block)
        assert (bounds >= exact).all()
        assert (bounds <= exact * (1 + (width + 4) * 2.0**-23) + 1e-17).all()


def test_exact_dots_with_a_non_finite_row_keep_the_other_rows_exact() -> None:
    """A row with an infinite component (only a backend loaded against the contract holds one)
    leaves no power of two to extract with: every row is then summed by ``math.fsum``, so a
    finite row needing the extraction keeps its exact value (2, not 1, below)."""
    np = pytest.importorskip("numpy")
    from moss_ref_backends._exact_dot import exact_dots

    finite = [2.0**60, 1.0, -(2.0**60), 1.0]  # exact sum 2; a float sum in order gives 1
    q = np.ones(4, dtype=np.float32)
    for width in (2, 100):  # finished in Python, and in numpy
        block = np.array([finite] * (width - 1) + [[math.inf, 0.0, 0.0, 0.0]], dtype=np.float32)
        assert exact_dots(block, q) == [2.0] * (width - 1) + [math.inf]
        assert exact_dots(block[:-1], q) == [2.0] * (width - 1)


def test_exact_dots_near_a_rounding_midpoint_fall_back_to_fsum() -> None:
    """Sums within the extraction's error of a float64 rounding midpoint (1 + 2**-53 + 2**-106:
    the low parts' float sum rounds the tie the wrong way) must fail the rounding test and be
    summed by ``math.fsum``, in the Python finish (few rows) and in numpy (many)."""
    np = pytest.importorskip("numpy")
    from moss_ref_backends._exact_dot import exact_dots

    t = 2.0**-53
    rows = [[1.0, t, t * t], [1.0, t, -t * t], [1.0, -t / 2, -t * t / 2], [-1.0, -t, -t * t], [3.0, 3 * t, t * t]]
    q = np.ones(3, dtype=np.float32)
    want = [math.fsum(row) for row in rows]
    assert want[0] == 1.0 + 2 * t and want[0] != (1.0 + t) + t * t  # the case: naive sums round the tie down
    for copies in (1, 20):  # 5 rows: finished in Python; 100: in numpy
        block = np.array(rows * copies, dtype=np.float32)
        assert block.tolist() == rows * copies  # every value is a float32
        got = exact_dots(block, q)
        assert [struct.pack("<d", x) for x in got] == [struct.pack("<d", x) for x in want * copies]
