"""Query latency, side by side: kernels, moss_ref sessions on each backend, qdrant and chroma.

For each N, every contender below runs once per interleaved round on the same query (top_k 10,
custom 384-d unit vectors, documents of 12 Zipf-distributed words, metadata ``bucket`` with 10
values so that ``$eq`` keeps 10%):

* ``numpy kernel``: ``M @ q`` + ``np.argpartition`` (the limit for any numpy backend);
  ``numpy kernel, matching rows``: the same over ``M[rows]``, ``rows`` precomputed;
* ``stdlib kernel``: the fastest pure-Python scan found by :func:`stdlib_kernels` + ``heapq``
  (the limit for any pure-Python backend; N <= 10k); ``..., matching rows`` likewise;
* ``moss numpy`` / ``moss python``: ``await session.query(...)`` on a custom-model session
  (driven without an event loop, see ``common.drive``), at alpha 1.0 and at the default 0.8,
  unfiltered and with ``{"field": "bucket", "condition": {"$eq": b}}`` (``b`` rotates over the 10
  values); ``filtered, new filter`` uses a filter never seen before (``$in [b, "none-<round>"]``),
  so no cache of the index or backend helps;
* ``qdrant local``: ``QdrantClient(":memory:")``, DOT distance, ``query_points``, filter
  ``MatchValue``; ``chroma``: ``EphemeralClient``, ``hnsw:space=ip``, ``where={"bucket": b}``
  (approximate HNSW: its recall@10 is reported next to it).

Run it through ``bench/run.py``; ``python bench/query.py --n 10000 --numpy-only`` prints one
JSON result (used to measure numpy with the machine's default BLAS threads in a subprocess).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import sys
from array import array
from collections.abc import Callable
from operator import mul
from typing import Any

import numpy as np
from common import (
    BUCKETS,
    DIM,
    TOP_K,
    bucket_of,
    clustered_vectors,
    doc_id,
    drive,
    interleaved,
    log,
    query_texts,
    query_vectors,
    summary,
    texts,
)

from moss_ref import DocumentInfo, MossClient, QueryOptions
from moss_ref.stores.memory import MemoryStore

QUERIES = 64
NEW_FILTER = "moss numpy, alpha 1.0, filtered, new filter"
ADD_BATCH = 1000


# -- data and builders ----------------------------------------------------------------------------


class Data:
    def __init__(self, n: int) -> None:
        self.n = n
        self.matrix = clustered_vectors(n)
        self.texts = texts(n)
        self.ids = [doc_id(i) for i in range(n)]
        self.queries32 = query_vectors(QUERIES)
        self.queries = [row.tolist() for row in self.queries32]
        self.query_texts = query_texts(QUERIES)
        self.rows_by_bucket = [np.arange(b, n, BUCKETS, dtype=np.intp) for b in range(BUCKETS)]

    def documents(self, a: int, b: int) -> list[DocumentInfo]:
        m = self.matrix
        return [DocumentInfo(self.ids[i], self.texts[i], {"bucket": bucket_of(i)}, m[i].tolist()) for i in range(a, b)]


def build_session(backend: str, data: Data) -> tuple[Any, float]:
    """A custom-model session holding ``data``; returns it and the seconds add_docs took in total."""
    import time

    client = MossClient("bench", "bench-key", store=MemoryStore(), vector_backend=backend)
    session = client.session_sync("bench", "custom", auto_load_on_init=False)
    spent = 0.0
    for a in range(0, data.n, ADD_BATCH):
        docs = data.documents(a, min(data.n, a + ADD_BATCH))
        start = time.perf_counter()
        drive(session.add_docs(docs))
        spent += time.perf_counter() - start
    assert session.doc_count == data.n
    return session, spent


# -- kernels --------------------------------------------------------------------------------------


def stdlib_kernels(data: Data) -> dict[str, Callable[[list[float], int], list[int]]]:
    """Candidate pure-Python scans (each returns the top-k row numbers); the fastest is the limit."""
    n, d, k = data.n, DIM, TOP_K
    flat = array("f", data.matrix.tobytes())
    rows = [flat[i * d : (i + 1) * d] for i in range(n)]

    def iterator(q: list[float], _: int) -> list[int]:
        it = iter(flat)  # map() stops when q ends: each sum consumes exactly one row
        scores = [sum(map(mul, q, it)) for _ in range(n)]
        return heapq.nlargest(k, range(n), key=scores.__getitem__)

    def slices(q: list[float], _: int) -> list[int]:
        scores = [sum(map(mul, q, flat[i * d : i * d + d])) for i in range(n)]
        return heapq.nlargest(k, range(n), key=scores.__getitem__)

    def row_arrays(q: list[float], _: int) -> list[int]:
        scores = [sum(map(mul, q, row)) for row in rows]
        return heapq.nlargest(k, range(n), key=scores.__getitem__)

    kernels = {"sum(map(mul)) over one array iterator": iterator, "sum(map(mul)) over row slices": slices}
    kernels["sum(map(mul)) over per-row arrays"] = row_arrays
    sumprod = getattr(math, "sumprod", None)  # Python >= 3.12
    if sumprod is not None:

        def sumprod_rows(q: list[float], _: int) -> list[int]:
            scores = [sumprod(q, row) for row in rows]
            return heapq.nlargest(k, range(n), key=scores.__getitem__)

        kernels["math.sumprod over per-row arrays"] = sumprod_rows
    return kernels


def stdlib_rows_kernel(data: Data) -> Callable[[list[float], int], list[int]]:
    """The pure-Python limit with a filter: score the matching rows (precomputed) only."""
    d, k = DIM, TOP_K
    flat = array("f", data.matrix.tobytes())
    rows_by_bucket = [r.tolist() for r in data.rows_by_bucket]

    def kernel(q: list[float], bucket: int) -> list[int]:
        rows = rows_by_bucket[bucket]
        scores = [sum(map(mul, q, flat[i * d : i * d + d])) for i in rows]
        return heapq.nlargest(k, range(len(rows)), key=scores.__getitem__)

    return kernel


# -- competitors ----------------------------------------------------------------------------------


def build_qdrant(data: Data) -> tuple[Any, Any] | None:
    try:
        from qdrant_client import QdrantClient, models
    except ImportError:
        return None
    client = QdrantClient(":memory:")
    client.create_collection("bench", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    client.upload_collection(
        "bench",
        vectors=data.matrix,
        payload=[{"bucket": bucket_of(i)} for i in range(data.n)],
        ids=list(range(data.n)),
        batch_size=1000,
    )
    return client, models


def build_chroma(data: Data) -> Any | None:
    try:
        import chromadb
        from chromadb.config import Settings
    except ImportError:
        return None
    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    name = f"bench-{data.n}"  # ephemeral clients of one process share their collections
    if name in [c.name if hasattr(c, "name") else c for c in client.list_collections()]:
        client.delete_collection(name)
    collection = client.create_collection(name, metadata={"hnsw:space": "ip"}, embedding_function=None)
    step = 5000
    for a in range(0, data.n, step):
        b = min(data.n, a + step)
        collection.add(
            ids=data.ids[a:b], embeddings=data.matrix[a:b], metadatas=[{"bucket": bucket_of(i)} for i in range(a, b)]
        )
    return collection


# -- one N ----------------------------------------------------------------------------------------


def eq_filter(bucket: int) -> dict[str, Any]:
    return {"field": "bucket", "condition": {"$eq": str(bucket)}}


def bench_n(
    n: int,
    rounds: dict[str, int],
    *,
    python_backend: bool,
    competitors: bool,
    numpy_only: bool = False,
) -> dict[str, Any]:
    """All comparisons at one N. ``rounds`` per group: ``numpy``, ``python``, ``competitors``.

    Each comparison is its own interleaved group (kernel vs moss_ref on one backend; moss_ref vs
    the other engines), so an 80 ms pure-Python scan does not run between two numpy calls and
    evict the matrix from the CPU caches of the contenders it is not compared with.
    """
    import time

    log(f"[query] N={n}: building data")
    data = Data(n)
    M, k = data.matrix, TOP_K
    out: dict[str, Any] = {"n": n, "rounds": rounds, "top_k": k, "dim": DIM, "groups": {}}
    add_seconds: dict[str, float] = {}

    def q32(r: int) -> np.ndarray:
        return data.queries32[r % QUERIES]

    def q(r: int) -> list[float]:
        return data.queries[r % QUERIES]

    def text(r: int) -> str:
        return data.query_texts[r % QUERIES]

    sessions: dict[str, Any] = {}
    backends = ["numpy"] + (["python"] if python_backend and not numpy_only else [])
    for backend in backends:
        log(f"[query] N={n}: add_docs into a {backend} session")
        sessions[backend], add_seconds[backend] = build_session(backend, data)
    out["add_docs_docs_per_s"] = {b: round(n / s, 1) for b, s in add_seconds.items()}

    def moss(backend: str) -> dict[str, Callable[[int], object]]:
        session = sessions[backend]
        label = f"moss {backend}"

        def a1(r: int) -> object:
            return drive(session.query(text(r), QueryOptions(embedding=q(r), top_k=k, alpha=1.0)))

        def a1f(r: int) -> object:
            flt = eq_filter(r % BUCKETS)
            return drive(session.query(text(r), QueryOptions(embedding=q(r), top_k=k, alpha=1.0, filter=flt)))

        def a08(r: int) -> object:
            return drive(session.query(text(r), QueryOptions(embedding=q(r), top_k=k)))

        def a08f(r: int) -> object:
            return drive(session.query(text(r), QueryOptions(embedding=q(r), top_k=k, filter=eq_filter(r % BUCKETS))))

        return {
            f"{label}, alpha 1.0": a1,
            f"{label}, alpha 1.0, filtered": a1f,
            f"{label}, alpha 0.8": a08,
            f"{label}, alpha 0.8, filtered": a08f,
        }

    # every moss result must be the exact ranking (same ids, same order) before anything is timed
    recall: dict[str, float] = {}
    for backend, session in sessions.items():
        exact = _recall(
            data,
            lambda r, s=session: [
                d.id for d in drive(s.query("", QueryOptions(embedding=q(r), top_k=k, alpha=1.0))).docs
            ],
            ordered=True,
        )
        assert exact == 1.0, (backend, exact)
        recall[f"moss {backend}"] = exact

    # -- numpy: the raw kernel against the numpy backend -------------------------------------------
    def rows_kernel(r: int) -> object:
        scores = M[data.rows_by_bucket[r % BUCKETS]] @ q32(r)
        return np.argpartition(scores, scores.size - k)[scores.size - k :]

    group: dict[str, Callable[[int], object]] = {
        "numpy kernel": lambda r: np.argpartition(M @ q32(r), n - k)[n - k :],
        "numpy kernel, matching rows": rows_kernel,
        **moss("numpy"),
    }
    numpy_session = sessions["numpy"]

    def a1f_new(r: int) -> object:
        flt = {"field": "bucket", "condition": {"$in": [str(r % BUCKETS), f"none-{r}"]}}
        return drive(numpy_session.query(text(r), QueryOptions(embedding=q(r), top_k=k, alpha=1.0, filter=flt)))

    _run_group(out, "numpy", group, rounds["numpy"])
    # A stream of never-repeated filters is another workload: run on its own, it does not evict the
    # cached answers of the repeated filters above (nor they its).
    group = {"numpy kernel, matching rows (new-filter group)": rows_kernel, NEW_FILTER: a1f_new}
    _run_group(out, "numpy-new-filter", group, rounds["numpy"])

    # -- pure Python: the best stdlib kernel against the python backend ---------------------------
    if "python" in sessions:
        log(f"[query] N={n}: choosing the best stdlib kernel")
        kernels = stdlib_kernels(data)
        trial = interleaved({name: (lambda r, f=f: f(q(r), r)) for name, f in kernels.items()}, 5)
        kernel_p50 = {name: summary(t)["p50_ms"] for name, t in trial.items()}
        best = min(kernel_p50, key=lambda name: kernel_p50[name])
        out["stdlib_kernels_p50_ms"] = kernel_p50
        out["stdlib_kernel_best"] = best
        best_kernel = kernels[best]
        rows_kernel_py = stdlib_rows_kernel(data)
        group = {
            "stdlib kernel": lambda r: best_kernel(q(r), r),
            "stdlib kernel, matching rows": lambda r: rows_kernel_py(q(r), r % BUCKETS),
            **moss("python"),
        }
        _run_group(out, "python", group, rounds["python"])

    # -- other engines: qdrant local mode and chroma against the numpy backend --------------------
    if competitors and not numpy_only:
        reference = moss("numpy")
        group = {
            "moss numpy, alpha 1.0 (with competitors)": reference["moss numpy, alpha 1.0"],
            "moss numpy, alpha 1.0, filtered (with competitors)": reference["moss numpy, alpha 1.0, filtered"],
        }
        log(f"[query] N={n}: loading qdrant local mode")
        start = time.perf_counter()
        built = build_qdrant(data)
        if built is not None:
            out["qdrant_load_s"] = round(time.perf_counter() - start, 3)
            qdrant, models = built

            def qd(r: int) -> Any:
                return qdrant.query_points("bench", query=q(r), limit=k).points

            def qdf(r: int) -> Any:
                flt = models.Filter(
                    must=[models.FieldCondition(key="bucket", match=models.MatchValue(value=str(r % BUCKETS)))]
                )
                return qdrant.query_points("bench", query=q(r), limit=k, query_filter=flt).points

            group["qdrant local, unfiltered"] = qd
            group["qdrant local, filtered"] = qdf
            recall["qdrant local"] = _recall(data, lambda r: [data.ids[p.id] for p in qd(r)])
        else:
            out["qdrant"] = "not installed (pip install qdrant-client)"
        log(f"[query] N={n}: loading chroma ephemeral")
        start = time.perf_counter()
        collection = build_chroma(data)
        if collection is not None:
            out["chroma_load_s"] = round(time.perf_counter() - start, 3)

            def ch(r: int) -> Any:
                return collection.query(query_embeddings=[q32(r)], n_results=k, include=["distances"])["ids"][0]

            def chf(r: int) -> Any:
                return collection.query(
                    query_embeddings=[q32(r)], n_results=k, where={"bucket": str(r % BUCKETS)}, include=["distances"]
                )["ids"][0]

            group["chroma, unfiltered"] = ch
            group["chroma, filtered"] = chf
            recall["chroma"] = _recall(data, ch)
        else:
            out["chroma"] = "not installed (pip install chromadb)"
        if len(group) > 2:
            _run_group(out, "competitors", group, rounds["competitors"])

    out["recall_at_10"] = recall
    out["contenders"] = {name: s for g in out["groups"].values() for name, s in g["contenders"].items()}
    return out


def _run_group(out: dict[str, Any], name: str, group: dict[str, Callable[[int], object]], rounds: int) -> None:
    log(f"[query] N={out['n']}: group {name}: {len(group)} contenders x {rounds} interleaved rounds")
    times = interleaved(group, rounds, warmup=2)
    out["groups"][name] = {"rounds": rounds, "contenders": {c: summary(t) for c, t in times.items()}}
    for c, s in out["groups"][name]["contenders"].items():
        log(f"    {c:52s} p50 {s['p50_ms']:10.3f} ms")


def _recall(data: Data, ids_of: Callable[[int], list[str]], probes: int = 16, ordered: bool = False) -> float:
    """Mean recall@10 against the exact ranking over ``probes`` queries.

    Exact = the reference rule (R-Q-1, VEC-3): correctly rounded dot products (``math.fsum`` of the
    exact float64 products of float32 values), ties by id, over a float64 shortlist of 4k rows.
    """
    total = 0.0
    wide = data.matrix.astype(np.float64)
    for r in range(probes):
        q = data.queries32[r].astype(np.float64)
        scores = wide @ q
        m = min(data.n, 4 * TOP_K)
        cand = np.argpartition(scores, data.n - m)[data.n - m :].tolist()
        exact = {i: math.fsum((wide[i] * q).tolist()) for i in cand}
        want = [data.ids[i] for i in sorted(cand, key=lambda i: (-exact[i], data.ids[i]))[:TOP_K]]
        got = list(ids_of(r))
        if ordered:
            total += 1.0 if got == want else 0.0
        else:
            total += len(set(got) & set(want)) / TOP_K
    return round(total / probes, 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moss_ref query benchmark (one N); prints JSON")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=51)
    parser.add_argument("--numpy-only", action="store_true", help="numpy kernels and the numpy backend only")
    args = parser.parse_args(argv)
    rounds = {"numpy": args.rounds, "python": args.rounds, "competitors": args.rounds}
    result = bench_n(args.n, rounds, python_backend=False, competitors=False, numpy_only=args.numpy_only)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
