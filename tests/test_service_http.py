"""moss-ref serve over HTTP, with the standard library as the client (rules SRV-* in docs/rules/service.md).

These tests serve from a thread of the test process (no real SDK here: its native core must not
share a process with a server; the real-SDK tests are in tests/ground_truth/test_service_sdk.py).
Every refusal is checked to be a 4xx JSON answer that changes nothing.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import serving
from service_proc import Http, absolute_get

from moss_ref.server import ROUTES
from moss_ref.stores.directory import DirectoryStore
from moss_ref.stores.wire import (
    decode_index_blob,
    decode_upload,
    encode_index_blob,
    encode_upload,
    xor_mask,
)

A, B = "project-a", "project-b"
KEY_A, KEY_B = "key-of-a-" + "x" * 20, "key-of-b-" + "y" * 20
DOCS = [
    {"id": "a", "text": "billing question", "metadata": {"topic": "billing"}, "embedding": [1.0, 0.0, 0.5]},
    {"id": "b", "text": "shipping delay", "embedding": [0.0, 1.0, 0.25]},
]


@contextlib.contextmanager
def service(tmp_path: Path, **config: Any) -> Iterator[tuple[int, DirectoryStore]]:
    store = DirectoryStore(str(tmp_path / "store"))
    store.register_project(A, KEY_A)
    store.register_project(B, KEY_B)
    with serving(store, **config) as url:
        yield int(url.rsplit(":", 1)[1]), store


def login(port: int, project: str = A, key: str = KEY_A) -> Http:
    return Http(port).login(project, key)


def push(http: Http, name: str = "idx", docs: Any = DOCS) -> dict[str, Any]:
    status, body = http.post("/index/push", {"indexName": name, "docs": docs})
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def is_refusal(status: int, body: Any, want: int) -> bool:
    return status == want and isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]


# -- credentials and tokens (SRV-4, SRV-5) --------------------------------------------------------


def test_auth_accepts_provisioned_keys_and_refuses_everything_else(tmp_path: Path) -> None:
    with service(tmp_path) as (port, _):
        http = Http(port)
        status, body = http.post("/auth", {"projectId": A, "projectKey": KEY_A})
        assert status == 200 and body["expiresIn"] == 3600 and len(body["token"]) >= 40
        for bad, want in [
            (b"not json", 400),
            (b"[1, 2]", 400),
            (json.dumps({"projectId": A}).encode(), 400),
            (json.dumps({"projectId": 7, "projectKey": KEY_A}).encode(), 400),
            (json.dumps({"projectId": A, "projectKey": "wrong"}).encode(), 401),
            (json.dumps({"projectId": "nobody", "projectKey": KEY_A}).encode(), 401),
        ]:
            status, body = http.post("/auth", raw=bad)
            assert is_refusal(status, body, want), (bad, status, body)
        # a wrong key and an unknown project get the same answer: no project enumeration
        wrong = http.post("/auth", {"projectId": A, "projectKey": "wrong"})
        unknown = http.post("/auth", {"projectId": "nobody", "projectKey": "wrong"})
        assert wrong == unknown == (401, {"error": "invalid project credentials", "code": "UNAUTHORIZED"})


def test_first_use_registers_a_project_only_when_allowed(tmp_path: Path) -> None:
    with service(tmp_path, allow_first_use=True) as (port, store):
        assert Http(port).post("/auth", {"projectId": "fresh", "projectKey": "k"})[0] == 200
        assert Http(port).post("/auth", {"projectId": "fresh", "projectKey": "other"})[0] == 401
        assert "fresh" in store.list_projects()


def _filled(template: str) -> str:
    return template.replace("{name}", "idx").replace("{jobId}", "job_1").replace("{grant}", "g")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.auth], ids=lambda r: f"{r.method} {r.template}")
def test_every_authenticated_route_refuses_missing_and_unknown_tokens(tmp_path: Path, route: Any) -> None:
    with service(tmp_path) as (port, store):
        for header in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Basic {KEY_A}"}):
            http = Http(port)
            status, body = http.request(route.method, _filled(route.template), raw=b"{}", headers=header)
            assert is_refusal(status, body, 401), (header, status, body)
        assert store.list_indexes(A) == []


def test_tokens_expire(tmp_path: Path) -> None:
    with service(tmp_path, token_ttl=0.3) as (port, _):
        http = login(port)
        assert http.get("/index/")[0] == 200
        time.sleep(0.4)
        status, body = http.get("/index/")
        assert is_refusal(status, body, 401) and "expired" in body["error"]


def test_a_token_reaches_only_its_own_project(tmp_path: Path) -> None:
    """SRV-5: project A's token never reads, lists or writes project B."""
    with service(tmp_path) as (port, store):
        a, b = login(port), login(port, B, KEY_B)
        pushed = push(a)
        version = store.read_summary(A, "idx").version  # type: ignore[union-attr]
        assert b.get("/index/idx")[0] == 404
        assert b.get("/index/idx/url")[0] == 404
        assert b.get("/index/idx/docs")[0] == 404
        assert b.get("/index/")[1] == []
        assert b.get(f"/index/{pushed['jobId']}/status")[0] == 404
        assert b.request("DELETE", "/index/idx")[0] == 404
        assert b.post("/index/idx/docs", {"docs": DOCS})[0] == 404
        assert b.request("DELETE", "/index/idx/docs", {"docIds": ["a"]})[0] == 404
        push(b, docs=DOCS[:1])  # B's own index of the same name
        status, body = b.request("GET", "/index/", headers={"x-project-id": A})
        assert is_refusal(status, body, 403)
        assert store.read_summary(A, "idx").version == version  # type: ignore[union-attr]
        assert [r.id for r in store.read_index(A, "idx").records] == ["a", "b"]  # type: ignore[union-attr]
        assert [r.id for r in store.read_index(B, "idx").records] == ["a"]  # type: ignore[union-attr]


