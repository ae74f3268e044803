"""A loopback stand-in for the Moss cloud, so the real ``moss`` SDK runs custom-model sessions offline.

The real SDK (1.21) reads its service URLs from ``MOSS_AUTH_URL`` and ``MOSS_INDEX_URL``. Pointed at
this server it authenticates, reports telemetry and pushes indexes without any network but the
loopback interface. What it answers (observed against moss 1.21.0, see docs/wire-protocol.md):

* ``POST /auth`` ``{"projectId", "projectKey"}`` -> ``{"token", "expiresIn"}``; a key other than the
  project's gets 401, which the SDK raises as an authentication error;
* ``POST /index/telemetry`` (an object or a list of them) -> ``{}``; counted, not stored;
* ``GET /index/<name>`` -> 404: no stored index, so a session starts empty (resume needs the
  service, ``moss-ref serve``);
* ``POST /index/push`` ``{"indexName", "docs": [...]}`` -> ``{"jobId", "indexName", "docCount",
  "status": "completed"}``; the documents are kept in memory per project;
* ``POST /_standin/reset`` empties every project (the kit calls it at each case start).

It is kit code, standard library only, and must run in a process of its own: the SDK's native core
holds the GIL while it waits for the network, so a server thread inside the SDK's process never
answers. :func:`spawn` starts one on a free loopback port and returns once it listens.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

#: The largest request body the stand-in reads (a push of a few thousand 384-d documents fits).
MAX_BODY = 64 * 1024 * 1024


@dataclass
class StandinState:
    """What the stand-in remembers: project keys, issued tokens, pushed indexes, a telemetry count."""

    keys: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    indexes: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    telemetry_events: int = 0
    jobs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class StandinHandler(BaseHTTPRequestHandler):
    """One request; HTTP/1.1 with Content-Length on every answer (the SDK's client keeps connections)."""

    protocol_version = "HTTP/1.1"
    server: StandinServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the kit prints its own results

    # -- plumbing --------------------------------------------------------------------------

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        limit = self.server.max_body
        if length > limit:
            raise _Refusal(413, f"request body of {length} bytes is over the {limit}-byte limit")
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Refusal(400, f"request body is not JSON: {exc}") from None

    def _project(self) -> str:
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.server.state.lock:
            project = self.server.state.tokens.get(token)
        if project is None:
            raise _Refusal(401, "missing or unknown bearer token")
        return project

    def _dispatch(self, method: str) -> None:
        try:
            self._route(method, self.path.split("?", 1)[0])
        except _Refusal as refusal:
            self._answer(refusal.status, {"error": refusal.message})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # -- routes ----------------------------------------------------------------------------

    def _route(self, method: str, path: str) -> None:
        state = self.server.state
        if method == "POST" and path == "/auth":
            body = self._json_body()
            if not isinstance(body, Mapping):
                raise _Refusal(400, "auth body must be a JSON object with projectId and projectKey")
            project, key = body.get("projectId"), body.get("projectKey")
            if not isinstance(project, str) or not isinstance(key, str):
                raise _Refusal(400, "projectId and projectKey must be strings")
            with state.lock:
                known = state.keys.setdefault(project, self.server.first_key(project, key))
                if not secrets.compare_digest(known.encode(), key.encode()):
                    raise _Refusal(401, "invalid project credentials")
                token = secrets.token_urlsafe(24)
                state.tokens[token] = project
            self._answer(200, {"token": token, "expiresIn": 3600})
        elif method == "POST" and path == "/index/telemetry":
            self._project()
            body = self._json_body()
            with state.lock:
                state.telemetry_events += len(body) if isinstance(body, list) else 1
            self._answer(200, {})
        elif method == "POST" and path == "/index/push":
            project = self._project()
            body = self._json_body()
            if not isinstance(body, Mapping) or not isinstance(body.get("indexName"), str):
                raise _Refusal(400, "push body must be a JSON object with indexName and docs")
            docs = body.get("docs")
            if not isinstance(docs, list):
                raise _Refusal(400, "push body's docs must be a list")
            with state.lock:
                state.indexes[(project, body["indexName"])] = docs
                state.jobs += 1
                job = f"job-{state.jobs}"
            answer = {"jobId": job, "indexName": body["indexName"], "docCount": len(docs), "status": "completed"}
            self._answer(200, answer)
        elif method == "GET" and path.startswith("/index/"):
            self._project()
            self._answer(404, {"error": "index not found"})
        elif method == "POST" and path == "/_standin/reset":
            with state.lock:
                state.indexes.clear()
            self._answer(200, {})
        else:
            raise _Refusal(404, f"the stand-in does not serve {method} {path}")


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StandinServer(ThreadingHTTPServer):
    """The stand-in on ``(host, port)``; ``keys`` maps project ids to their keys.

    A project not in ``keys`` is registered by its first authentication with whatever key it
    brings (the kit's own projects), unless ``register_on_first_use`` is false.
    """

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], keys: Optional[Mapping[str, str]] = None, register_on_first_use: bool = True
    ) -> None:
        super().__init__(address, StandinHandler)
        self.state = StandinState(keys=dict(keys or {}))
        self.register_on_first_use = register_on_first_use
        self.max_body = MAX_BODY

    def first_key(self, project: str, key: str) -> str:
        if not self.register_on_first_use:
            raise _Refusal(401, "unknown project")
        return key


@dataclass
class SpawnedStandin:
    """A stand-in running in a child process; ``base`` is ``http://127.0.0.1:PORT``."""

    process: subprocess.Popen[str]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The variables that point the real SDK at this stand-in."""
        return {"MOSS_AUTH_URL": f"{self.base}/auth", "MOSS_INDEX_URL": f"{self.base}/index"}

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.base}/_standin/reset", data=b"{}"), timeout=10).read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def spawn(keys: Optional[Mapping[str, str]] = None, max_body: int = MAX_BODY) -> SpawnedStandin:
    """Start a stand-in in a child process on a free loopback port; return once it listens."""
    argv = [sys.executable, "-m", "moss_ref_conformance.standin", "--max-body", str(max_body)]
    for project, key in (keys or {}).items():
        argv += ["--key", f"{project}={key}"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        port = int(line.split()[-1])
    except (IndexError, ValueError):
        process.kill()
        raise RuntimeError(f"the stand-in did not start: it printed {line!r}") from None
    return SpawnedStandin(process, port)


def main(argv: Optional[list[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m moss_ref_conformance.standin", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--key", action="append", default=[], metavar="PROJECT=KEY", help="a project's key")
    parser.add_argument("--max-body", type=int, default=MAX_BODY, help="largest request body in bytes")
    args = parser.parse_args(argv)
    keys = dict(pair.split("=", 1) for pair in args.key)
    server = StandinServer(("127.0.0.1", args.port), keys)
    server.max_body = args.max_body
    print(f"moss stand-in listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
