"""``moss-ref serve``: run the local Moss service (see :mod:`moss_ref.server`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from ..server import DEFAULT_PORT, ServeOptions, run
from ..stores import STORE_ENV, default_store_path
from ._command import Command

__all__ = ["COMMAND", "add_store_argument", "store_directory"]


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="DIR",
        help=f"the store directory (default: ${STORE_ENV} if it names a directory, else {default_store_path()})",
    )


def store_directory(explicit: Optional[str]) -> str:
    """``--store``, else ``MOSS_REF_STORE`` when it is a directory path, else the per-user data directory."""
    if explicit:
        return explicit
    env = os.environ.get(STORE_ENV, "")
    if env and not env.startswith(("http://", "https://")):
        return env
    return default_store_path()


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    add_store_argument(parser)
    parser.add_argument(
        "--allow-first-use",
        action="store_true",
        help="register an unknown project with the first key it brings (default: only projects added with "
        "'moss-ref projects add' authenticate)",
    )
    parser.add_argument("--token-ttl", type=float, default=3600.0, metavar="SECONDS", help="token lifetime (3600)")
    parser.add_argument("--max-body-mb", type=float, default=256.0, metavar="MB", help="largest request body (256)")
    parser.add_argument("--embedder", help="embedder for built-in models (default: $MOSS_REF_EMBEDDER, else auto)")
    parser.add_argument("--vector-backend", help="vector backend (default: $MOSS_REF_VECTOR_BACKEND, else auto)")
    parser.add_argument("--quiet", action="store_true", help="no request log lines on standard error")
    parser.add_argument("--route-log", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--test-mode", action="store_true", help=argparse.SUPPRESS)


def options_from(args: argparse.Namespace) -> ServeOptions:
    return ServeOptions(
        host=args.host,
        port=args.port,
        store=store_directory(args.store),
        allow_first_use=args.allow_first_use,
        token_ttl=args.token_ttl,
        max_body=int(args.max_body_mb * (1 << 20)),
        embedder=args.embedder,
        vector_backend=args.vector_backend,
        quiet=args.quiet,
        route_log=args.route_log or os.environ.get("MOSS_REF_ROUTE_LOG") or None,
        test_mode=args.test_mode,
    )


def _run(args: argparse.Namespace) -> int:
    if args.store and args.store.startswith(("http://", "https://")):
        print("moss-ref serve: --store names the directory that holds the indexes, not a URL", file=sys.stderr)
        return 2
    return run(options_from(args))


COMMAND = Command(
    "serve",
    "run a local Moss service that the real moss SDK and moss_ref clients use offline",
    add_serve_arguments,
    _run,
    epilog="""\
examples:
  moss-ref serve --store ./moss-data                  # http://127.0.0.1:7700, loopback only
  moss-ref serve --store ./moss-data --port 0 --allow-first-use
then: export MOSS_AUTH_URL=http://127.0.0.1:7700/auth MOSS_INDEX_URL=http://127.0.0.1:7700/index
""",
)
