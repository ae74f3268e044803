"""Index-name validation (C-4), applied by ``session()`` too (R-S-1) and by every store call."""

from __future__ import annotations

import unicodedata

from ._errors import InvalidArgumentError

NAME_RULE = (
    'index name must not be blank, "." or "..", must not contain "/" or control characters, '
    "and must be at most 256 bytes"
)


def validate_index_name(name: object) -> str:
    """Return ``name`` if it is a valid index name, else raise ``InvalidArgumentError`` (C-4)."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"{NAME_RULE}; got {type(name).__name__}", detail=f"Validation error: {NAME_RULE}")
    bad = (
        not name.strip()
        or name in (".", "..")
        or "/" in name
        or any(unicodedata.category(c) == "Cc" for c in name)
        or len(name.encode("utf-8", "surrogatepass")) > 256
    )
    if bad:
        raise InvalidArgumentError(NAME_RULE, detail=f"Validation error: {NAME_RULE}: {name!r}")
    return name
