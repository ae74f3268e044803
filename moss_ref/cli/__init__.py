"""``moss-ref``: the command line of moss_ref (``python -m moss_ref.cli`` is the same).

Subcommands::

    moss-ref index NAME INPUT...              # build or extend an index from files (resumable)
    moss-ref query NAME "text" [--explain]    # a table of results, or --json, or why each ranked
    moss-ref ls                               # indexes: documents, model, embedder, version, size
    moss-ref inspect NAME                     # one index in detail, and the health of its files
    moss-ref export NAME [-o FILE]            # the index as JSON Lines
    moss-ref import FILE [--name NAME]        # ... and back
    moss-ref serve [--host 127.0.0.1] [--port 7700] [--store DIR] [--allow-first-use]
    moss-ref projects add ID [--store DIR]    # prints the project's generated key, once
    moss-ref projects list [--store DIR]

Each subcommand is a :class:`~._command.Command` in a module of this package; :data:`COMMANDS`
lists them in help order. To add one, write a module with a ``COMMAND`` and append it here.

CLI-2: every ``--help`` ends with an example; a failure is one line on standard error naming what
was wrong (exit status 1), a usage error one line too (exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn, Optional

from .._errors import MossError
from ..stores.format import FormatError
from . import index, listing, projects, query, serve, transfer
from ._command import Command
from ._common import CliError

__all__ = ["COMMANDS", "Command", "build_parser", "main"]

#: Every subcommand of ``moss-ref``, in the order ``--help`` lists them.
COMMANDS: tuple[Command, ...] = (
    index.COMMAND,
    query.COMMAND,
    listing.LS,
    listing.INSPECT,
    transfer.EXPORT,
    transfer.IMPORT,
    serve.COMMAND,
    projects.COMMAND,
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (CLI-2, exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="moss-ref",
        description="moss_ref: the Moss reference implementation.",
        epilog="example: moss-ref index support docs.jsonl && moss-ref query support 'money back' --explain",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        child = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            epilog=command.epilog or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(child)
        child.set_defaults(run=command.run)
    return parser


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    where = f"moss-ref {args.command}"
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except CliError as exc:
        print(f"{where}: {_one_line(exc)}", file=sys.stderr)
        return exc.status
    except MossError as exc:
        detail = _one_line(exc.detail or "")
        message = _one_line(exc)
        print(f"{where}: {message}{'' if detail in message else ' ' + detail}", file=sys.stderr)
        return 1
    except (FormatError, OSError, ValueError, TypeError) as exc:
        print(f"{where}: {_one_line(exc) or type(exc).__name__}", file=sys.stderr)
        return 1
    except Exception as exc:  # CLI-2: never a traceback
        print(f"{where}: internal error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
