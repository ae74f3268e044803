"""``moss-ref``: the command line of moss_ref (``python -m moss_ref.cli`` is the same).

Subcommands::

    moss-ref serve [--host 127.0.0.1] [--port 7700] [--store DIR] [--allow-first-use]
    moss-ref projects add ID [--store DIR]     # prints the project's generated key, once
    moss-ref projects list [--store DIR]

Each subcommand is a :class:`~._command.Command` in a module of this package; :data:`COMMANDS`
lists them in help order. To add one, write a module with a ``COMMAND`` and append it here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

from . import projects, serve
from ._command import Command

__all__ = ["COMMANDS", "Command", "build_parser", "main"]

#: Every subcommand of ``moss-ref``, in the order ``--help`` lists them.
COMMANDS: tuple[Command, ...] = (serve.COMMAND, projects.COMMAND)


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moss-ref", description="moss_ref: the Moss reference implementation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        child = sub.add_parser(command.name, help=command.help, description=command.description or command.help)
        command.add_arguments(child)
        child.set_defaults(run=command.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
