"""Calling an embedder: the core, not each plugin, validates what comes back (MOD-2).

Every path that embeds text — ``add_docs``, text queries, and re-embedding a stored index on
resume or load (R-M-3) — goes through :func:`embed_checked`, so a plugin's failure surfaces the
same way everywhere: an exception is ``MODEL_UNAVAILABLE``, malformed output is ``INTERNAL``
(not one sized sequence per text, of the embedder's dimension, of numbers finite as float32).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence, Set

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
    if len(vectors) != len(texts) or not all(_well_formed(v, dimension) for v in vectors):
        raise internal(
            f"embedder {name!r} returned malformed vectors (expected {len(texts)} sequences of {dimension} "
            "numbers, each finite as float32)"
        )
    return vectors


def _well_formed(vector: object, dimension: int) -> bool:
    """MOD-2: a sized sequence (not a str, bytes, mapping or set) of ``dimension`` numbers, each
    finite once cast to float32 (beyond the float32 range a cast gives infinity). Whatever reading
    it raises (a plugin's own item type, say) makes it malformed too."""
    if isinstance(vector, (str, bytes, Mapping, Set)):
        return False
    try:
        if len(vector) != dimension:  # type: ignore[arg-type]
            return False
        as32 = array("f", vector)  # type: ignore[call-overload]  # TypeError for a str or None item
    except Exception:  # a plugin's output must not raise through the core (R-E-2)
        return False
    return len(as32) == dimension and math.isfinite(sum(as32))
