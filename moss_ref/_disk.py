"""Session snapshots on local disk: ``save_to_disk`` / ``load_from_disk`` (S-35; rules STO-10, STO-11).

A snapshot is an index directory in the store format (``_format``) at
``<directory>/<path_component(name)>``, published with the same atomic pointer switch, so a
crash while saving leaves the previous snapshot loadable. Loading validates everything, adopts
the snapshot's model, re-embeds stored texts when another embedder made the vectors (R-M-3),
and swaps the session's contents only once the whole snapshot is known good.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Optional

from ._errors import DESERIALIZATION, MossError
from ._protocols import Embedder
from ._session_core import SessionCore
from ._snapshot import contents_for, snapshot
from .stores.format import IndexDirectory, child_path, guard

__all__ = ["load_session", "save_session", "snapshot_directory"]

CORRUPT = "The saved session snapshot is corrupt."
UNREADABLE = "The saved session snapshot could not be read or written."


def snapshot_directory(directory: str, name: str) -> IndexDirectory:
    return IndexDirectory(child_path(os.path.abspath(directory), name), name)


def save_session(core: SessionCore, directory: str) -> str:
    """Write the session as the current snapshot under ``directory``; returns the snapshot path."""
    image = snapshot(core)
    target = snapshot_directory(directory, core.name)
    with guard(CORRUPT):
        target.publish(image)
    return target.path


def load_session(core: SessionCore, directory: str, embedder_for: Callable[[str], Optional[Embedder]]) -> int:
    """Replace the session's documents and model with the snapshot; returns its doc count."""
    core.ensure_open()  # a closed session says so whatever is on disk (SES-7)
    source = snapshot_directory(directory, core.name)
    with guard(CORRUPT):
        stored = source.read()
    if stored is None:
        detail = f"no saved session snapshot for {core.name!r} under {directory}"
        raise MossError(f"{UNREADABLE} {detail}", DESERIALIZATION, detail)
    embedder = embedder_for(stored.model_id)
    core.replace_contents(stored.model_id, embedder, *contents_for(stored, embedder))
    return stored.doc_count
