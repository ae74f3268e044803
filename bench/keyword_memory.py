"""Keyword-index memory per document, on the common-word texts of ``bench/vs_moss.py``.

For each keyword backend, the corpus texts are tokenized (outside the measurement) and put into a
fresh backend in batches of 1,000 under ``tracemalloc``; the figure is the traced memory held by
the backend afterwards (postings, lengths, id maps; the id strings themselves are shared with the
records and not counted), divided by the number of documents. Also the median time of one
keyword-only ``rank`` of a common-word query (k = 20, i.e. 2 x top_k 10).

Usage: ``.venv/bin/python bench/keyword_memory.py [--sizes 10000,100000]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vs_moss import make_data

from moss_ref._bm25 import term_ids
from moss_ref._registry import create_keyword_backend


def measure(n: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        queries = make_data(Path(tmp), n)
        docs = [json.loads(line) for line in Path(tmp, "docs.jsonl").read_text("utf-8").splitlines()]
    ids = [d["id"] for d in docs]
    tokens = [term_ids(d["text"]) for d in docs]
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    common = [term_ids(q["text"]) for q in queries["hybrid_common"]]
    out = {}
    for name in ("python", "numpy"):
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        backend = create_keyword_backend(name)
        started = time.perf_counter()
        for j in range(0, n, 1000):
            backend.put(ids[j : j + 1000], tokens[j : j + 1000])
        seconds = time.perf_counter() - started
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        times = []
        for _ in range(3):
            for q in common:
                t = time.perf_counter()
                backend.rank(q, 20, position, None)
                times.append((time.perf_counter() - t) * 1000)
        out[name] = {
            "bytes_per_doc": held / n,
            "put_docs_per_s": n / seconds,
            "rank_common_p50_ms": statistics.median(times),
        }
        print(
            f"{n}: {name}: {held / n:,.0f} B/doc, put {n / seconds:,.0f} docs/s (traced), "
            f"common-word rank p50 {statistics.median(times):.2f} ms",
            flush=True,
        )
        del backend
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    results = {str(n): measure(int(n)) for n in args.sizes.split(",")}
    out = Path(__file__).resolve().parent / "results" / "keyword_memory.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
