"""moss-ref serve at 10,000 documents: requests per second and p50/p99 latency of push, resume, get_docs.

The service runs as the real SDK needs it, in a process of its own (``python -m moss_ref.server``,
loopback, a temporary store); the client here sends exactly the requests the real SDK sends
(docs/wire-protocol.md), with the standard library, over keep-alive connections:

* **push**: ``POST /index/push`` with every document and its embedding as JSON (what
  ``SessionIndex.push_index()`` sends); the service validates with the session's rules and
  publishes one new version (fsync included);
* **resume**: ``GET /index/<name>`` → ``GET /index/<name>/url`` → both presigned downloads (the
  ".moss" index blob and the documents JSON), what ``client.session(name)`` and
  ``client.load_index(name)`` send. Timed twice: the first resume of a new version (the service
  reads it from the store and encodes it) and later ones (encodings cached per version);
* **get_docs**: ``GET /index/<name>/docs`` answering all documents with their embeddings
  (``client.get_docs(name)``), first and cached.

Sequential figures use one client; ``--clients`` more run the cached resume and get_docs in
parallel threads for a requests-per-second figure under concurrency. p99 of few samples is close
to their maximum; the sample counts are recorded. With ``--sdk PYTHON`` (an interpreter with the
real moss SDK), resume is also timed end to end through the SDK itself, in its own process.

Usage::

    python bench/bench_service.py                              # 10k x 384 (the committed run)
    python bench/bench_service.py --docs 10000 --dim 384 --push-rounds 8 --rounds 30 --clients 4 \\
        --sdk .venv-moss/bin/python
    python bench/bench_service.py --docs 2000 --dim 16 --out /tmp/quick.json       # a quick look

Results go to ``bench/results/service.json`` and ``bench/results/service.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROJECT, KEY = "bench", "bench-key"
WORDS = "refund invoice billing garden tomato pruning order shipping account password login error report".split()


class Client:
    """One keep-alive connection speaking the SDK's requests."""

    def __init__(self, port: int, token: str = "") -> None:
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def call(self, method: str, path: str, body: bytes | None = None, auth: bool = True) -> tuple[int, bytes]:
        headers = {"Accept": "*/*"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
            headers["x-project-id"] = PROJECT
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def login(self) -> Client:
        status, data = self.call("POST", "/auth", json.dumps({"projectId": PROJECT, "projectKey": KEY}).encode(), False)
        assert status == 200, data
        self.token = json.loads(data)["token"]
        return self


def documents(n: int, dim: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": f"doc-{i:06d}",
            "text": " ".join(rng.choice(WORDS) for _ in range(12)),
            "metadata": {"topic": WORDS[i % len(WORDS)], "n": str(i)},
            "embedding": [round(rng.gauss(0.0, 0.1), 6) for _ in range(dim)],
        }
        for i in range(n)
    ]


def push_body(name: str, docs: list[dict[str, Any]]) -> bytes:
    # the SDK's JSON: sorted keys, compact separators
    return json.dumps({"docs": docs, "indexName": name}, sort_keys=True, separators=(",", ":")).encode()


def resume(client: Client, name: str) -> int:
    """The four requests of a resume; returns the bytes downloaded."""
    status, record = client.call("GET", f"/index/{name}")
    assert status == 200, record
    status, data = client.call("GET", f"/index/{name}/url")
    assert status == 200, data
    urls = json.loads(data)
    size = 0
    for key in ("indexUrl", "dataUrl"):
        status, blob = client.call("GET", urlsplit(urls[key]).path, auth=False)
        assert status == 200
        size += len(blob)
    return size


def get_docs(client: Client, name: str) -> int:
    status, data = client.call("GET", f"/index/{name}/docs")
    assert status == 200
    return len(data)


def summary(samples: list[float], requests_each: int) -> dict[str, Any]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    total = sum(samples)
    return {
        "samples": len(samples),
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "ops_per_s": round(len(samples) / total, 2) if total else None,
        "requests_per_s": round(len(samples) * requests_each / total, 2) if total else None,
    }


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def parallel(clients: list[Client], fn: Callable[[Client], Any], rounds: int, requests_each: int) -> dict[str, Any]:
    latencies: list[float] = []
    lock = threading.Lock()

    def work(client: Client) -> None:
        for _ in range(rounds):
            took = timed(lambda: fn(client))
            with lock:
                latencies.append(took)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    out = summary(latencies, requests_each)
    out["ops_per_s"] = round(len(latencies) / wall, 2)
    out["requests_per_s"] = round(len(latencies) * requests_each / wall, 2)
    out["clients"] = len(clients)
    return out


SDK_RESUME = """
import asyncio, json, os, sys, time
from moss import MossClient
async def main(rounds):
    out = []
    for _ in range(rounds):
        c = MossClient(os.environ["MOSS_PROJECT_ID"], os.environ["MOSS_PROJECT_KEY"])
        started = time.perf_counter()
        s = await c.session(sys.argv[1], "custom")
        took = time.perf_counter() - started
        assert s.doc_count == int(sys.argv[3]), s.doc_count
        await c.load_index(sys.argv[1])
        out.append(took)
        await c.close()
    print(json.dumps(out))
asyncio.run(main(int(sys.argv[2])))
"""


