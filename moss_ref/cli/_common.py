"""What the index-level subcommands share: where the indexes are, the client, one-line errors.

Rules (docs/rules/cli.md):

* CLI-1: the store is ``--service URL`` (a ``moss-ref serve``), else ``--store DIR`` (a
  directory or an ``http://`` URL), else ``MOSS_REF_STORE``, else the per-user data directory —
  the same resolution as ``MossClient(store=None)``; the project is ``--project``, else
  ``MOSS_PROJECT_ID``, else ``default``; its key ``--key``, else ``MOSS_PROJECT_KEY``, else
  ``moss-ref-local`` (a directory store registers a project's first key: trust on first use);
* CLI-2: a failure is one line on standard error, ``moss-ref COMMAND: what was wrong``, exit
  status 1; a usage error is one line too, exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import warnings
from collections.abc import Coroutine
from typing import Any, Optional, TextIO, TypeVar

from .._client import MossClient
from ..stores import STORE_ENV

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_PROJECT",
    "CliError",
    "UsageError",
    "add_target_arguments",
    "open_client",
    "run_async",
    "store_location",
]

DEFAULT_PROJECT = "default"
DEFAULT_KEY = "moss-ref-local"
T = TypeVar("T")


class CliError(Exception):
    """A failure reported as one line (exit status 1)."""

    status = 1


class UsageError(CliError):
    """Arguments that cannot work together (exit status 2)."""

    status = 2


def add_target_arguments(parser: argparse.ArgumentParser, *, embedder: bool = True) -> None:
    """``--store``, ``--service``, ``--project``, ``--key`` (CLI-1) and ``--embedder``."""
    group = parser.add_argument_group("where the indexes are (CLI-1)")
    group.add_argument(
        "--store",
        metavar="DIR",
        help=f"store directory or http:// URL (default: ${STORE_ENV}, else the per-user data directory)",
    )
    group.add_argument("--service", metavar="URL", help="a moss-ref serve service, e.g. http://127.0.0.1:7700")
    group.add_argument(
        "--project", metavar="ID", help=f"project id (default: $MOSS_PROJECT_ID, else {DEFAULT_PROJECT})"
    )
    group.add_argument("--key", metavar="KEY", help="project key (default: $MOSS_PROJECT_KEY, else moss-ref-local)")
    if embedder:
        group.add_argument(
            "--embedder", metavar="NAME", help="embedder for built-in models (default: $MOSS_REF_EMBEDDER, else auto)"
        )


def store_location(args: argparse.Namespace) -> Optional[str]:
    """CLI-1: ``--service``, else ``--store``, else None (``MOSS_REF_STORE`` or the default)."""
    if args.service and args.store:
        raise UsageError("pass --store or --service, not both")
    if args.service:
        if not str(args.service).startswith(("http://", "https://")):
            raise UsageError(f"--service must be an http:// URL; got {args.service!r}")
        return str(args.service)
    return None if not args.store else str(args.store)


def open_client(args: argparse.Namespace) -> MossClient:
    """A client on the store, project and key of CLI-1 (fallback warnings silenced: said once on stderr)."""
    project = args.project or os.environ.get("MOSS_PROJECT_ID") or DEFAULT_PROJECT
    key = args.key or os.environ.get("MOSS_PROJECT_KEY") or DEFAULT_KEY
    return MossClient(project, key, store=store_location(args), embedder=getattr(args, "embedder", None))


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion, with moss_ref's fallback warnings shown once as plain lines."""
    with warnings.catch_warnings():
        warnings.simplefilter("once")
        warnings.showwarning = _one_line_warning
        return asyncio.run(coroutine)


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Optional[TextIO] = None,
    line: Optional[str] = None,
) -> None:
    text = " ".join(str(message).split())
    print(f"moss-ref: warning: {text}", file=file or sys.stderr)
