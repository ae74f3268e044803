"""Members of the real SDK that the reference does not provide (R-API-2).

They exist, so code written for ``moss`` imports and type-checks unchanged, and they fail with
``MossError`` code ``INTERNAL`` saying the reference does not provide them. Checks the real SDK
makes before the network (C-8: at most 20 files, no custom model) still run first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn, Optional

from ._errors import MossError, internal


def _not_provided(what: str) -> MossError:
    return internal(
        f"{what} is not provided by moss_ref: it needs the Moss service (server-side parsing or crawling). "
        "The reference implements the session-index API; see CONFORMANCE.md (API rules)."
    )


class UnsupportedMixin:
    """Out-of-scope client methods (R-API-2). A closed client refuses them first (C-3)."""

    def _ensure_open(self) -> None:
        raise NotImplementedError  # provided by MossClient

    async def create_index_from_files(
        self,
        name: str,
        files: Sequence[Any],
        model_id: Optional[str] = None,
        parse_options: Optional[Any] = None,
    ) -> NoReturn:
        """C-8 checks, then ``INTERNAL``: server-side file parsing is out of scope."""
        self._ensure_open()
        if model_id == "custom":
            raise ValueError(
                "create_index_from_files does not support model_id='custom': files are embedded by a built-in model"
            )
        if len(files) > 20:
            raise _not_provided(f"create_index_from_files (and files must not exceed 20 (got {len(files)}))")
        raise _not_provided("create_index_from_files")

    async def create_web_source(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Web sources are crawled by the service: ``INTERNAL``."""
        self._ensure_open()
        raise _not_provided("create_web_source")


class MossInference:
    """Server-side inference is out of scope: constructing one raises ``INTERNAL`` (R-API-2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _not_provided("MossInference")