# -- limits and malformed requests (SRV-6) ------------------------------------------------------------


def test_oversized_bodies_get_413_and_change_nothing(tmp_path: Path) -> None:
    with service(tmp_path, max_body=2000) as (port, store):
        http = login(port)
        push(http, docs=DOCS[:1])
        before = store.read_summary(A, "idx")
        big = [{"id": f"d{i}", "text": "x" * 50, "embedding": [1.0, 0.0, 0.0]} for i in range(50)]
        status, body = http.post("/index/push", {"indexName": "idx", "docs": big})
        assert is_refusal(status, body, 413) and "2000" in body["error"]
        assert store.read_summary(A, "idx") == before
        again = login(port)  # the refused connection was closed; a new one works
        assert again.get("/index/idx")[0] == 200


MALFORMED = [
    ("POST", "/index/push", b"{not json", 400),
    ("POST", "/index/push", b'{"indexName": "idx", "docs": [{"id": "a", "text": "t", "embedding": [NaN]}]}', 400),
    ("POST", "/index/push", b'{"indexName": "idx", "docs": "/etc/passwd"}', 400),
    ("POST", "/index/push", b'{"indexName": "idx", "docs": ["a"]}', 400),
    ("POST", "/index/push", b'{"indexName": "idx", "docs": [{"text": "no id", "embedding": [1]}]}', 400),
    ("POST", "/index/push", b'{"indexName": "idx", "docs": [{"id": "a", "text": "t", "embedding": ["x"]}]}', 400),
    ("POST", "/index/push", b'{"indexName": 7, "docs": []}', 400),
    ("POST", "/index/push", b'{"indexName": "../x", "docs": []}', 400),
    ("POST", "/index/push", b'{"indexName": "idx", "docs": [], "modelId": "gpt-9"}', 400),
    ("POST", "/index/push", b'{"indexName": "idx", "docs": [], "expectVersion": 3}', 400),
    (
        "POST",
        "/index/push",
        b'{"indexName": "idx", "docs": [{"id": "a", "text": "t", "embedding": [1, 2]}, '
        b'{"id": "b", "text": "t", "embedding": [1]}]}',
        400,
    ),
    ("POST", "/index/push", b"[" * 100_000, 400),
    ("POST", "/index/push", b'{"indexName": "\xff"}', 400),
    ("POST", "/index/idx/docs", b'{"docs": {"id": "a"}}', 400),
    ("POST", "/index/idx/docs", b'{"docs": [], "upsert": "yes"}', 400),
    ("DELETE", "/index/idx/docs", b'{"docIds": "a"}', 400),
    ("DELETE", "/index/idx/docs", b'{"docIds": [1, 2]}', 400),
    ("POST", "/index/init", b'{"indexName": "new", "dimension": -1, "docCount": 1}', 400),
    ("POST", "/index/init", b'{"indexName": "new", "docCount": "1"}', 400),
    ("POST", "/index/telemetry", b'"just a string"', 400),
    ("GET", "/index/..%2Fescape", b"", 400),
    ("GET", "/index/%ff", b"", 400),
    ("PUT", "/index/job_1/status", b'{"status": "done"}', 400),
]


