"""Memory per stored vector of each vector backend (run in a fresh process per measurement).

``python bench/memory.py --backend numpy --n 100000`` loads ``n`` unit 384-d vectors into the
backend with ``put`` in batches of 1,000 (as ``add_docs`` does), given as lists of Python floats
(what ``add_docs`` passes; ``--input arrays``: float32 arrays, the backend's own footprint), and
prints one JSON object:

* ``peak_bytes_per_vector``: the highest memory the backend held at any point of the load
  (``tracemalloc`` peak: numpy reports its buffers to tracemalloc), divided by ``n``. A large
  numpy matrix lives in a mapping of its own on Linux (``_map``), which tracemalloc cannot see:
  each batch's traced peak is added to the mapping's size after that batch (it only grows), and
  the largest such sum is the peak, an upper bound of the true one;
* ``retained_bytes_per_vector``: what it still holds once loaded (current traced memory, plus
  that mapping);
* both over the raw float32 size of a vector (1,536 bytes at 384-d);
* ``rss_retained_bytes_per_vector``: the growth of the process's resident memory over the load
  (``/proc/self/statm``), a cross-check that also counts what tracemalloc cannot see (allocator
  slack, pages of freed temporaries not yet returned).

The input vectors and the ids exist before tracing starts and are not counted; the backend's
own conversions of each batch are.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tracemalloc
from array import array
from typing import Any

from common import DIM, clustered_vectors, doc_id

BATCH = 1000


def _resident_bytes() -> Any:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:  # not Linux
        return None


def _mapped(backend: Any) -> int:
    """Bytes of the mapping the numpy backend's matrix lives in (0 for none)."""
    mapping = getattr(backend, "_map", None)
    return 0 if mapping is None else len(mapping)


def measure(backend_name: str, n: int, source: str) -> dict[str, object]:
    from moss_ref._registry import create_vector_backend

    matrix = clustered_vectors(n)
    ids = [doc_id(i) for i in range(n)]
    batches: list[Any]
    if source == "lists":  # what add_docs hands the backend: lists of Python floats
        batches = [matrix[a : min(n, a + BATCH)].tolist() for a in range(0, n, BATCH)]
    elif backend_name == "python":  # rows as array('f'): the cheapest Sequence[float] for that backend
        flat = array("f", matrix.tobytes())
        batches = [[flat[i * DIM : (i + 1) * DIM] for i in range(a, min(n, a + BATCH))] for a in range(0, n, BATCH)]
    else:  # float32 ndarray slices: the backend reads them without a Python list
        batches = [matrix[a : min(n, a + BATCH)] for a in range(0, n, BATCH)]
    del matrix
    gc.collect()
    rss_before = _resident_bytes()
    tracemalloc.start()
    backend = create_vector_backend(backend_name)
    peak = 0
    for b, a in enumerate(range(0, n, BATCH)):
        tracemalloc.reset_peak()
        backend.put(ids[a : min(n, a + BATCH)], batches[b])
        peak = max(peak, tracemalloc.get_traced_memory()[1] + _mapped(backend))
    gc.collect()
    current = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    mapped = _mapped(backend)
    current += mapped
    rss_after = _resident_bytes()
    assert len(backend) == n
    raw = 4 * DIM
    return {
        "backend": backend_name,
        "n": n,
        "input": source,
        "raw_float32_bytes_per_vector": raw,
        "peak_bytes_per_vector": round(peak / n, 1),
        "retained_bytes_per_vector": round(current / n, 1),
        "peak_ratio": round(peak / n / raw, 4),
        "retained_ratio": round(current / n / raw, 4),
        "mapped_bytes_per_vector": round(mapped / n, 1),
        "rss_retained_bytes_per_vector": None if rss_before is None else round((rss_after - rss_before) / n, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="memory per stored vector of one backend; prints JSON")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--input", choices=["arrays", "lists"], default="lists")
    args = parser.parse_args(argv)
    json.dump(measure(args.backend, args.n, args.input), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
