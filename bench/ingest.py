"""add_docs throughput with text embedding: docs/s through a built-in-model session per embedder.

(Custom-vector add_docs throughput is measured while ``query.py`` builds its sessions.)
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from common import drive, log
from embed import SENTENCES

from moss_ref import DocumentInfo, MossClient
from moss_ref.stores.memory import MemoryStore

BATCH = 250


def _docs(n: int) -> list[DocumentInfo]:
    return [
        DocumentInfo(f"t-{i:06d}", f"{SENTENCES[i % len(SENTENCES)]} (ticket {i})", {"bucket": str(i % 10)})
        for i in range(n)
    ]


def bench_text_add_docs(n: int, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {"docs": n, "batch": BATCH}
    docs = _docs(n)
    for embedder in ("hash-v1", "minilm-onnx-fp32", "minilm-onnx", "minilm-numpy"):
        client = MossClient("bench", "bench-key", store=MemoryStore(), embedder=embedder)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                client.session_sync("warm", auto_load_on_init=False)  # loads the model once
        except Exception as exc:
            out[embedder] = f"unavailable: {getattr(exc, 'detail', None) or exc}"
            continue
        seconds = []
        for r in range(repeats):
            session = client.session_sync(f"ingest-{r}", auto_load_on_init=False)
            start = time.perf_counter()
            for a in range(0, n, BATCH):
                drive(session.add_docs(docs[a : a + BATCH]))
            seconds.append(time.perf_counter() - start)
            assert session.doc_count == n
        best = sorted(seconds)[len(seconds) // 2]
        out[embedder] = {"median_s": round(best, 3), "docs_per_s": round(n / best, 1), "runs": len(seconds)}
        log(f"[ingest] {embedder:13s} {n / best:9.1f} docs/s")
    return out
