"""Small programs of an unmodified moss app, run by the real SDK in its own interpreter and process.

``python sdk_programs.py STEP [ARG...]``: each step reads ``MOSS_PROJECT_ID`` / ``MOSS_PROJECT_KEY``
(and the SDK its ``MOSS_AUTH_URL`` / ``MOSS_INDEX_URL``), does one thing through the public async
API and prints one JSON line with what it saw. Errors are printed too (type, code, str, detail), so
a test can check them. Nothing here imports moss_ref.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any


def _moss() -> Any:
    import moss

    return moss


def client() -> Any:
    return _moss().MossClient(os.environ["MOSS_PROJECT_ID"], os.environ["MOSS_PROJECT_KEY"])


def doc(raw: dict[str, Any]) -> Any:
    return _moss().DocumentInfo(
        raw["id"], raw["text"], metadata=raw.get("metadata"), embedding=raw.get("embedding"), payload=raw.get("payload")
    )


def doc_out(d: Any) -> dict[str, Any]:
    return {"id": d.id, "text": d.text, "metadata": d.metadata, "payload": d.payload, "embedding": d.embedding}


def hits_out(result: Any) -> list[list[Any]]:
    return [[d.id, round(float(d.score), 6)] for d in result.docs]


def error_out(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "code": getattr(exc, "code", None),
        "str": str(exc),
        "detail": getattr(exc, "detail", None),
    }


async def attempt(coro: Any) -> Any:
    try:
        return {"ok": await coro}
    except Exception as exc:  # the test decides what was expected
        return {"error": error_out(exc)}


async def push(name: str, docs_json: str) -> dict[str, Any]:
    c = client()
    session = await c.session(name, "custom", auto_load_on_init=False)
    await session.add_docs([doc(d) for d in json.loads(docs_json)])
    pushed = await session.push_index()
    await session.close()
    await c.close()
    return {
        "job_id": pushed.job_id,
        "index_name": pushed.index_name,
        "doc_count": pushed.doc_count,
        "status": pushed.status,
    }


async def resume(name: str, embedding_json: str) -> dict[str, Any]:
    c = client()
    session = await c.session(name, "custom")
    docs = await session.get_docs()
    hits = await session.query("x", _moss().QueryOptions(embedding=json.loads(embedding_json), top_k=10))
    out = {
        "doc_count": session.doc_count,
        "model_id": session.model_id,
        "docs": [doc_out(d) for d in docs],
        "hits": hits_out(hits),
    }
    await session.close()
    await c.close()
    return out


async def resume_extend_push(name: str, docs_json: str) -> dict[str, Any]:
    """Resume what another process pushed, add to it, push the union."""
    c = client()
    session = await c.session(name, "custom")
    before = session.doc_count
    await session.add_docs([doc(d) for d in json.loads(docs_json)])
    pushed = await session.push_index()
    await c.close()
    return {"before": before, "after": pushed.doc_count}


async def load_query(name: str, text: str, embedding_json: str) -> dict[str, Any]:
    c = client()
    loaded = await c.load_index(name)
    options = _moss().QueryOptions(embedding=json.loads(embedding_json), top_k=10) if embedding_json else None
    result = await attempt(c.query(name, text, options))
    info = await c.get_index(name)
    out = {
        "loaded": loaded,
        "info": {
            "name": info.name,
            "doc_count": info.doc_count,
            "model": info.model.id,
            "status": info.status,
            "version": info.version,
        },
    }
    if "ok" in result:
        out["hits"] = hits_out(result["ok"])
        out["texts"] = [d.text for d in result["ok"].docs]
        out["model_id"] = result["ok"].model_id
    else:
        out["query_error"] = result["error"]
    await c.close()
    return out


async def manage(name: str, docs_json: str, model: str) -> dict[str, Any]:
    """create_index(wait=False) → get_job_status → wait_for_job → get_docs → add → delete → list → delete_index."""
    c = client()
    docs = [doc(d) for d in json.loads(docs_json)]
    out: dict[str, Any] = {}
    handle = await c.create_index(name, docs, model, wait=False)
    status = await c.get_job_status(handle.job_id)
    out["job"] = {"id": handle.job_id, "status": status.status.value, "progress": status.progress}
    waited = await c.wait_for_job(handle.job_id, poll_interval_seconds=0.2, timeout_seconds=30)
    out["waited"] = waited.status.value
    out["get_docs"] = [doc_out(d) for d in await c.get_docs(name)]
    out["get_docs_by_id"] = [d.id for d in await c.get_docs(name, _moss().GetDocumentsOptions(doc_ids=[docs[-1].id]))]
    extra = _moss().DocumentInfo("zz-extra", "added later", embedding=docs[0].embedding)
    added = await c.add_docs(name, [extra])
    out["add_docs"] = {"index_name": added.index_name, "doc_count": added.doc_count, "job": bool(added.job_id)}
    deleted = await c.delete_docs(name, [docs[0].id, "never-there"])
    out["delete_docs"] = {"index_name": deleted.index_name, "doc_count": deleted.doc_count}
    out["after"] = sorted(d.id for d in await c.get_docs(name))
    info = await c.get_index(name)
    out["info"] = {"name": info.name, "doc_count": info.doc_count, "model": info.model.id, "status": info.status}
    out["list"] = [[i.name, i.doc_count] for i in await c.list_indexes()]
    out["create_again"] = await attempt(c.create_index(name, docs, model))
    out["delete_index"] = await c.delete_index(name)
    out["get_after_delete"] = await attempt(c.get_index(name))
    out["job_unknown"] = await attempt(c.get_job_status("job_does_not_exist"))
    await c.close()
    return _jsonable(out)


async def create_wait(name: str, docs_json: str, model: str) -> dict[str, Any]:
    """create_index(wait=True): the SDK polls the job itself."""
    c = client()
    started = time.monotonic()
    result = await attempt(c.create_index(name, [doc(d) for d in json.loads(docs_json)], model))
    out = {"seconds": time.monotonic() - started}
    if "ok" in result:
        r = result["ok"]
        out["result"] = {"index_name": r.index_name, "doc_count": r.doc_count, "job": bool(r.job_id)}
    else:
        out["error"] = result["error"]
    await c.close()
    return out


async def errors(name: str) -> dict[str, Any]:
    """What each call raises (a wrong key, a missing index, ...)."""
    c = client()
    out = {
        "session": await attempt(c.session(name, "custom")),
        "get_index": await attempt(c.get_index(name)),
        "list_indexes": await attempt(c.list_indexes()),
        "load_index": await attempt(c.load_index(name)),
        "builtin_session": await attempt(c.session(name + "-builtin", "moss-minilm")),
    }
    await c.close()
    return _jsonable(out)


async def auto_refresh(name: str, embedding_json: str, signal_file: str) -> dict[str, Any]:
    """Load with auto_refresh, say so, wait for the test to push a new version, then query again."""
    c = client()
    await c.load_index(name, auto_refresh=True, polling_interval_in_seconds=1)
    options = _moss().QueryOptions(embedding=json.loads(embedding_json), top_k=10)
    before = hits_out(await c.query(name, "x", options))
    print(json.dumps({"loaded": True}), flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(signal_file) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    after: list[Any] = before
    for _ in range(40):  # polls come every second; give it a few
        await asyncio.sleep(0.25)
        after = hits_out(await c.query(name, "x", options))
        if after != before:
            break
    await c.close()
    return {"before": before, "after": after}


def version_docs(writer: str, seq: int, dimension: int = 8, base: int = 20) -> list[dict[str, Any]]:
    """One self-describing version: every document carries its tag and the version's size
    (``base`` to ``base + 29`` documents). The service load tests push the same versions."""
    n = base + seq % 30
    tag = f"{writer}:{seq}"
    return [
        {
            "id": f"d{j:03d}",
            "text": f"version {tag} doc {j}",
            "metadata": {"tag": tag, "n": str(n)},
            "embedding": [1.0, j / 100.0] + [0.5] * (dimension - 2),
        }
        for j in range(n)
    ]


def whole(docs: list[dict[str, Any]]) -> bool:
    """True when ``docs`` are exactly one version (one tag, as many documents as it says)."""
    tags = {(d["metadata"] or {}).get("tag") for d in docs}
    return len(tags) == 1 and len(docs) == int(docs[0]["metadata"]["n"])


async def load_worker(writer: str, seconds: str, index: str, ledger: str) -> dict[str, Any]:
    """Push whole versions of ``index``, resume it, load and query it, add to ``ledger``, until time is up."""
    moss = _moss()
    c = client()
    deadline = time.monotonic() + float(seconds)
    out: dict[str, Any] = {"pushes": [], "resumes": 0, "queries": 0, "ledger": [], "torn": []}
    seq = 0
    while time.monotonic() < deadline:
        seq += 1
        session = await c.session(index, "custom", auto_load_on_init=False)
        await session.add_docs([doc(d) for d in version_docs(writer, seq)])
        pushed = await session.push_index()
        out["pushes"].append(pushed.job_id)
        await session.close()
        resumed = await c.session(index, "custom")
        docs = [doc_out(d) for d in await resumed.get_docs()]
        out["resumes"] += 1
        if not whole(docs):
            out["torn"].append(["resume", sorted({(d["metadata"] or {}).get("tag") for d in docs}), len(docs)])
        await resumed.close()
        await c.load_index(index)
        hits = await c.query(index, "x", moss.QueryOptions(embedding=[1.0] + [0.1] * 7, top_k=50))
        out["queries"] += 1
        tags = {(d.metadata or {}).get("tag") for d in hits.docs}
        if len(tags) != 1 or len(hits.docs) != int(hits.docs[0].metadata["n"]):
            out["torn"].append(["query", sorted(tags), len(hits.docs)])
        if seq % 3 == 0:  # the manage API's add_docs polls its job (about 2 s): now and then
            doc_id = f"{writer}-{seq}"
            await c.add_docs(ledger, [moss.DocumentInfo(doc_id, "ledger entry", embedding=[1.0, 0.0])])
            out["ledger"].append(doc_id)
    await c.close()
    return out


def index_status() -> dict[str, Any]:
    moss = _moss()
    status = moss.IndexStatus("Ready")
    try:
        moss.IndexStatus(3)
        refused = None
    except TypeError as exc:
        refused = str(exc)
    return {
        "Ready": moss.IndexStatus.Ready,
        "ready_is_str": type(moss.IndexStatus.Ready) is str,
        "value": status.value,
        "equal": status == moss.IndexStatus("Ready"),
        "refused": refused,
        "values": moss.IndexStatusValues,
    }


def codec(our_blob_file: str, their_blob_file: str) -> dict[str, Any]:
    """moss_core reads the service's index blob, and writes one for the service's decoder to read."""
    import moss_core

    with open(our_blob_file, "rb") as f:
        ours = moss_core.deserializeFromBinary(f.read())
    theirs = moss_core.SerializedIndex(
        "idx", "v9", moss_core.ModelRef("custom", ""), 2, [[0.5, -1.0], [0.25, 2.0]], ["a", "b"]
    )
    with open(their_blob_file, "wb") as f:
        f.write(bytes(moss_core.serializeToBinary(theirs)))
    return {
        "name": ours.name,
        "version": ours.version,
        "dimension": ours.dimension,
        "doc_ids": list(ours.doc_ids),
        "embeddings": [list(e) for e in ours.embeddings],
        "model": ours.model.id,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


ASYNC_STEPS = {
    "push": push,
    "resume": resume,
    "resume_extend_push": resume_extend_push,
    "load_query": load_query,
    "manage": manage,
    "create_wait": create_wait,
    "errors": errors,
    "auto_refresh": auto_refresh,
    "load_worker": load_worker,
}
SYNC_STEPS = {"index_status": index_status, "codec": codec}


def main(argv: list[str]) -> int:
    step, args = argv[0], argv[1:]
    if step in SYNC_STEPS:
        result = SYNC_STEPS[step](*args)
    else:
        result = asyncio.run(ASYNC_STEPS[step](*args))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
