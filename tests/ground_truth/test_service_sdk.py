"""The real moss 1.21 SDK against moss-ref serve, offline (rules SRV-* in docs/rules/service.md).

Every SDK step runs in a process of its own, in the real SDK's interpreter (.venv-moss), with a
private HOME, pointed at a service this test starts on a free loopback port — an unmodified moss
app with only MOSS_AUTH_URL and MOSS_INDEX_URL set. Only custom-model sessions can run offline in
the real SDK (a built-in model needs its model download); built-in indexes are embedded on the
service and queried with explicit embeddings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gt_real import run_program, sdk_environment, start_program
from service_proc import Http, Service, absolute_get, add_project, start

from moss_ref import DocumentInfo, MossClient, QueryOptions
from moss_ref.stores.base import StoredIndex
from moss_ref.stores.wire import decode_index_blob

PROJECT = "app"
DOCS = [
    {
        "id": "a",
        "text": "billing question",
        "metadata": {"topic": "billing"},
        "embedding": [1.0, 0.0, 0.0],
        "payload": "P-a",
    },
    {"id": "b", "text": "shipping delay", "embedding": [0.0, 1.0, 0.0]},
    {"id": "c", "text": "refund request", "metadata": {"topic": "billing"}, "embedding": [0.7, 0.0, 0.7]},
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Service, str]]:
    store = tmp_path / "store"
    key = add_project(store, PROJECT)
    service = start(store, "--embedder", "hash-v1")
    try:
        yield service, key
    finally:
        service.stop()


def env_for(service: Service, key: str, project: str = PROJECT) -> dict[str, str]:
    return sdk_environment(service.sdk_environment(), project, key)


def test_sdk_push_then_resume_in_another_process_then_load_index_and_query(served: tuple[Service, str]) -> None:
    """SRV-7, SRV-8, SRV-9: push → resume elsewhere → extend and push → load_index → client.query."""
    service, key = served
    env = env_for(service, key)
    pushed = run_program("push", "calls", json.dumps(DOCS), env=env)
    assert (pushed["index_name"], pushed["doc_count"], pushed["status"]) == ("calls", 3, "completed")

    resumed = run_program("resume", "calls", "[0.0, 1.0, 0.0]", env=env_for(service, key))
    assert (resumed["doc_count"], resumed["model_id"]) == (3, "custom")
    got = {d["id"]: (d["text"], d["metadata"], d["payload"]) for d in resumed["docs"]}
    assert got == {
        "a": ("billing question", {"topic": "billing"}, "P-a"),
        "b": ("shipping delay", None, None),
        "c": ("refund request", {"topic": "billing"}, None),
    }
    assert resumed["hits"][0] == ["b", 1.0]

    more = [{"id": "d", "text": "new note", "embedding": [0.0, 0.0, 1.0]}]
    assert run_program("resume_extend_push", "calls", json.dumps(more), env=env_for(service, key)) == {
        "before": 3,
        "after": 4,
    }

    loaded = run_program("load_query", "calls", "billing", "[1.0, 0.0, 0.0]", env=env_for(service, key))
    assert loaded["loaded"] == "calls" and loaded["model_id"] == "custom"
    assert [h[0] for h in loaded["hits"]][:2] == ["a", "c"] and len(loaded["hits"]) == 4
    assert loaded["info"]["name"] == "calls" and loaded["info"]["doc_count"] == 4
    assert (loaded["info"]["model"], loaded["info"]["status"]) == ("custom", "Ready")


def test_sdk_create_index_then_job_status_then_get_docs(served: tuple[Service, str]) -> None:
    """SRV-10, SRV-12: the manage API end to end, and its NOT_FOUND / already-exists answers."""
    service, key = served
    docs = [
        {"id": "m1", "text": "alpha doc", "metadata": {"k": "v"}, "embedding": [0.1, 0.2]},
        {"id": "m2", "text": "beta doc", "payload": "pay", "embedding": [0.3, 0.4]},
    ]
    out = run_program("manage", "managed", json.dumps(docs), "custom", env=env_for(service, key))
    assert out["job"]["status"] == "completed" and out["job"]["progress"] == 100.0 and out["waited"] == "completed"
    assert [(d["id"], d["text"], d["metadata"], d["payload"]) for d in out["get_docs"]] == [
        ("m1", "alpha doc", {"k": "v"}, None),
        ("m2", "beta doc", None, "pay"),
    ]
    assert out["get_docs"][0]["embedding"] == [0.10000000149011612, 0.20000000298023224]  # float32, widened
    assert out["get_docs_by_id"] == ["m2"]
    assert out["add_docs"] == {"index_name": "managed", "doc_count": 1, "job": True}
    assert out["delete_docs"] == {"index_name": "managed", "doc_count": 2}  # the SDK counts the ids it sent
    assert out["after"] == ["m2", "zz-extra"]
    assert out["info"] == {"name": "managed", "doc_count": 2, "model": "custom", "status": "Ready"}
    assert out["list"] == [["managed", 2]]
    assert out["create_again"]["error"]["code"] == "INVALID_ARGUMENT"
    assert out["create_again"]["error"]["detail"].startswith("HTTP 409")  # the SDK shows no body for a 409
    assert out["delete_index"] is True
    assert out["get_after_delete"]["error"]["code"] == "NOT_FOUND"
    assert out["job_unknown"]["error"]["code"] == "NOT_FOUND"

    waited = run_program("create_wait", "waited", json.dumps(docs), "custom", env=env_for(service, key))
    assert waited["result"] == {"index_name": "waited", "doc_count": 2, "job": True}


def test_sdk_wrong_key_and_unknown_project_are_unauthorized(served: tuple[Service, str]) -> None:
    """SRV-4: a wrong key through the real SDK raises MossError code UNAUTHORIZED, from every call."""
    service, key = served
    for env in (env_for(service, key + "-wrong"), env_for(service, key, project="never-added")):
        out = run_program("errors", "calls", env=env)
        for call in ("session", "get_index", "list_indexes", "load_index", "builtin_session"):
            assert out[call]["error"]["type"] == "MossError", (call, out[call])
            assert out[call]["error"]["code"] == "UNAUTHORIZED", (call, out[call])
            assert out[call]["error"]["str"] == "The project credentials were rejected."
    right = run_program("errors", "missing", env=env_for(service, key))
    assert "ok" in right["session"] and right["list_indexes"]["ok"] == []  # a missing index: an empty session
    assert right["get_index"]["error"]["code"] == "NOT_FOUND" and right["load_index"]["error"]["code"] == "NOT_FOUND"
    assert right["builtin_session"]["error"]["code"] == "MODEL_UNAVAILABLE"  # no model download offline (SRV-13)
    assert key not in service.log()


def test_sdk_auto_refresh_sees_a_push_from_another_process(served: tuple[Service, str], tmp_path: Path) -> None:
    """SRV-8: updated_at changes on every write, so the SDK's auto-refresh poll picks the new version up."""
    service, key = served
    run_program("push", "live", json.dumps(DOCS[:2]), env=env_for(service, key))
    signal_file = tmp_path / "pushed"
    watcher = start_program("auto_refresh", "live", "[0.0, 0.0, 1.0]", str(signal_file), env=env_for(service, key))
    assert watcher.stdout is not None
    assert json.loads(watcher.stdout.readline()) == {"loaded": True}
    newer = [*DOCS[:2], {"id": "z", "text": "arrived later", "embedding": [0.0, 0.0, 1.0]}]
    run_program("push", "live", json.dumps(newer), env=env_for(service, key))
    signal_file.write_text("go")
    out, err = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, err
    seen = json.loads(out.strip().splitlines()[-1])
    assert [h[0] for h in seen["before"]] != [h[0] for h in seen["after"]]
    assert seen["after"][0] == ["z", 1.0]


