"""moss-ref serve under load and faults (SRV-15): whole versions, no lost writes, SIGKILL mid-push.

This file is also the moss_ref worker program: ``python tests/test_service_load.py worker ...``.

* For a fixed time (``LOAD_SECONDS``), two real-SDK processes and two moss_ref processes use one
  service at once: they push whole, self-describing versions of one index, resume it, load and
  query it, and add documents to a shared ledger index. Every resume and every query sees one
  complete version; every acknowledged ledger entry is there at the end; every acknowledged push
  has its completed job.
* The service is SIGKILLed while a push is in flight, and restarted on the same store, again and
  again: the index is always the previous or the new version, whole.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sdk_programs import version_docs  # the SDK worker's versions, pushed by both kinds of worker

HERE = os.path.abspath(__file__)
PROJECT = "load"
LOAD_SECONDS = 15.0
SHARED, LEDGER = "shared", "ledger"


def whole(records: list[Any]) -> bool:
    tags = {(r.metadata or {}).get("tag") for r in records}
    return len(tags) == 1 and len(records) == int(records[0].metadata["n"])


# -- the moss_ref worker (runs in its own process) ------------------------------------------------------


async def moss_ref_worker(writer: str, url: str, key: str, seconds: float) -> dict[str, Any]:
    from moss_ref import DocumentInfo, MossClient, QueryOptions

    out: dict[str, Any] = {"pushes": [], "resumes": 0, "queries": 0, "ledger": [], "torn": []}
    deadline = time.monotonic() + seconds
    seq = 0
    async with MossClient(PROJECT, key, store=url, embedder="hash-v1", vector_backend="python") as c:
        while time.monotonic() < deadline:
            seq += 1
            session = await c.session(SHARED, "custom", auto_load_on_init=False)
            await session.add_docs([DocumentInfo(**d) for d in version_docs(writer, seq)])
            out["pushes"].append((await session.push_index()).job_id)
            resumed = await c.session(SHARED)
            records = await resumed.get_docs()
            out["resumes"] += 1
            if not whole(records):
                out["torn"].append(["resume", sorted({(r.metadata or {}).get("tag") for r in records})])
            await c.load_index(SHARED)
            hits = await c.query(SHARED, "x", QueryOptions(embedding=[1.0] + [0.1] * 7, top_k=50))
            out["queries"] += 1
            if not whole(hits.docs):
                out["torn"].append(["query", sorted({(d.metadata or {}).get("tag") for d in hits.docs})])
            for i in range(2):  # compare-and-swap mutations of the shared ledger
                doc_id = f"{writer}-{seq}-{i}"
                await c.add_docs(LEDGER, [DocumentInfo(doc_id, "ledger entry", embedding=[1.0, 0.0])])
                out["ledger"].append(doc_id)
    return out


def worker_main(argv: list[str]) -> int:
    writer, url, key, seconds = argv
    print(json.dumps(asyncio.run(moss_ref_worker(writer, url, key, float(seconds)))), flush=True)
    return 0


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "worker":
    raise SystemExit(worker_main(sys.argv[2:]))


# -- the tests ---------------------------------------------------------------------------------------------

import pytest  # noqa: E402
from gt_real import sdk_environment, start_program  # noqa: E402
from service_proc import Http, add_project, start  # noqa: E402

from moss_ref.stores.directory import DirectoryStore  # noqa: E402
from moss_ref.stores.http import HttpStore  # noqa: E402

pytestmark = pytest.mark.slow


def test_several_sdk_and_moss_ref_processes_at_once_see_whole_versions_and_lose_nothing(tmp_path: Path) -> None:
    """SRV-15: a bounded load test (LOAD_SECONDS, loopback only), two real-SDK and two moss_ref processes."""
    store = tmp_path / "store"
    key = add_project(store, PROJECT)
    service = start(store, "--quiet")
    try:
        http = Http(service.port).login(PROJECT, key)
        seed = [{"id": "seed", "text": "ledger", "embedding": [1.0, 0.0]}]
        assert http.post("/index/push", {"indexName": LEDGER, "docs": seed})[0] == 200
        env = {k: v for k, v in os.environ.items() if k != "MOSS_REF_STORE"}
        workers = [
            subprocess.Popen(
                [sys.executable, HERE, "worker", f"ref{i}", service.base, key, str(LOAD_SECONDS)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for i in range(2)
        ]
        sdk_env = sdk_environment(service.sdk_environment(), PROJECT, key)
        workers += [
            start_program("load_worker", f"sdk{i}", str(LOAD_SECONDS), SHARED, LEDGER, env=sdk_env) for i in range(2)
        ]
        reports = []
        for worker in workers:
            out, err = worker.communicate(timeout=LOAD_SECONDS + 120)
            assert worker.returncode == 0, err[-3000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))
        counts = [(r["resumes"], r["queries"], len(r["pushes"]), len(r["ledger"])) for r in reports]
        print("resumes, queries, pushes, ledger entries per worker:", counts)
        assert all(r["torn"] == [] for r in reports), [r["torn"] for r in reports]
        assert all(r["resumes"] >= 2 and r["queries"] >= 2 for r in reports), reports
        stored = DirectoryStore(str(store))
        ledger = stored.read_index(PROJECT, LEDGER)
        assert ledger is not None
        acknowledged = {doc_id for r in reports for doc_id in r["ledger"]}
        assert acknowledged and acknowledged <= {rec.id for rec in ledger.records}  # no write is lost
        jobs = [job for r in reports for job in r["pushes"]]
        assert len(jobs) >= 8 and all(stored.read_job(PROJECT, j).status == "completed" for j in jobs)  # type: ignore[union-attr]
        final = stored.read_index(PROJECT, SHARED)
        assert final is not None and whole(list(final.records))
    finally:
        service.stop()


def test_sigkill_mid_push_leaves_the_previous_or_the_new_version_whole(tmp_path: Path) -> None:
    """SRV-15: SIGKILL the service while a push is in flight, restart it on the same store, resume."""
    store = tmp_path / "store"
    key = add_project(store, PROJECT)
    rng = random.Random(7)
    completed: list[int] = []
    outcomes: list[str] = []
    seq = 0
    for _ in range(4):
        service = start(store, "--quiet")
        in_flight: list[int] = []
        stop = threading.Event()

        def pusher(port: int = service.port, in_flight: list[int] = in_flight, stop: threading.Event = stop) -> None:
            nonlocal seq
            try:
                http = Http(port).login(PROJECT, key)
                while not stop.is_set():
                    seq += 1
                    in_flight.append(seq)
                    docs = version_docs("k", seq, dimension=64, base=1000)
                    status, _ = http.post("/index/push", {"indexName": SHARED, "docs": docs})
                    if status == 200:
                        completed.append(seq)
            except Exception:
                return  # the service died under us

        thread = threading.Thread(target=pusher, daemon=True)
        done_before = len(completed)
        thread.start()
        deadline = time.monotonic() + 30
        while len(completed) == done_before and time.monotonic() < deadline:
            time.sleep(0.01)  # one push of this round has completed; the next one is in flight
        time.sleep(rng.uniform(0.0, 0.4))
        service.kill()
        stop.set()
        thread.join(timeout=30)
        restarted = start(store, "--quiet")
        try:
            reader = HttpStore(restarted.base)
            reader.authenticate(PROJECT, key)
            index = reader.read_index(PROJECT, SHARED)
            if index is None:
                assert not completed  # nothing was ever published
                continue
            assert whole(list(index.records))
            tag = int(index.records[0].metadata["tag"].split(":")[1])  # type: ignore[index]
            last_done = max(completed, default=0)
            assert tag in (last_done, in_flight[-1] if in_flight else None), (tag, last_done, in_flight[-3:])
            outcomes.append("new" if tag != last_done else "previous")
            assert len(index.vectors) == 64 * len(index.records)
        finally:
            restarted.stop()
    print("sigkill outcomes:", outcomes, "completed pushes:", len(completed), "sent:", seq)
    assert completed, "no push ever completed: the kills came too early to test anything"
    assert seq > len(completed), "every push completed before its kill: no push was ever in flight"
