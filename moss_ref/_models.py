"""Model ids (R-M-1, M-1, S-2, S-4) and their dimensions (M-2)."""

from __future__ import annotations

from typing import Final, Optional

from ._errors import request_invalid

DEFAULT_MODEL_ID: Final = "moss-minilm"
CUSTOM: Final = "custom"
BUILTIN_MODEL_IDS: Final = ("moss-minilm", "moss-mediumlm", "moss-litelm")
MODEL_IDS: Final = (*BUILTIN_MODEL_IDS, CUSTOM)

#: Every built-in model embeds into 384 dimensions (M-2; mediumlm is a reference choice).
BUILTIN_DIMENSION: Final = 384


def resolve_model_id(model_id: Optional[str]) -> str:
    """``model_id or "moss-minilm"`` (S-2), rejecting unknown ids with the real SDK's message (S-4)."""
    if model_id is not None and not isinstance(model_id, str):
        raise request_invalid(
            f"Invalid model_id {model_id!r}: expected a str. Expected 'moss-minilm', 'moss-mediumlm', "
            "'moss-litelm', or 'custom'."
        )
    resolved = model_id or DEFAULT_MODEL_ID
    if resolved not in MODEL_IDS:
        raise request_invalid(
            f"Invalid model_id '{resolved}'. Expected 'moss-minilm', 'moss-mediumlm', 'moss-litelm', or 'custom'."
        )
    return resolved
