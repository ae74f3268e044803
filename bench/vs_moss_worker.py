"""One contender of ``bench/vs_moss.py``: the real ``moss`` SDK or moss_ref, in a process of its own.

The same code drives both (``import moss`` or ``import moss_ref`` — the drop-in promise), through
the async public API, custom model. Commands arrive as JSON lines on stdin; each answer is one
JSON line on stdout. Only the API call itself is timed (``time.perf_counter`` around the await), so
the pipe between harness and worker costs nothing in the figures.

    {"cmd": "build", "data": DIR, "n": N}         -> {"seconds": s, "docs_per_s": r, "rss_growth": bytes}
    {"cmd": "query", "shape": NAME, "i": I}       -> {"ms": t, "cpu_ms": c, "ids": [...]} (c: CPU time of
                                                     every thread of the worker, so c > t shows parallel work)
    {"cmd": "push"} / {"cmd": "resume"}           -> {"ms": t} (resume: a fresh client opens the pushed session)
    {"cmd": "store_io"}                           -> {"write_ms": w, "read_ms": r} (moss_ref only: the store's
                                                     own write_index/read_index of the session's snapshot)
    {"cmd": "switch", "name": NAME, "on": B}      -> moss_ref only: an internal speed-up on or off
    {"cmd": "quit"}
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import sys
import time
from array import array
from pathlib import Path
from typing import Any

INDEX = "bench"
BATCH = 1000


def rss() -> int:
    """Resident set size of this process in bytes (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Worker:
    def __init__(self, module: str) -> None:
        self.api: Any = importlib.import_module(module)
        self.client: Any = None
        self.session: Any = None
        self.queries: dict[str, list[dict[str, Any]]] = {}

    async def build(self, data: str, n: int) -> dict[str, Any]:
        folder = Path(data)
        texts = folder.joinpath("docs.jsonl").read_text("utf-8").splitlines()[:n]
        dim = json.loads(folder.joinpath("meta.json").read_text())["dim"]
        vectors = array("f")
        vectors.frombytes(folder.joinpath("vectors.f32").read_bytes()[: 4 * dim * n])
        self.queries = json.loads(folder.joinpath("queries.json").read_text())
        docs = []
        for i, line in enumerate(texts):
            raw = json.loads(line)
            docs.append(
                self.api.DocumentInfo(
                    id=raw["id"],
                    text=raw["text"],
                    metadata=raw["metadata"],
                    embedding=vectors[i * dim : (i + 1) * dim].tolist(),
                )
            )
        del vectors, texts
        gc.collect()
        before = rss()
        self.client = self.api.MossClient("bench", "bench-key")
        self.session = await self.client.session(INDEX, "custom", auto_load_on_init=False)
        started = time.perf_counter()
        for j in range(0, len(docs), BATCH):
            await self.session.add_docs(docs[j : j + BATCH])
        seconds = time.perf_counter() - started
        del docs
        gc.collect()
        gc.freeze()  # the corpus is long-lived: keep it out of every later collection
        return {"seconds": seconds, "docs_per_s": n / seconds, "rss_growth": rss() - before}

    async def query(self, shape: str, i: int) -> dict[str, Any]:
        spec = self.queries[shape][i % len(self.queries[shape])]
        options = self.api.QueryOptions(
            embedding=spec["embedding"], top_k=spec.get("top_k", 10), alpha=spec.get("alpha"), filter=spec.get("filter")
        )
        cpu = time.process_time()
        started = time.perf_counter()
        found = await self.session.query(spec["text"], options)
        ms = (time.perf_counter() - started) * 1000.0
        cpu_ms = (time.process_time() - cpu) * 1000.0  # all threads of the process: > ms means parallel work
        return {"ms": ms, "cpu_ms": cpu_ms, "ids": [d.id for d in found.docs]}

    async def switch(self, name: str, on: bool) -> dict[str, Any]:
        """Turn one of moss_ref's internal speed-ups on or off (``bench/vs_moss_ab.py``).

        ``scan_helper``: the numpy vector backend's helper thread (``_parallel``), on for any
        matrix size when on, never when off. ``rank_overlap``: a hybrid query's keyword ranking
        on a helper thread (``moss_ref._overlap``), likewise.
        """
        if name == "rank_overlap":  # keywords beside the scan (moss_ref._overlap), at any size when on
            from moss_ref import _overlap

            low, high = self.__dict__.setdefault("_overlap_bounds", (_overlap.MIN_VALUES, _overlap.MAX_VALUES))
            _overlap.enabled = on
            _overlap.MIN_VALUES, _overlap.MAX_VALUES = (0, 1 << 62) if on else (low, high)
            return {"name": name, "on": on}

        if name != "scan_helper":
            raise ValueError(f"unknown switch {name!r}; known: scan_helper, rank_overlap")
        from moss_ref_backends import _parallel

        default = self.__dict__.setdefault("_defaults", (_parallel.helpers, _parallel.PARALLEL_BYTES))
        _parallel.helpers = default[0] if on else (lambda: 0)
        _parallel.PARALLEL_BYTES = 0 if on else default[1]
        return {"name": name, "on": on}

    async def push(self) -> dict[str, Any]:
        started = time.perf_counter()
        await self.session.push_index()
        return {"ms": (time.perf_counter() - started) * 1000.0}

    async def resume(self) -> dict[str, Any]:
        client = self.api.MossClient("bench", "bench-key")
        started = time.perf_counter()
        session = await client.session(INDEX)
        ms = (time.perf_counter() - started) * 1000.0
        count = session.doc_count
        await session.close()
        await client.close()
        return {"ms": ms, "doc_count": count}

    async def store_io(self) -> dict[str, Any]:
        """The store alone, on the same data and machine: the yardstick of push and resume (issue 9)."""
        import dataclasses

        from moss_ref._snapshot import snapshot

        store = self.client._store  # resolved by the first push
        index = dataclasses.replace(snapshot(self.session.core), name="bench-store-io")
        started = time.perf_counter()
        store.write_index("bench", index)
        write_ms = (time.perf_counter() - started) * 1000.0
        del index
        started = time.perf_counter()
        back = store.read_index("bench", "bench-store-io")
        read_ms = (time.perf_counter() - started) * 1000.0
        assert back is not None and len(back.records) == self.session.doc_count
        del back
        store.delete_index("bench", "bench-store-io")
        return {"write_ms": write_ms, "read_ms": read_ms}


async def serve(module: str) -> None:
    worker = Worker(module)
    hello = {"ready": module, "version": getattr(worker.api, "__version__", "?"), "file": worker.api.__file__}
    if module == "moss_ref":  # which checkout's backends serve it (an editable install may point elsewhere)
        try:
            hello["backends"] = importlib.import_module("moss_ref_backends").__file__
        except ImportError:
            hello["backends"] = None
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        cmd = request.pop("cmd")
        if cmd == "quit":
            break
        try:
            answer = await getattr(worker, cmd)(**request)
        except Exception as exc:  # reported to the harness, which decides
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
