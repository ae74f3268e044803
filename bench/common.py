"""Shared pieces of the benchmark harness: timing, data, machine notes.

Timing rule (bench/README.md): every contender of one comparison runs once per *round*, in an
order that rotates from round to round, so a burst of noise from the shared machine lands on all
of them alike; the figure reported is the median over rounds, and every ratio is taken between
two medians of the same run.
"""

from __future__ import annotations

import gc
import importlib.metadata
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import numpy as np

DIM = 384
TOP_K = 10
BUCKETS = 10  # metadata "bucket" takes 10 values: an $eq filter keeps 10% of the documents
VOCABULARY = 5000
WORDS_PER_DOC = 12
QUERY_WORD_RANKS = (20, 1000)  # query words: Zipf ranks 20..1000 (content words, not the 20 commonest)


# -- timing ---------------------------------------------------------------------------------------


def interleaved(contenders: dict[str, Callable[[int], object]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each contender, ``rounds`` interleaved rounds after ``warmup`` ones.

    Each contender is called as ``fn(round_index)`` so that all of them see the same query in a
    round; the order of the contenders rotates by one every round.
    """
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # collections land on whoever allocates: keep them out of the timed calls
    try:
        for r in range(warmup + rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                fn = contenders[name]
                start = time.perf_counter()
                fn(r)
                elapsed = time.perf_counter() - start
                if r >= warmup:
                    times[name].append(elapsed)
            gc.collect()
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def median_ms(samples: Sequence[float]) -> float:
    return round(statistics.median(samples) * 1000.0, 4)


def summary(samples: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "p50_ms": median_ms(ordered),
        "p10_ms": round(ordered[len(ordered) // 10] * 1000.0, 4),
        "p90_ms": round(ordered[min(len(ordered) - 1, (len(ordered) * 9) // 10)] * 1000.0, 4),
        "rounds": len(ordered),
    }


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (moss_ref's SessionIndex methods) without an event loop.

    This times the public ``await session.query(...)`` path itself, not an event loop's overhead.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the coroutine suspended; drive() only runs non-suspending coroutines")


# -- data -----------------------------------------------------------------------------------------


def unit_rows(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def clustered_vectors(n: int, seed: int = 7, clusters: int = 256, chunk: int = 20_000) -> np.ndarray:
    """``n`` unit float32 vectors of 384 dimensions around ``clusters`` centres (embedding-like)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for a in range(0, n, chunk):  # in chunks: no large float64 temporaries
        b = min(n, a + chunk)
        picks = rng.integers(0, clusters, b - a)
        out[a:b] = unit_rows(centres[picks] + 0.7 * rng.standard_normal((b - a, DIM)).astype(np.float32))
    return out


def query_vectors(count: int, seed: int = 11, clusters: int = 256) -> np.ndarray:
    """Queries drawn like the documents (same centres: ``clustered_vectors`` uses the same seed stream)."""
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    q_rng = np.random.default_rng(seed)
    picks = q_rng.integers(0, clusters, count)
    return unit_rows(centres[picks] + 0.7 * q_rng.standard_normal((count, DIM)).astype(np.float32))


def vocabulary() -> list[str]:
    return [f"w{i:04d}" for i in range(VOCABULARY)]


def texts(n: int, seed: int = 5) -> list[str]:
    """Documents of 12 words drawn from a Zipf(1) law over 5,000 words (BM25 postings like prose)."""
    words = vocabulary()
    weights = [1.0 / (rank + 1) for rank in range(VOCABULARY)]
    rng = random.Random(seed)
    flat = rng.choices(words, weights=weights, k=n * WORDS_PER_DOC)
    return [" ".join(flat[i * WORDS_PER_DOC : (i + 1) * WORDS_PER_DOC]) for i in range(n)]


def query_texts(count: int, seed: int = 13) -> list[str]:
    words = vocabulary()
    lo, hi = QUERY_WORD_RANKS
    rng = random.Random(seed)
    return [" ".join(rng.choice(words[lo:hi]) for _ in range(3)) for _ in range(count)]


def doc_id(i: int) -> str:
    return f"doc-{i:07d}"


def bucket_of(i: int) -> str:
    return str(i % BUCKETS)


# -- machine notes --------------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    blas: dict[str, Any] = {}
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.26
        info = config["Build Dependencies"]["blas"]
        blas = {"name": info.get("name"), "version": info.get("version")}
    except Exception:  # older numpy: no dict mode
        pass
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "numpy": np.__version__,
        "blas": blas,
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "packages": {
            name: _version(name) for name in ("moss-ref", "onnxruntime", "qdrant-client", "chromadb", "tokenizers")
        },
        "executable": sys.executable,
        "auto": auto_picks(),
    }


def auto_picks() -> dict[str, Any]:
    """What ``auto`` chooses in this environment, per built-in model id (R-M-2, R-V-1)."""
    import warnings

    from moss_ref._registry import create_embedder, create_vector_backend

    out: dict[str, Any] = {"vector_backend": create_vector_backend("auto").name}
    for model_id in ("moss-minilm", "moss-mediumlm", "moss-litelm"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fp = create_embedder("auto", model_id).fingerprint
        out[model_id] = {
            "embedder": fp.backend,
            "version": fp.version,
            "dimension": fp.dimension,
            "fallback_warning": any(w.category.__name__ == "EmbedderFallbackWarning" for w in caught),
        }
    return out


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
