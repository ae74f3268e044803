"""Calling an embedder: the core, not each plugin, validates what comes back (MOD-2).

Every path that embeds text — ``add_docs``, text queries, and re-embedding a stored index on
resume or load (R-M-3) — goes through :func:`embed_checked`, so a plugin's failure surfaces the
same way everywhere: an exception is ``MODEL_UNAVAILABLE``, malformed output is ``INTERNAL``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._errors import MossError, internal, model_unavailable
from ._protocols import Embedder


def embed_checked(embedder: Embedder, texts: Sequence[str]) -> list[Sequence[float]]:
    """One finite vector of the embedder's dimension per text, in order, or a ``MossError``."""
    name = embedder.fingerprint.backend
    try:
        vectors = list(embedder.embed(list(texts)))
    except MossError:
        raise
    except Exception as exc:  # a plugin failure must not escape as a foreign exception (R-E-2)
        raise model_unavailable(f"embedder {name!r} failed: {exc!r}") from exc
    dimension = embedder.fingerprint.dimension
    if len(vectors) != len(texts) or any(len(v) != dimension or not all(math.isfinite(x) for x in v) for v in vectors):
        raise internal(
            f"embedder {name!r} returned malformed vectors (expected {len(texts)} finite vectors of length {dimension})"
        )
    return vectors
