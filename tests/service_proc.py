"""Run ``moss-ref serve`` in a child process for one test, and talk to it with the standard library.

Every service a test needs is started inside the test, on a free loopback port, and stopped by
it. The real SDK must never share a process with a server (its native core holds the GIL while it
waits for the network), and a child process is also what a SIGKILL test needs.

When the suite sets ``MOSS_REF_ROUTE_LOG`` (tests/conftest.py does), the service appends one
``METHOD TEMPLATE STATUS`` line per request to that file; the last test of the suite checks every
template against docs/wire-protocol.md. Tests that send unknown paths on purpose pass
``route_log=False``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROUTE_LOG_ENV = "MOSS_REF_ROUTE_LOG"


@dataclass
class Service:
    """A running ``moss-ref serve``; ``stderr`` is its log file."""

    process: subprocess.Popen[str]
    port: int
    store: Path
    stderr: Path
    banner: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sdk_environment(self) -> dict[str, str]:
        """What points an unmodified moss app at this service."""
        return {"MOSS_AUTH_URL": f"{self.base}/auth", "MOSS_INDEX_URL": f"{self.base}/index"}

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    store: Path,
    *args: str,
    allow_first_use: bool = False,
    route_log: bool = True,
    port: int = 0,
    stderr: Optional[Path] = None,
) -> Service:
    """``python -m moss_ref.server --port 0 --store STORE ...``; returns once it listens."""
    env = dict(os.environ)
    if not route_log:
        env.pop(ROUTE_LOG_ENV, None)
    argv = [sys.executable, "-m", "moss_ref.server", "--port", str(port), "--store", str(store), *args]
    if allow_first_use:
        argv.append("--allow-first-use")
    log_path = stderr or store.parent / f"serve-{store.name}-{time.monotonic_ns()}.log"
    log_file = open(log_path, "w", encoding="utf-8")
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log_file, text=True, env=env)
    log_file.close()
    assert process.stdout is not None
    first = process.stdout.readline()
    if "listening on http://" not in first:
        process.kill()
        process.wait()
        raise RuntimeError(f"moss-ref serve did not start: {first!r}\n{log_path.read_text()}")
    banner = [first.rstrip("\n")]
    for _ in range(6):
        banner.append(process.stdout.readline().rstrip("\n"))
    return Service(process, int(first.rsplit(":", 1)[1]), store, log_path, banner)


def add_project(store: Path, project: str) -> str:
    """``moss-ref projects add PROJECT --store STORE``; returns the key it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "moss_ref.cli", "projects", "add", project, "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class Http:
    """One keep-alive connection to a service; JSON in, (status, JSON or bytes) out."""

    def __init__(self, port: int, token: Optional[str] = None, project: Optional[str] = None) -> None:
        self.port = port
        self.token = token
        self.project = project
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: Optional[bytes] = None,
        headers: Optional[dict[str, str]] = None,
        auth: bool = True,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        if auth and self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
            if self.project is not None:
                sent.setdefault("x-project-id", self.project)
        self.conn.request(method, path, body=data, headers=sent)
        response = self.conn.getresponse()
        payload = response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(payload) if kind.startswith("application/json") and payload else payload

    def login(self, project: str, key: str) -> Http:
        status, body = self.request("POST", "/auth", {"projectId": project, "projectKey": key}, auth=False)
        assert status == 200, body
        self.token, self.project = body["token"], project
        return self

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.request("POST", path, body, **kw)

    def close(self) -> None:
        self.conn.close()


def absolute_get(url: str) -> tuple[int, bytes]:
    """GET a presigned URL (no auth headers), as the SDK does."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
    try:
        conn.request("GET", parts.path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
