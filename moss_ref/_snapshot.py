"""Turning a session into a stored index and back (S-6, S-7, R-M-3, R-ST-4).

``snapshot`` copies a session's documents and vectors in id order under the session lock.
``contents_for`` checks a stored index against the embedder that will serve it: vectors made by a
different embedder for the same built-in model id are re-embedded from the stored texts, with a
warning (R-M-3); custom indexes are never re-embedded.
"""

from __future__ import annotations

import warnings
from array import array
from collections.abc import Sequence
from typing import Optional

from ._corpus import Record
from ._embedding import embed_checked
from ._protocols import Embedder
from ._session_core import SessionCore
from .stores.base import StoredIndex


class ReembeddingWarning(UserWarning):
    """Stored vectors came from another embedder and were recomputed locally (R-M-3)."""


def snapshot(core: SessionCore) -> StoredIndex:
    """A consistent copy of ``core`` (documents by ascending id, vectors in the same order)."""

    def take() -> StoredIndex:
        corpus = core.corpus
        records = tuple(
            Record(r.id, r.text, None if r.metadata is None else dict(r.metadata), r.payload)
            for r in sorted(corpus.records.values(), key=lambda r: r.id)
        )
        vectors = array("f")
        for record in records:
            vector = corpus.vectors.get(record.id)
            assert vector is not None
            vectors.extend(vector)
        return StoredIndex(core.name, core.model_id, core.fingerprint(), corpus.dimension, records, vectors)

    return core.locked(take)


def contents_for(stored: StoredIndex, embedder: Optional[Embedder]) -> tuple[list[Record], list[Sequence[float]]]:
    """Records and vectors of ``stored`` as ``embedder`` would have made them (R-M-3)."""
    records = list(stored.records)
    if embedder is None or stored.embedder == embedder.fingerprint:
        return records, stored.vector_list()
    warnings.warn(
        f"index {stored.name!r} was embedded by {stored.embedder.backend if stored.embedder else 'an unknown embedder'}"
        f" but this client embeds model {stored.model_id!r} with {embedder.fingerprint.backend!r}; "
        f"re-embedding {len(records)} stored texts locally",
        ReembeddingWarning,
        stacklevel=4,
    )
    vectors = embed_checked(embedder, [r.text for r in records]) if records else []
    return records, vectors