def test_sdk_and_moss_ref_clients_share_indexes_through_one_service(served: tuple[Service, str]) -> None:
    """SRV-16: MOSS_REF_STORE=http://... — a moss_ref client and the real SDK read each other's pushes."""
    service, key = served
    run_program("push", "shared", json.dumps(DOCS), env=env_for(service, key))

    async def moss_ref_side() -> None:
        async with MossClient(PROJECT, key, store=service.base, embedder="hash-v1") as c:
            session = await c.session("shared")
            assert session.model_id == "custom" and session.doc_count == 3
            docs = {d.id: d for d in await session.get_docs()}
            # session get_docs returns no embeddings (DOC-13): read the stored vector itself
            assert docs["a"].payload == "P-a" and docs["a"].embedding is None
            assert session.core.corpus.vectors.get("a") == [1.0, 0.0, 0.0]
            await session.add_docs([DocumentInfo("mr", "from moss_ref", embedding=[0.0, 0.6, 0.8])])
            await session.push_index()
            await c.create_index("texts", [DocumentInfo("t1", "refund my card"), DocumentInfo("t2", "tomato garden")])

    asyncio.run(moss_ref_side())
    resumed = run_program("resume", "shared", "[0.0, 0.6, 0.8]", env=env_for(service, key))
    assert resumed["doc_count"] == 4 and resumed["hits"][0] == ["mr", 1.0]

    # a built-in index the moss_ref client embedded: the SDK loads it and queries with an explicit embedding
    stored = asyncio.run(_read_texts(service, key))
    vector = list(stored.vector(0))
    loaded = run_program("load_query", "texts", "refund", json.dumps(vector), env=env_for(service, key))
    assert loaded["info"]["model"] == "moss-minilm" and loaded["hits"][0][0] == "t1"

    # ... and a built-in index the service embedded for the SDK: moss_ref queries it by text
    texts = [{"id": "s1", "text": "refund my card"}, {"id": "s2", "text": "tomato garden"}]
    run_program("create_wait", "sdk-texts", json.dumps(texts), "moss-minilm", env=env_for(service, key))

    async def query_by_text() -> list[str]:
        async with MossClient(PROJECT, key, store=service.base, embedder="hash-v1") as c:
            await c.load_index("sdk-texts")
            return [d.id for d in (await c.query("sdk-texts", "refund card", QueryOptions(top_k=1))).docs]

    assert asyncio.run(query_by_text()) == ["s1"]
    # the SDK itself cannot embed a text query with a built-in model offline (SRV-11)
    refused = run_program("load_query", "sdk-texts", "refund", "", env=env_for(service, key))
    assert refused["query_error"]["code"] == "INVALID_ARGUMENT"


