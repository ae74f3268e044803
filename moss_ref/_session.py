"""``SessionIndex``: the Moss-shaped async API, a thin facade over ``SessionCore`` (R-API-3).

Each coroutine runs its synchronous core call to completion without yielding, so concurrent
awaits on one event loop see each operation whole (R-C-1). Store-backed members
(``push_index``) go through the client's store.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Optional, Protocol

from ._explain import Explanation
from ._session_core import SessionCore
from ._types import (
    DocumentInfo,
    GetDocumentsOptions,
    MutationOptions,
    PushIndexResult,
    QueryOptions,
    SearchResult,
)


class SessionBacking(Protocol):
    """What a session needs from the client that opened it (the client's store, disk and bookkeeping)."""

    def push(self, core: SessionCore) -> PushIndexResult: ...

    def save_to_disk(self, core: SessionCore, cache_path: Optional[str]) -> str: ...

    def load_from_disk(self, core: SessionCore, cache_path: Optional[str]) -> int: ...

    def forget(self, session: SessionIndex) -> None: ...


class SessionIndex:
    """An in-memory index for a live conversation (S-11..S-37)."""

    def __init__(self, core: SessionCore, backing: SessionBacking) -> None:
        self._core = core
        self._backing = backing

    # properties (S-11..S-13): name and model_id stay readable after close (R-S-3)
    @property
    def name(self) -> str:
        return self._core.name

    @property
    def model_id(self) -> str:
        return self._core.model_id

    @property
    def doc_count(self) -> int:
        return self._core.doc_count

    @property
    def core(self) -> SessionCore:
        """The synchronous core (for the conformance driver and teaching material)."""
        return self._core

    async def add_docs(
        self,
        docs: object,
        options: Optional[MutationOptions] = None,
        *,
        chunker: Optional[Callable[[str], list[str]]] = None,
        chunking: object = None,
    ) -> tuple[int, int]:
        """Insert or update documents; returns ``(added, updated)`` (S-14)."""
        return self._core.add_docs(docs, options, chunker=chunker, chunking=chunking)

    async def delete_docs(self, doc_ids: list[str]) -> int:
        """Remove documents by id; returns how many were removed (S-22)."""
        return self._core.delete_docs(doc_ids)

    async def get_docs(self, options: Optional[GetDocumentsOptions] = None) -> list[DocumentInfo]:
        """Deterministic fetch by id and/or filter (S-23..S-26)."""
        return self._core.get_docs(options)

    async def query(self, query: str, options: Optional[QueryOptions] = None) -> SearchResult:
        """Hybrid search over the session (S-27..S-32)."""
        return self._core.query(query, options)

    async def explain_query(self, query: str, options: Optional[QueryOptions] = None) -> Explanation:
        """Why each result of ``query(query, options)`` ranked where it did (moss_ref extension, EXPL-1).

        The same validation and ranking as :meth:`query`; returns an :class:`~._explain.Explanation`
        whose hits are the query's results in the query's order, with the numbers ranking used.
        """
        return self._core.explain_query(query, options)

    async def push_index(self) -> PushIndexResult:
        """Publish the session to the store under its name (S-33, R-ST-5, R-ST-6)."""
        return self._backing.push(self._core)

    async def save_to_disk(self, cache_path: Optional[str] = None) -> str:
        """Write a crash-safe snapshot under ``<cache_path>/<name>/`` (S-35)."""
        return self._backing.save_to_disk(self._core, cache_path)

    async def load_from_disk(self, cache_path: Optional[str] = None, *, rebuild_legacy: bool = True) -> int:
        """Replace the session's documents and model with a snapshot (S-35)."""
        return self._backing.load_from_disk(self._core, cache_path)

    async def close(self) -> None:
        """Idempotent (S-36)."""
        self._close()

    def _close(self) -> None:
        self._core.close()
        self._backing.forget(self)

    def __enter__(self) -> SessionIndex:
        return self  # a closed session enters too (observed: moss 1.21.0); its calls then raise

    def __exit__(
        self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self._close()

    async def __aenter__(self) -> SessionIndex:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self._close()

    def __repr__(self) -> str:
        state = "closed" if self._core.closed else f"{self._core.doc_count} docs"
        return f"<SessionIndex {self.name!r} model_id={self.model_id!r} ({state})>"