def sdk_resume(python: str, port: int, name: str, rounds: int, n: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSS_")}
    env.update(
        MOSS_AUTH_URL=f"http://127.0.0.1:{port}/auth",
        MOSS_INDEX_URL=f"http://127.0.0.1:{port}/index",
        MOSS_PROJECT_ID=PROJECT,
        MOSS_PROJECT_KEY=KEY,
        HOME=tempfile.mkdtemp(prefix="moss-bench-home-"),
    )
    done = subprocess.run(
        [python, "-c", SDK_RESUME, name, str(rounds), str(n)], capture_output=True, text=True, env=env, timeout=1800
    )
    if done.returncode != 0:
        raise SystemExit(f"the real SDK's resume failed:\n{done.stderr[-3000:]}")
    return summary(json.loads(done.stdout.strip().splitlines()[-1]), 4)


def start_service(store: str) -> tuple[subprocess.Popen[str], int]:
    argv = [sys.executable, "-m", "moss_ref.server", "--port", "0", "--store", store, "--allow-first-use", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k != "MOSS_REF_ROUTE_LOG"}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on http://" not in line:
        process.kill()
        raise SystemExit(f"moss-ref serve did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1])


def markdown(result: dict[str, Any]) -> str:
    r = result["results"]
    rows = [
        ("push (replace the index)", r["push"]),
        ("resume, first after a push", r["resume_first"]),
        ("resume, cached version", r["resume_cached"]),
        (f"resume, cached, {r['resume_parallel']['clients']} clients at once", r["resume_parallel"]),
        ("get_docs (all, with embeddings), first", r["get_docs_first"]),
        ("get_docs, cached version", r["get_docs_cached"]),
        (f"get_docs, cached, {r['get_docs_parallel']['clients']} clients at once", r["get_docs_parallel"]),
    ]
    if "sdk_resume" in r:
        rows.append(("resume through the real SDK (`client.session`)", r["sdk_resume"]))
    cfg = result["config"]
    lines = [
        f"# moss-ref serve at {cfg['docs']:,} documents x {cfg['dim']} dimensions",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs, Python "
        f"{result['machine']['python']}; load average {result['machine']['load_start']} at start, "
        f"{result['machine']['load_end']} at end.  ",
        f"Push body {cfg['push_body_mb']} MB of JSON; resume downloads {cfg['resume_mb']} MB; get_docs answers "
        f"{cfg['get_docs_mb']} MB.",
        "",
        "| operation | samples | p50 (ms) | p99 (ms) | operations/s | requests/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, row in rows:
        lines.append(
            f"| {label} | {row['samples']} | {row['p50_ms']:,} | {row['p99_ms']:,} | {row['ops_per_s']} | "
            f"{row['requests_per_s']} |"
        )
    lines += [
        "",
        "A resume is four requests (record, URLs, index blob, documents); push and get_docs are one each.",
        "p99 of a few samples is about their maximum.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--push-rounds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=30, help="rounds of the cached resume and get_docs")
    parser.add_argument("--first-rounds", type=int, default=5, help="rounds of first-after-push resume/get_docs")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sdk", metavar="PYTHON", help="an interpreter with the real moss SDK: time its resume too")
    parser.add_argument("--sdk-rounds", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "service.json"))
    args = parser.parse_args(argv)

    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    store = tempfile.mkdtemp(prefix="moss-bench-service-")
    process, port = start_service(store)
    try:
        client = Client(port).login()
        name = "bench"
        bodies = [push_body(name, documents(args.docs, args.dim, seed)) for seed in range(2)]
        results: dict[str, Any] = {}

        push_times = [
            timed(lambda i=i: client.call("POST", "/index/push", bodies[i % 2])) for i in range(args.push_rounds)
        ]
        results["push"] = summary(push_times, 1)

        first_resume: list[float] = []
        first_docs: list[float] = []
        for i in range(args.first_rounds):
            client.call("POST", "/index/push", bodies[i % 2])  # a new version: nothing cached yet
            first_resume.append(timed(lambda: resume(client, name)))
            client.call("POST", "/index/push", bodies[(i + 1) % 2])
            first_docs.append(timed(lambda: get_docs(client, name)))
        results["resume_first"] = summary(first_resume, 4)
        results["get_docs_first"] = summary(first_docs, 1)

        resume_size = resume(client, name)
        docs_size = get_docs(client, name)
        results["resume_cached"] = summary([timed(lambda: resume(client, name)) for _ in range(args.rounds)], 4)
        results["get_docs_cached"] = summary([timed(lambda: get_docs(client, name)) for _ in range(args.rounds)], 1)
        pool = [Client(port).login() for _ in range(args.clients)]
        rounds_each = max(1, args.rounds // args.clients)
        results["resume_parallel"] = parallel(pool, lambda c: resume(c, name), rounds_each, 4)
        results["get_docs_parallel"] = parallel(pool, lambda c: get_docs(c, name), rounds_each, 1)
        if args.sdk:
            results["sdk_resume"] = sdk_resume(args.sdk, port, name, args.sdk_rounds, args.docs)
    finally:
        process.terminate()
        process.wait(timeout=30)

    given = list(argv if argv is not None else sys.argv[1:])
    command = " ".join(["python bench/bench_service.py", *given])
    result = {
        "command": command,
        "config": {
            "docs": args.docs,
            "dim": args.dim,
            "push_body_mb": round(len(bodies[0]) / 1e6, 1),
            "resume_mb": round(resume_size / 1e6, 1),
            "get_docs_mb": round(docs_size / 1e6, 1),
        },
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_start": None if load_start is None else round(load_start, 2),
            "load_end": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    report = markdown(result)
    out.with_suffix(".md").write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
