"""Push and load 100,000 documents of 384 dimensions through the directory store (issue 3 item 2).

Two levels are timed, each repeated and reported as medians:

* **store**: ``DirectoryStore.write_index`` (stage JSONL + float32 blob, fsync, manifest, atomic
  pointer switch) and ``DirectoryStore.read_index`` (checksums, JSON validation of every
  document line, finiteness of every float) of a ready ``StoredIndex``;
* **session**: ``SessionIndex.push_index()`` of a custom-model session holding the documents
  (snapshot + store write + job record) and ``client.session(name)`` resuming it (store read +
  building the vector backend and the BM25 index).

No vector is ever JSON-encoded: the run checks that ``vectors.f32`` holds exactly
``4 * docs * dim`` bytes and that the documents file carries no vector.

Usage::

    python bench/bench_store.py                         # 100k x 384, 3 store runs, 1 session run
    python bench/bench_store.py --docs 20000 --repeat 5 --session-repeat 2
    python bench/bench_store.py --no-session            # store level only

Results go to ``bench/results/store.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from array import array
from typing import Any

from moss_ref import DocumentInfo, MossClient
from moss_ref._corpus import Record
from moss_ref.stores.base import StoredIndex
from moss_ref.stores.directory import DirectoryStore
from moss_ref.stores.format import child_path, path_component

PROJECT, KEY = "bench", "bench-key"
WORDS = "refund invoice billing garden tomato pruning order shipping account password login error report".split()


def make_index(name: str, n: int, dim: int, seed: int = 7) -> StoredIndex:
    rng = random.Random(seed)
    base = array("f", [rng.gauss(0.0, 1.0) for _ in range(dim * 1000)])
    vectors = base * (n // 1000) + base[: dim * (n % 1000)]
    records = tuple(
        Record(
            f"doc-{i:07d}",
            " ".join(rng.choice(WORDS) for _ in range(16)),
            {"topic": WORDS[i % len(WORDS)], "n": str(i)},
            None if i % 3 else f"payload-{i}",
        )
        for i in range(n)
    )
    return StoredIndex(name, "custom", None, dim, records, vectors)


def timed(fn: Any) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def check_no_json_vectors(root: str, name: str, n: int, dim: int) -> dict[str, int]:
    folder = child_path(os.path.join(root, "projects", path_component(PROJECT), "indexes"), name)
    with open(os.path.join(folder, "CURRENT")) as f:
        version = json.load(f)["version"]
    vdir = os.path.join(folder, "versions", version)
    sizes = {f: os.path.getsize(os.path.join(vdir, f)) for f in os.listdir(vdir)}
    assert sizes["vectors.f32"] == 4 * n * dim, sizes
    with open(os.path.join(vdir, "documents.jsonl"), "rb") as f:
        first = f.readline()
    assert b"embedding" not in first and b"[" not in first, first[:200]
    return sizes


def bench_store(root: str, n: int, dim: int, repeat: int) -> dict[str, Any]:
    store = DirectoryStore(root)
    store.authenticate(PROJECT, KEY)
    build_s, index = timed(lambda: make_index("store-level", n, dim))
    writes, reads = [], []
    for _ in range(repeat):
        seconds, _ = timed(lambda: store.write_index(PROJECT, index))
        writes.append(seconds)
        seconds, back = timed(lambda: store.read_index(PROJECT, "store-level"))
        reads.append(seconds)
        assert back is not None and back.doc_count == n and back.vectors == index.vectors
        del back
    sizes = check_no_json_vectors(root, "store-level", n, dim)
    store.delete_index(PROJECT, "store-level")
    return {
        "build_input_s": round(build_s, 3),
        "write_index_s": [round(s, 3) for s in writes],
        "read_index_s": [round(s, 3) for s in reads],
        "write_index_median_s": round(statistics.median(writes), 3),
        "read_index_median_s": round(statistics.median(reads), 3),
        "file_bytes": sizes,
    }


def bench_session(root: str, n: int, dim: int, repeat: int) -> dict[str, Any]:
    index = make_index("session-level", n, dim)
    client = MossClient(PROJECT, KEY, store=root, vector_backend=os.environ.get("MOSS_REF_VECTOR_BACKEND", "auto"))
    docs = [
        DocumentInfo(r.id, r.text, r.metadata, index.vectors[i * dim : (i + 1) * dim], r.payload)
        for i, r in enumerate(index.records)
    ]
    session = client.session_sync("session-level", "custom", auto_load_on_init=False)
    add_s, _ = timed(lambda: asyncio.run(session.add_docs(docs)))
    docs.clear()
    pushes, resumes = [], []
    for _ in range(repeat):
        seconds, pushed = timed(lambda: asyncio.run(session.push_index()))
        pushes.append(seconds)
        assert pushed.doc_count == n
        seconds, resumed = timed(lambda: client.session_sync("session-level"))
        resumes.append(seconds)
        assert resumed.doc_count == n
        asyncio.run(resumed.close())
        del resumed
    check_no_json_vectors(root, "session-level", n, dim)
    return {
        "vector_backend": session.core.corpus.vectors.name,
        "add_docs_s": round(add_s, 3),
        "push_index_s": [round(s, 3) for s in pushes],
        "resume_session_s": [round(s, 3) for s in resumes],
        "push_index_median_s": round(statistics.median(pushes), 3),
        "resume_session_median_s": round(statistics.median(resumes), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=3, help="store-level repetitions")
    parser.add_argument("--session-repeat", type=int, default=1, help="session-level repetitions")
    parser.add_argument("--no-session", action="store_true", help="skip the session-level measurements")
    parser.add_argument("--dir", default=None, help="scratch directory (default: a fresh temp dir, removed after)")
    parser.add_argument(
        "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "store.json")
    )
    args = parser.parse_args(argv)
    scratch = args.dir or tempfile.mkdtemp(prefix="moss-ref-bench-")
    root = os.path.join(scratch, "store")
    try:
        results: dict[str, Any] = {
            "benchmark": "store push/load",
            "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
            "docs": args.docs,
            "dim": args.dim,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
            "store": bench_store(root, args.docs, args.dim, args.repeat),
        }
        print(
            f"store   write_index median {results['store']['write_index_median_s']:.3f} s   "
            f"read_index median {results['store']['read_index_median_s']:.3f} s   ({args.docs} x {args.dim})"
        )
        if not args.no_session:
            results["session"] = bench_session(root, args.docs, args.dim, args.session_repeat)
            print(
                f"session push_index median {results['session']['push_index_median_s']:.3f} s   "
                f"resume (session()) median {results['session']['resume_session_median_s']:.3f} s   "
                f"[{results['session']['vector_backend']} vectors]"
            )
    finally:
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
