"""The runner's side of the driver protocol: a driver subprocess as a :class:`~.targets.Target`.

One long-lived driver per run (DRV-1). Every request waits at most ``timeout`` seconds for its
response; when the driver dies, times out, or writes something that is not a protocol line, the
pending request is answered with a ``failure`` marked ``crash`` (the runner records the case as an
error), the process is killed, and the next case starts a fresh driver (DRV-9).
"""

from __future__ import annotations

import collections
import json
import queue
import shlex
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import IO, Any, Optional

from .protocol import SUPPORTED_VERSIONS, failure, response_kind

_EOF = object()


class DriverError(Exception):
    """The driver cannot be started or refuses the handshake."""


class DriverTarget:
    """Talk to ``command`` over stdin/stdout JSON lines."""

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        timeout: float = 30.0,
        startup_timeout: float = 60.0,
        env: Optional[dict[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> None:
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.env = env
        self.cwd = cwd
        self.restarts = 0
        self.starts = 0
        self.sent: list[str] = []  # every request line, for tests and --explain
        self._proc: Optional[subprocess.Popen[str]] = None
        self._lines: queue.Queue[Any] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._seq = 0
        self._info: Optional[dict[str, Any]] = None

    # -- process management ------------------------------------------------------------------

    def _start(self) -> None:
        self._lines = queue.Queue()
        try:
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1,
                env=self.env,
                cwd=self.cwd,
            )
        except OSError as exc:
            raise DriverError(f"cannot start driver {self.command}: {exc}") from exc
        self._proc = proc
        self.starts += 1
        if self.starts > 1:
            self.restarts += 1
        lines = self._lines
        stderr = self._stderr
        assert proc.stdout is not None and proc.stderr is not None

        def pump(stream: IO[str], sink: Any) -> None:
            for line in stream:
                sink(line)
            sink(_EOF)

        threading.Thread(target=pump, args=(proc.stdout, lines.put), daemon=True).start()
        threading.Thread(
            target=pump, args=(proc.stderr, lambda s: s is not _EOF and stderr.append(s.rstrip("\n"))), daemon=True
        ).start()
        response = self._request({"cmd": "hello", "protocol_versions": list(SUPPORTED_VERSIONS)}, self.startup_timeout)
        if response_kind(response) != "result":
            detail = response.get("failure", response) if isinstance(response, dict) else response
            self._kill()
            raise DriverError(f"driver handshake failed: {detail}")
        info = response["result"]
        if info.get("protocol_version") not in SUPPORTED_VERSIONS:
            self._kill()
            raise DriverError(f"driver chose unsupported protocol version {info.get('protocol_version')!r}")
        self._info = info

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def _crash(self, what: str) -> dict[str, Any]:
        proc = self._proc
        code = None if proc is None else proc.poll()
        self._kill()
        tail = "\n".join(list(self._stderr)[-15:])
        out = failure(
            f"driver {what}"
            + (f" (exit status {code})" if code is not None else "")
            + (f"; stderr tail:\n{tail}" if tail else "")
        )
        out["failure"]["crash"] = what
        return out

    def _request(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return self._crash("is not running")
        self._seq += 1
        seq = self._seq
        line = json.dumps({"seq": seq, **msg}, ensure_ascii=False, allow_nan=False)
        self.sent.append(line)
        try:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return self._crash("exited")
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                raw = self._lines.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                return self._crash(f"timed out after {timeout:g}s")
            if raw is _EOF:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                return self._crash("exited")
            if not raw.strip():
                continue
            try:
                response = json.loads(raw)
            except ValueError:
                return self._crash(f"wrote a line that is not JSON: {raw[:200]!r}")
            if not isinstance(response, dict) or response.get("seq") != seq:
                return self._crash(f"answered out of sequence (expected seq {seq}): {raw[:200]!r}")
            response.pop("seq")
            if response_kind(response) == "invalid":
                return self._crash(f"wrote a response without exactly one of result/error/skip/failure: {raw[:200]!r}")
            return response

    def _ensure(self) -> None:
        if not self._alive():
            self._kill()
            self._start()

    # -- Target ------------------------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        self._ensure()
        assert self._info is not None
        return dict(self._info)

    def start_case(self, name: str, features: Sequence[str]) -> dict[str, Any]:
        try:
            self._ensure()
        except DriverError as exc:
            out = failure(str(exc))
            out["failure"]["crash"] = "restart failed"
            return out
        return self._request({"cmd": "start_case", "case": name, "features": list(features)}, self.timeout)

    def step(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        return self._request({"cmd": "step", "op": op, "args": args}, self.timeout)

    def end_case(self) -> None:
        if self._alive():
            self._request({"cmd": "end_case"}, self.timeout)

    def close(self) -> None:
        if self._alive():
            self._request({"cmd": "stop"}, self.timeout)
            assert self._proc is not None
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._kill()
