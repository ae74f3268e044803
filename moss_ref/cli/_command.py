"""One ``moss-ref`` subcommand: its name, help, arguments, what it runs and an example (``epilog``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Command"]


@dataclass(frozen=True)
class Command:
    """``run(args)`` returns the exit status; ``add_arguments(parser)`` declares the options.

    ``epilog`` ends ``moss-ref NAME --help``: at least one example command (CLI-2).
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""
    epilog: str = ""
