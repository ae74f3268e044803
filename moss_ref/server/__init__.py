"""``moss-ref serve``: a local Moss service speaking the real SDK's wire protocol (docs/wire-protocol.md).

Point an unmodified ``moss`` app at it with ``MOSS_AUTH_URL=http://127.0.0.1:PORT/auth`` and
``MOSS_INDEX_URL=http://127.0.0.1:PORT/index``; point moss_ref clients at it with
``MOSS_REF_STORE=http://127.0.0.1:PORT``. Indexes live in a moss_ref store directory. Standard
library only. Rules SRV-* (docs/rules/service.md).

=============  ==================================================================================
``service``    what each request does (:class:`MossService`), independent of HTTP
``app``        HTTP: routes, body limits, JSON answers and refusals, log lines (:func:`make_server`)
``tokens``     random, expiring tokens and presigned-URL grants, kept as SHA-256 digests
=============  ==================================================================================
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import sys
from dataclasses import dataclass
from types import FrameType
from typing import Optional, TextIO

from ..stores.directory import DirectoryStore, default_store_path
from .app import DEFAULT_MAX_BODY, ROUTES, Route, ServiceServer, make_server, serve_in_thread
from .service import ApiError, MossService, ServiceConfig

__all__ = [
    "DEFAULT_PORT",
    "ROUTES",
    "ApiError",
    "MossService",
    "Route",
    "ServeOptions",
    "ServiceConfig",
    "ServiceServer",
    "build",
    "make_server",
    "run",
    "serve_in_thread",
]

DEFAULT_PORT = 7700


@dataclass(frozen=True)
class ServeOptions:
    """The ``moss-ref serve`` command line as values."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    store: str = ""
    allow_first_use: bool = False
    token_ttl: float = 3600.0
    max_body: int = DEFAULT_MAX_BODY
    embedder: Optional[str] = None
    vector_backend: Optional[str] = None
    quiet: bool = False
    route_log: Optional[str] = None
    test_mode: bool = False


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def build(options: ServeOptions, log_stream: Optional[TextIO] = None) -> ServiceServer:
    """The bound server for ``options`` (not yet serving)."""
    store = DirectoryStore(options.store or default_store_path())
    config = ServiceConfig(
        allow_first_use=options.allow_first_use,
        token_ttl=options.token_ttl,
        embedder=options.embedder,
        vector_backend=options.vector_backend,
        test_mode=options.test_mode,
    )
    stream = None if options.quiet else log_stream

    def log(line: str) -> None:
        if stream is not None:
            print(line, file=stream, flush=True)

    service = MossService(store, config, log=log)
    return make_server(
        service, options.host, options.port, max_body=options.max_body, log_stream=stream, route_log=options.route_log
    )


def _banner(server: ServiceServer, options: ServeOptions) -> str:
    host = options.host if ":" not in options.host else f"[{options.host}]"
    base = f"http://{host}:{server.port}"
    projects = (
        "a project's first key registers it (--allow-first-use)"
        if options.allow_first_use
        else f"only provisioned projects: moss-ref projects add ID --store {options.store}"
    )
    return "\n".join(
        [
            f"moss-ref serve: listening on {base}",
            f"  store     {options.store}",
            f"  projects  {projects}",
            "point the real moss SDK at it:",
            f"  export MOSS_AUTH_URL={base}/auth",
            f"  export MOSS_INDEX_URL={base}/index",
            f"point moss_ref clients at it:  export MOSS_REF_STORE={base}",
        ]
    )


def run(options: ServeOptions) -> int:
    """Serve until SIGINT or SIGTERM; the first stdout line names the address (with the real port)."""
    if not is_loopback(options.host):
        print(
            f"moss-ref serve: warning: {options.host} is not a loopback address; anyone who can reach it can try "
            "keys, and tokens travel unencrypted (no TLS). Bind 127.0.0.1 unless you mean it.",
            file=sys.stderr,
        )
    server = build(options, log_stream=sys.stderr)

    def stop(signum: int, frame: Optional[FrameType]) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        # the banner is printed inside the try: a caller that signals as soon as it reads the
        # banner must find the interrupt handled (a clean exit 0), not racing ahead of it
        print(_banner(server, options), flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
