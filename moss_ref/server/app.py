"""HTTP for :class:`~.service.MossService`: routes, bodies, limits, answers, log lines.

Standard library only: ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive and a
``Content-Length`` on every answer (the SDK's HTTP client keeps connections open). Every answer,
refusals included, is JSON (downloads aside); every refusal is a 4xx or 5xx with
``{"error": <what was wrong>, "code": <Moss error code>}`` and changes nothing.

Request log lines name the route *template* (``GET /index/{name}/url``), the status, the size and
the time — never a path's secret part (presigned links carry a capability), a header, a key or a
token. ``route_log`` (tests) appends ``METHOD TEMPLATE STATUS`` lines to a file, so a test can
compare what the SDK sent with docs/wire-protocol.md.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Optional, TextIO
from urllib.parse import unquote

from .._errors import INTERNAL, MossError
from .service import ApiError, MossService, bad_request, from_moss_error, index_name

__all__ = ["ROUTES", "Route", "ServiceServer", "make_server"]

#: The largest request body read by default (a push of ~20k documents of 384 dimensions as JSON).
DEFAULT_MAX_BODY: Final = 256 << 20
_HOST_RE: Final = re.compile(r"\A[A-Za-z0-9.\-]+(:[0-9]{1,5})?\Z|\A\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?\Z")


@dataclass(frozen=True)
class Route:
    """``method`` and path ``segments`` (``{x}`` matches any one segment); ``auth``: bearer token needed."""

    method: str
    template: str
    handler: str
    auth: bool = True
    test_only: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.split("/")[1:])

    def match(self, parts: tuple[str, ...]) -> Optional[dict[str, str]]:
        pattern = self.segments
        if len(pattern) != len(parts):
            return None
        found: dict[str, str] = {}
        for want, got in zip(pattern, parts):
            if want.startswith("{") and want.endswith("}"):
                if not got:
                    return None
                found[want[1:-1]] = got
            elif want != got:
                return None
        return found


#: Every request the service answers (the table in docs/wire-protocol.md lists the same templates).
ROUTES: Final = (
    Route("POST", "/auth", "auth", auth=False),
    Route("POST", "/index/telemetry", "telemetry"),
    Route("POST", "/index/push", "push"),
    Route("POST", "/index/init", "init"),
    Route("GET", "/index/model-artifacts/download", "model_artifact"),
    Route("GET", "/index/", "list_indexes"),
    Route("GET", "/index", "list_indexes"),
    Route("GET", "/index/{name}", "record"),
    Route("DELETE", "/index/{name}", "delete_index"),
    Route("GET", "/index/{name}/url", "urls"),
    Route("GET", "/index/{name}/docs", "get_docs"),
    Route("POST", "/index/{name}/docs", "add_docs"),
    Route("DELETE", "/index/{name}/docs", "delete_docs"),
    Route("POST", "/index/{jobId}/confirm", "confirm"),
    Route("GET", "/index/{jobId}/status", "job_status"),
    Route("PUT", "/index/{jobId}/status", "save_job"),
    Route("GET", "/blob/{grant}/index.moss", "download", auth=False),
    Route("GET", "/blob/{grant}/docs.json", "download", auth=False),
    Route("GET", "/blob/{grant}/vectors.f32", "download", auth=False),
    Route("PUT", "/upload/{grant}", "upload", auth=False),
    Route("POST", "/v1/manage", "manage", auth=False),
    Route("GET", "/_moss_ref/health", "health", auth=False),
    Route("POST", "/_moss_ref/reset", "reset", auth=False, test_only=True),
    Route("GET", "/_moss_ref/stats", "stats", auth=False, test_only=True),
)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class ServiceServer(ThreadingHTTPServer):
    """The service on ``address``; one thread per connection, daemon threads, a deep listen queue."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        service: MossService,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        log_stream: Optional[TextIO] = None,
        route_log: Optional[str] = None,
    ) -> None:
        self.service = service
        self.max_body = max_body
        self.log_stream = log_stream
        self.route_log = route_log
        self._log_lock = threading.Lock()
        self.requests_served = 0
        super().__init__(address, ServiceHandler)

    def log(self, line: str) -> None:
        if self.log_stream is not None:
            with self._log_lock:
                self.log_stream.write(line + "\n")
                self.log_stream.flush()

    def record_route(self, method: str, template: str, status: int) -> None:
        with self._log_lock:
            self.requests_served += 1
            if self.route_log:
                with open(self.route_log, "a", encoding="utf-8") as f:
                    f.write(f"{method} {template} {status}\n")

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class ServiceHandler(BaseHTTPRequestHandler):
    """One connection; each request is routed, answered in JSON, logged by its template."""

    protocol_version = "HTTP/1.1"
    server: ServiceServer
    timeout = 120  # an idle keep-alive connection is closed after two minutes
    server_version = "moss-ref-serve"
    sys_version = ""

    # -- plumbing ----------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        pass  # our own one line per request (see _finish), never the raw request line

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        """Protocol-level refusals (malformed request line, unknown method, huge headers) as JSON too."""
        self.close_connection = True
        self.request_version = self.protocol_version  # answer with a status line even to unparsable requests
        self._template: str = getattr(self, "_template", "") or "?"
        try:
            text = message or self.responses.get(code, ("error",))[0]
            self._answer(code, {"error": text, "code": "INVALID_ARGUMENT"})
        except OSError:
            pass
        self.server.log(f"{self.client_address[0]} ? (unparsable request) {code}")

    def setup(self) -> None:
        super().setup()
        # answers are written whole; without Nagle's algorithm a small answer never waits for the
        # client's delayed ACK of the one before it (40 ms a request otherwise)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        """Status line, headers and body, written at once when the body is small (one TCP segment)."""
        data = body if isinstance(body, bytes) else json.dumps(body, allow_nan=False).encode("utf-8")
        reason = self.responses.get(status, ("",))[0]
        headers = [
            f"{self.protocol_version} {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(data)}",
            "Cache-Control: no-store",
        ]
        if self.close_connection:
            headers.append("Connection: close")
        head = ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1")
        if self.command == "HEAD":
            data = b""
        if len(data) <= 65536:
            self.wfile.write(head + data)
        else:
            self.wfile.write(head)
            self.wfile.write(data)
        self._status = status
        self._size = len(data)

    def _base(self) -> str:
        """The scheme and authority presigned URLs point at: the request's Host, if well formed."""
        host = self.headers.get("Host", "")
        if not _HOST_RE.match(host):
            host = f"{self.server.server_address[0]!s}:{self.server.port}"
        return f"http://{host}"

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise ApiError(411, "chunked request bodies are not accepted; send a Content-Length")
        raw = self.headers.get("Content-Length")
        if raw is None:
            self._body_done = True
            return b""
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise bad_request(f"Content-Length {raw!r} is not a byte count") from None
        if length > self.server.max_body:
            self.close_connection = True  # the body stays unread: this connection cannot be reused
            raise ApiError(
                413, f"request body of {length} bytes is over this service's limit of {self.server.max_body} bytes"
            )
        data = self.rfile.read(length) if length else b""
        self._body_done = True
        if len(data) != length:
            self.close_connection = True
            raise bad_request(f"the request body ended after {len(data)} of {length} bytes")
        return data

    def _json(self, data: bytes, *, empty: Any = None) -> Any:
        if not data.strip():
            return empty
        try:
            return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            raise bad_request("request body is not UTF-8") from None
        except RecursionError:
            raise bad_request("request body is nested too deeply") from None
        except ValueError as exc:
            raise bad_request(f"request body is not JSON: {exc}") from None

    # -- dispatch ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _route(self, parts: tuple[str, ...]) -> tuple[Route, dict[str, str]]:
        test_mode = self.server.service.config.test_mode
        allowed: list[str] = []
        for route in ROUTES:
            if route.test_only and not test_mode:
                continue
            found = route.match(parts)
            if found is None:
                continue
            if route.method == self.command:
                return route, found
            allowed.append(route.method)
        if allowed:
            raise ApiError(405, f"{self.command} is not served here; this path takes {', '.join(sorted(set(allowed)))}")
        raise ApiError(404, f"no such endpoint: {self.command} {'/' + '/'.join(parts)}")

    def _dispatch(self) -> None:
        started = time.perf_counter()
        self._template = "?"
        self._status = 0
        self._size = 0
        self._body_done = False
        try:
            path, _, query = self.path.partition("?")
            if not path.startswith("/"):
                raise bad_request("the request target must be an absolute path")
            try:
                parts = tuple(unquote(p, errors="strict") for p in path.split("/")[1:])
            except UnicodeDecodeError:
                raise bad_request("the path is not UTF-8 once percent-decoded") from None
            self._template = "? " + _redacted(path)
            route, params = self._route(parts)
            self._template = route.template
            project = None
            if route.auth:
                project = self.server.service.project_of(
                    self.headers.get("Authorization"), self.headers.get("x-project-id")
                )
            body = self._read_body()
            getattr(self, f"_op_{route.handler}")(project, params, query, body)
        except ApiError as exc:
            self._send_refusal(exc)
        except MossError as exc:
            self._send_refusal(from_moss_error(exc))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a bug: log the traceback (it names no secret), answer 500
            self.server.log(f"error while serving {self.command} {self._template}:\n{traceback.format_exc()}")
            self._send_refusal(ApiError(500, "internal error while serving the request; see the service log", INTERNAL))
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            self.server.record_route(self.command, self._template, self._status)
            self.server.log(
                f"{self.client_address[0]} {self.command} {self._template} {self._status} {self._size}B {elapsed:.1f}ms"
            )

    def _send_refusal(self, exc: ApiError) -> None:
        pending = self.headers.get("Content-Length", "0").strip() not in ("", "0") or self.headers.get(
            "Transfer-Encoding"
        )
        if not getattr(self, "_body_done", False) and pending:
            self.close_connection = True  # an unread body would be taken for the next request
        try:
            self._answer(exc.status, exc.body())
        except OSError:
            self.close_connection = True

    # -- operations: each answers once -------------------------------------------------------------

    @property
    def _service(self) -> MossService:
        return self.server.service

    def _op_auth(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        self._answer(200, self._service.authenticate(self._json(body)))

    def _op_telemetry(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.telemetry(project, self._json(body, empty={})))

    def _op_push(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.push(project, self._json(body)))

    def _op_init(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.init_create(project, self._json(body), self._base()))

    def _op_model_artifact(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        raise ApiError(
            404,
            "moss-ref serve distributes no model artifacts: a real-SDK session cannot embed with a built-in model "
            "offline. Use model_id='custom' with your own embeddings, or create_index on the service (which embeds "
            "built-in models itself) and query with an explicit embedding.",
        )

    def _op_list_indexes(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.list_indexes(project))

    def _op_record(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.record(project, index_name(params["name"])))

    def _op_delete_index(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.delete_index(project, index_name(params["name"])))

    def _op_urls(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.urls(project, index_name(params["name"]), self._base()))

    def _op_get_docs(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.get_docs(project, index_name(params["name"]), _doc_ids(query)))

    def _op_add_docs(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.add_docs(project, index_name(params["name"]), self._json(body)))

    def _op_delete_docs(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.delete_docs(project, index_name(params["name"]), self._json(body)))

    def _op_confirm(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._json(body)  # {} by the SDK; anything else must still be JSON
        self._answer(200, self._service.confirm(project, params["jobId"]))

    def _op_job_status(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.job_status(project, params["jobId"]))

    def _op_save_job(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        assert project is not None
        self._answer(200, self._service.save_job(project, params["jobId"], self._json(body)))

    def _op_download(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        kind = self._template.rsplit("/", 1)[1]
        data = self._service.download(params["grant"], kind)
        self._answer(200, data, "application/json" if kind.endswith(".json") else "application/octet-stream")

    def _op_upload(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        self._answer(200, self._service.upload(params["grant"], body))

    def _op_manage(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        obj = self._json(body)
        action = obj.get("action") if isinstance(obj, dict) else None
        if not isinstance(action, str):
            raise bad_request("a /v1/manage request is a JSON object with a string 'action'")
        raise bad_request(
            f"unknown action {action!r}: moss-ref serve answers no /v1/manage action (web sources are not served)"
        )

    def _op_health(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        self._answer(200, {"status": "ok"})

    def _op_reset(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        self._answer(200, self._service.reset())

    def _op_stats(self, project: Optional[str], params: dict[str, str], query: str, body: bytes) -> None:
        self._answer(200, {**self._service.stats(), "requests": self.server.requests_served})


def _redacted(path: str) -> str:
    """An unmatched path for the log: long segments (possible secrets) elided, at most 120 characters."""
    shown = "/".join(p if len(p) <= 24 else p[:4] + "..." for p in path.split("/"))
    return shown[:120]


def _doc_ids(query: str) -> Optional[list[str]]:
    """``docIds=a,b%20c``: split the raw value on commas, then percent-decode each id."""
    ids: Optional[list[str]] = None
    for pair in query.split("&") if query else []:
        key, _, value = pair.partition("=")
        if unquote(key) != "docIds":
            continue
        ids = (ids or []) + [unquote(v.replace("+", " "), errors="strict") for v in value.split(",") if v]
    return ids


def make_server(
    service: MossService,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    log_stream: Optional[TextIO] = None,
    route_log: Optional[str] = None,
) -> ServiceServer:
    """A bound (not yet serving) server; ``port`` 0 picks a free one (``server.port``)."""
    return ServiceServer((host, port), service, max_body=max_body, log_stream=log_stream, route_log=route_log)


def serve_in_thread(server: ServiceServer) -> Callable[[], None]:
    """Serve in a daemon thread (tests of the HTTP layer alone); returns a stop function."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="moss-ref-serve", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    return stop
