"""``moss-ref projects add ID`` / ``moss-ref projects list``: provision projects of a store.

``add`` generates a random key (256 bits), registers the project with only the key's salted slow
hash (STO-2), and prints the key on standard output, once: it cannot be shown again. An existing
project is left as it is (exit status 1).
"""

from __future__ import annotations

import argparse
import sys

from ..stores.directory import DirectoryStore
from ..stores.keys import new_key
from ._command import Command
from .serve import add_store_argument, store_directory

__all__ = ["COMMAND"]


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="provision a project and print its generated key (shown once)")
    add.add_argument("project_id", metavar="ID", help="the project id clients will send")
    add_store_argument(add)
    listing = sub.add_parser("list", help="list provisioned projects (ids only; keys are never stored)")
    add_store_argument(listing)


def _run(args: argparse.Namespace) -> int:
    store = DirectoryStore(store_directory(args.store))
    if args.action == "list":
        for project in store.list_projects():
            print(project)
        return 0
    key = new_key()
    if not store.register_project(args.project_id, key):
        print(
            f"moss-ref: project {args.project_id!r} already exists in {store.root}; its key cannot be shown again "
            "(only a salted hash of it is stored)",
            file=sys.stderr,
        )
        return 1
    print(key)
    print(
        f"moss-ref: project {args.project_id!r} added to {store.root}. The line above is its key; it is shown only "
        "now, store it where your app reads MOSS_PROJECT_KEY.",
        file=sys.stderr,
    )
    return 0


COMMAND = Command(
    "projects",
    "provision projects (moss-ref projects add ID) for moss-ref serve",
    _add_arguments,
    _run,
    epilog="""\
examples:
  moss-ref projects add my-app --store ./moss-data     # prints the generated key, once
  moss-ref projects list --store ./moss-data
""",
)