@pytest.mark.parametrize(("method", "path", "raw", "want"), MALFORMED)
def test_malformed_json_and_wrong_types_get_4xx_and_change_nothing(
    tmp_path: Path, method: str, path: str, raw: bytes, want: int
) -> None:
    with service(tmp_path) as (port, store):
        http = login(port)
        push(http)
        before = store.read_summary(A, "idx")
        status, body = http.request(method, path, raw=raw)
        assert is_refusal(status, body, want), (status, body)
        assert body["code"] == "INVALID_ARGUMENT"
        assert store.read_summary(A, "idx") == before and [s.name for s in store.list_indexes(A)] == ["idx"]


def _raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_unknown_paths_methods_actions_and_broken_requests_get_json_4xx(tmp_path: Path) -> None:
    with service(tmp_path) as (port, _):
        http = login(port)
        status, body = http.get("/nope")
        assert is_refusal(status, body, 404) and body["error"] == "no such endpoint: GET /nope"
        assert is_refusal(*http.get("/index/a/b/c"), 404)
        status, body = http.request("PATCH", "/index/push", raw=b"{}")
        assert is_refusal(status, body, 405) and "POST" in body["error"]
        status, body = http.post("/v1/manage", {"action": "createWebSource"})
        assert is_refusal(status, body, 400) and "unknown action 'createWebSource'" in body["error"]
        status, body = _raw_exchange(port, b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 501 and body["error"]
        status, body = _raw_exchange(port, b"GET / HTTP/x.y\r\n\r\n")
        assert status == 400 and body["error"]
        chunked = b"POST /index/push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        assert _raw_exchange(port, chunked)[0] == 401  # the token is checked first
        authed = chunked.replace(b"Host: x", f"Host: x\r\nAuthorization: Bearer {http.token}".encode())
        status, body = _raw_exchange(port, authed)
        assert status == 411 and "Content-Length" in body["error"]
        bad_length = f"POST /index/push HTTP/1.1\r\nAuthorization: Bearer {http.token}\r\nContent-Length: -5\r\n\r\n"
        assert _raw_exchange(port, bad_length.encode())[0] == 400


def test_keep_alive_and_an_unread_body_closes_the_connection(tmp_path: Path) -> None:
    with service(tmp_path) as (port, _):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = json.dumps({"projectId": A, "projectKey": KEY_A})
        for _ in range(3):  # one connection, several requests
            conn.request("POST", "/auth", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200 and response.getheader("Content-Length")
            token = json.loads(response.read())["token"]
        sock = conn.sock
        conn.request("POST", "/nowhere", body=b"x" * 100, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        assert response.status == 404 and response.getheader("Connection") == "close"
        response.read()
        assert conn.sock is None or conn.sock is not sock or response.will_close


# -- what the answers say (SRV-7..SRV-12) -------------------------------------------------------------


def test_every_write_changes_version_and_updated_at(tmp_path: Path) -> None:
    """SRV-8: auto-refresh compares updated_at, so every write changes it (and the version)."""
    with service(tmp_path) as (port, _):
        http = login(port)
        seen = []
        push(http)
        seen.append(http.get("/index/idx")[1])
        push(http, docs=DOCS[:1])
        seen.append(http.get("/index/idx")[1])
        assert http.post("/index/idx/docs", {"docs": DOCS[1:]})[0] == 200
        seen.append(http.get("/index/idx")[1])
        assert http.request("DELETE", "/index/idx/docs", {"docIds": ["a"]})[0] == 200
        seen.append(http.get("/index/idx")[1])
        assert len({r["updated_at"] for r in seen}) == len({r["version"] for r in seen}) == 4
        assert [r["document_count"] for r in seen] == [2, 1, 2, 1]
        assert {r["id"] for r in seen} == {seen[0]["id"]} and all(isinstance(r["version"], str) for r in seen)
        record = seen[-1]
        assert record["name"] == "idx" and record["model_id"] == "custom" and record["status"] == "Ready"


def test_both_downloads_of_one_url_answer_come_from_one_version(tmp_path: Path) -> None:
    """SRV-9: a push between /url and the downloads does not tear a resume."""
    with service(tmp_path) as (port, _):
        http = login(port)
        push(http)
        status, urls = http.get("/index/idx/url")
        assert status == 200 and set(urls) >= {"indexUrl", "dataUrl", "vectorsUrl"}
        push(http, docs=[{"id": "z", "text": "newer", "embedding": [0.0, 0.0, 1.0]}])
        blob = decode_index_blob(absolute_get(urls["indexUrl"])[1])
        docs = json.loads(absolute_get(urls["dataUrl"])[1])
        vectors = array("f")
        vectors.frombytes(absolute_get(urls["vectorsUrl"])[1])
        assert blob["docIds"] == [d["id"] for d in docs] == ["a", "b"]
        assert blob["embeddings"] == [[1.0, 0.0, 0.5], [0.0, 1.0, 0.25]] == [list(vectors[:3]), list(vectors[3:])]
        assert docs[0] == {"id": "a", "text": "billing question", "metadata": {"topic": "billing"}}
        assert blob["name"] == "idx" and blob["model"] == {"id": "custom", "version": ""} and blob["dimension"] == 3
        assert urlsplit(urls["dataUrl"]).netloc == f"127.0.0.1:{port}"
        assert absolute_get(urls["dataUrl"].replace(urlsplit(urls["dataUrl"]).path.split("/")[2], "forged"))[0] == 404


def test_get_docs_by_ids_keeps_order_skips_missing_and_returns_custom_embeddings(tmp_path: Path) -> None:
    with service(tmp_path) as (port, _):
        http = login(port)
        push(http, docs=[*DOCS, {"id": "c d,e", "text": "odd id", "embedding": [0.5, 0.5, 0.5]}])
        status, docs = http.get("/index/idx/docs?docIds=b,nope,a,b,c%20d%2Ce")
        assert status == 200 and [d["id"] for d in docs] == ["b", "a", "c d,e"]
        assert docs[1] == {**DOCS[0]}
        status, every = http.get("/index/idx/docs")
        assert [d["id"] for d in every] == ["a", "b", "c d,e"] and every[1]["embedding"] == [0.0, 1.0, 0.25]
        assert http.get("/index/nope/docs")[0] == 404


def test_create_index_flow_init_upload_confirm_and_its_refusals(tmp_path: Path) -> None:
    """SRV-10: init → PUT to the presigned URL → confirm; the job completes; wrong uploads change nothing."""
    with service(tmp_path) as (port, store):
        http = login(port)
        announce = {"indexName": "made", "modelId": "custom", "dimension": 2, "docCount": 2}
        status, init = http.post("/index/init", announce)
        assert status == 200 and init["jobId"] and init["presignedUrl"].startswith(f"http://127.0.0.1:{port}/upload/")
        assert http.get(f"/index/{init['jobId']}/status")[1]["status"] == "pending_upload"
        assert http.post(f"/index/{init['jobId']}/confirm", {})[0] == 400  # nothing uploaded yet
        upload_path = urlsplit(init["presignedUrl"]).path
        docs = [{"id": "m1", "text": "alpha", "metadata": {"k": "v"}}, {"id": "m2", "text": "beta"}]
        wrong = encode_upload(docs[:1], array("f", [0.1, 0.2]), 2)
        assert is_refusal(*Http(port).request("PUT", upload_path, raw=wrong, auth=False), 400)
        good = encode_upload(docs, array("f", [0.1, 0.2, 0.3, 0.4]), 2)
        assert Http(port).request("PUT", upload_path, raw=good, auth=False)[0] == 200
        assert Http(port).request("PUT", upload_path, raw=good, auth=False)[0] == 404  # the link is single-use
        assert login(port, B, KEY_B).post(f"/index/{init['jobId']}/confirm", {})[0] == 404  # not B's job
        confirmed = http.post(f"/index/{init['jobId']}/confirm", {})
        assert confirmed == (200, {"jobId": init["jobId"], "status": "completed"})
        job = http.get(f"/index/{init['jobId']}/status")[1]
        assert (job["status"], job["progress"], job["current_phase"], job["error_message"]) == (
            "completed",
            100.0,
            None,
            None,
        )
        stored = store.read_index(A, "made")
        assert stored is not None and [r.id for r in stored.records] == ["m1", "m2"] and stored.dimension == 2
        status, body = http.post("/index/init", {**announce, "docCount": 1})
        assert status == 409 and "already exists" in body["error"]
        assert http.post("/index/job_unknown/confirm", {})[0] == 404
        assert http.get("/index/job_unknown/status")[0] == 404


def test_a_built_in_model_is_embedded_on_the_service(tmp_path: Path) -> None:
    """SRV-11: documents of a built-in model without vectors are embedded here (hash-v1 in this test)."""
    with service(tmp_path, embedder="hash-v1") as (port, _):
        http = login(port)
        docs = [{"id": "x", "text": "refund my card"}, {"id": "y", "text": "tomato garden"}]
        assert http.post("/index/push", {"indexName": "bi", "modelId": "moss-minilm", "docs": docs})[0] == 200
        record = http.get("/index/bi")[1]
        assert record["model_id"] == "moss-minilm" and record["model_version"].startswith("hash-v1:")
        blob = decode_index_blob(absolute_get(http.get("/index/bi/url")[1]["indexUrl"])[1])
        assert blob["dimension"] == 384 and len(blob["embeddings"]) == 2 and len(blob["embeddings"][0]) == 384
        assert [set(d) for d in http.get("/index/bi/docs")[1]] == [{"id", "text"}] * 2  # no embeddings: built-in
        assert http.post("/index/bi/docs", {"docs": [{"id": "z", "text": "more"}]})[0] == 200
        assert http.get("/index/bi")[1]["document_count"] == 3


def test_telemetry_is_counted_and_never_stored(tmp_path: Path) -> None:
    with service(tmp_path, test_mode=True) as (port, _):
        http = login(port)
        event = {"action": "telemetry", "eventType": "session.push_index", "deviceId": "secret-device-id"}
        assert http.post("/index/telemetry", event) == (200, {})
        assert http.post("/index/telemetry", [event, event]) == (200, {})
        assert Http(port).get("/_moss_ref/stats", auth=False)[1]["telemetry_events"] == 3
        stored = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
        assert b"secret-device-id" not in stored and b"eventType" not in stored


def test_test_mode_routes_exist_only_in_test_mode(tmp_path: Path) -> None:
    with service(tmp_path) as (port, _):
        assert Http(port).post("/_moss_ref/reset", {})[0] == 404
        assert Http(port).get("/_moss_ref/health")[1] == {"status": "ok"}


def test_the_model_artifact_request_is_refused_with_a_reason(tmp_path: Path) -> None:
    """SRV-13: the SDK asks for a model grant before a built-in session; the service has none to give."""
    with service(tmp_path) as (port, _):
        status, body = login(port).get("/index/model-artifacts/download?modelId=moss-minilm&ek=abc")
        assert is_refusal(status, body, 404) and "model artifacts" in body["error"]


# -- the codecs (wire-protocol.md §4, §6) ---------------------------------------------------------------


def test_index_blob_and_upload_codecs_round_trip() -> None:
    payload = {
        "name": "i",
        "version": "v",
        "model": {"id": "custom", "version": ""},
        "dimension": 1,
        "embeddings": [[0.5]] * 300,
        "docIds": [f"d{i}" for i in range(300)],
    }
    blob = encode_index_blob(payload)
    assert blob[:4] == b"MOSS" and struct.unpack("<HHI", blob[4:12]) == (1, 0, len(blob) - 12)
    raw = json.dumps(payload, separators=(",", ":")).encode()
    assert blob[12:] == bytes(c ^ (0xAA ^ (i % 255)) for i, c in enumerate(raw))  # the observed mask, naively
    assert decode_index_blob(blob) == payload and xor_mask(xor_mask(raw)) == raw
    docs = [{"id": "a", "text": "é"}, {"id": "b", "text": "t"}]
    body = encode_upload(docs, array("f", [1.0, 2.0, 3.0, 4.0]), 2)
    decoded_docs, vectors, dimension = decode_upload(body)
    assert decoded_docs == docs and list(vectors) == [1.0, 2.0, 3.0, 4.0] and dimension == 2
    with pytest.raises(ValueError):
        decode_upload(body[:-1])
    with pytest.raises(ValueError):
        decode_index_blob(blob[:-1])


def test_the_fast_path_for_plain_documents_builds_what_a_session_builds() -> None:
    """SRV-8: plain pushes skip the session, and must give exactly the session's index."""
    import random

    from moss_ref._session_core import SessionCore
    from moss_ref._snapshot import snapshot
    from moss_ref._vectors import create as python_vectors
    from moss_ref.server.service import _documents, plain_custom

    rng = random.Random(3)
    for trial in range(20):
        raw = []
        for i in range(rng.randint(1, 60)):
            doc: dict[str, Any] = {
                "id": f"d{rng.randint(0, 25)}",
                "text": f"text {i} {trial}",
                "embedding": [rng.choice([rng.gauss(0, 1), 1, 0, 1e-45, 0.1]) for _ in range(5)],
            }
            if rng.random() < 0.5:
                doc["metadata"] = {} if rng.random() < 0.2 else {"k": str(rng.randint(0, 3)), "é": "ü"}
            if rng.random() < 0.3:
                doc["payload"] = f"p{i}"
            raw.append(doc)
        fast = plain_custom(raw)
        assert fast is not None
        core = SessionCore("i", "custom", embedder=None, vector_backend_factory=python_vectors, strict=False)
        core.add_docs(_documents(raw, "docs"))
        slow = snapshot(core)
        assert fast == (slow.records, slow.vectors, slow.dimension)
    unusual = [
        [{"id": 7, "text": "t", "embedding": [1.0]}],
        [{"id": "a", "text": "t", "embedding": [float("nan")]}],
        [{"id": "a", "text": "t", "embedding": [1.0]}, {"id": "b", "text": "t", "embedding": [1.0, 2.0]}],
        [{"id": "a", "text": "t", "embedding": [1e39]}],
        [{"id": "a", "text": "t", "metadata": {"n": 1}, "embedding": [1.0]}],
        [],
    ]
    for docs in unusual:
        assert plain_custom(docs) is None  # the session decides these