async def _read_texts(service: Service, key: str) -> StoredIndex:
    from moss_ref.stores.http import HttpStore

    store = HttpStore(service.base)
    store.authenticate(PROJECT, key)
    stored = store.read_index(PROJECT, "texts")
    assert stored is not None
    return stored


def test_the_service_log_never_shows_a_key_a_token_or_a_grant(served: tuple[Service, str]) -> None:
    """SRV-6: log lines name route templates; keys, tokens and presigned-URL secrets never appear."""
    service, key = served
    run_program("push", "calls", json.dumps(DOCS), env=env_for(service, key))
    run_program("resume", "calls", "[1.0, 0.0, 0.0]", env=env_for(service, key))
    run_program("errors", "calls", env=env_for(service, key + "-wrong"))
    http = Http(service.port).login(PROJECT, key)
    urls = http.get("/index/calls/url")[1]
    secret = urls["dataUrl"].split("/")[-2]
    assert absolute_get(urls["dataUrl"])[0] == 200
    log = service.log()
    assert "GET /index/{name}/url 200" in log and "GET /blob/{grant}/docs.json 200" in log
    for hidden in (key, key + "-wrong", http.token, secret):
        assert hidden and hidden not in log
    assert "Bearer" not in log and "projectKey" not in log


def test_index_status_is_the_real_class_s_shape() -> None:
    """SRV-14 (observed: moss 1.21.0): moss_ref's IndexStatus answers as the real class does."""
    from moss_ref import IndexStatus, IndexStatusValues

    real = run_program("index_status", env=sdk_environment({}, "", ""))
    mine = IndexStatus("Ready")
    try:
        IndexStatus(3)  # type: ignore[arg-type]
        refused = None
    except TypeError as exc:
        refused = str(exc)
    assert real == {
        "Ready": IndexStatus.Ready,
        "ready_is_str": type(IndexStatus.Ready) is str,
        "value": mine.value,
        "equal": mine == IndexStatus("Ready"),
        "refused": refused,
        "values": IndexStatusValues,
    }


def test_the_service_index_blob_is_the_format_moss_core_reads_and_writes(tmp_path: Path) -> None:
    """SRV-9: the ".moss" v1 encoder against moss_core's reader, and the decoder against its writer."""
    from array import array

    from moss_ref._corpus import Record
    from moss_ref.server.service import _encode

    index = StoredIndex(
        "idx",
        "custom",
        None,
        2,
        (Record("a", "t", None, None), Record("é", "u", None, None)),
        array("f", [0.1, -2.5, 3.0, 0.0]),
        version="0000000007-abcdef01",
    )
    ours, theirs = tmp_path / "ours.moss", tmp_path / "theirs.moss"
    ours.write_bytes(_encode(index, "index.moss"))
    read = run_program("codec", str(ours), str(theirs), env=sdk_environment({}, "", ""))
    assert read == {
        "name": "idx",
        "version": "0000000007-abcdef01",
        "dimension": 2,
        "doc_ids": ["a", "é"],
        "embeddings": [[0.10000000149011612, -2.5], [3.0, 0.0]],
        "model": "custom",
    }
    decoded = decode_index_blob(theirs.read_bytes())
    assert (decoded["name"], decoded["version"], decoded["dimension"]) == ("idx", "v9", 2)
    assert decoded["docIds"] == ["a", "b"]
    assert decoded["embeddings"] == [[0.5, -1.0], [0.25, 2.0]] and decoded["model"]["id"] == "custom"


def test_real_moss_target_runs_through_moss_ref_serve_or_the_kits_stand_in(tmp_path: Path) -> None:
    """GT-1: with moss_ref beside the kit, --real-moss goes through moss-ref serve (resume works);
    --option service=false keeps the kit's stdlib stand-in working for kits installed without moss_ref."""
    from gt_real import run_real

    for option, through, case, outcome in (
        ("service=true", "moss-ref serve", "client_query.loaded.load_and_query", "pass"),
        ("service=false", "the kit's loopback stand-in", "auth", "pass"),
        ("service=false", "the kit's loopback stand-in", "client_query.loaded.load_and_query", "fail"),
    ):
        report = tmp_path / f"{option}-{outcome}.jsonl"
        done = run_real(
            "-m",
            "moss_ref_conformance.cli",
            "run",
            "--real-moss",
            "--option",
            option,
            "--test",
            case,
            "--report",
            str(report),
        )
        lines = [json.loads(line) for line in report.read_text().splitlines()]
        assert lines[0]["implementation"]["detail"].endswith(through), lines[0]
        assert {r["outcome"] for r in lines if r.get("type") == "case"} == {outcome}, done.stdout
