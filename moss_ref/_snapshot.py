"""Turning a session into a stored index and back (S-6, S-7, R-M-3, R-ST-4).

``snapshot`` copies a session's documents and vectors under the session lock, in position order
(first insertion, QRY-6), so a resumed or loaded index breaks ties as the pushed session did.
``contents_for`` checks a stored index against the embedder that will serve it: vectors made by a
different embedder for the same built-in model id are re-embedded from the stored texts, with a
warning (R-M-3); custom indexes are never re-embedded.
"""

from __future__ import annotations

import warnings
from array import array
from typing import Optional

from ._bulk import export_rows, rows_of
from ._corpus import Record
from ._embedding import embed_checked
from ._keyword_rule import TERMS_VERSION
from ._protocols import Embedder
from ._session_core import SessionCore
from .stores.base import StoredIndex, StoredTerms


class ReembeddingWarning(UserWarning):
    """Stored vectors came from another embedder and were recomputed locally (R-M-3)."""


def snapshot(core: SessionCore) -> StoredIndex:
    """A consistent copy of ``core`` (documents in position order, vectors in the same order)."""

    def take() -> StoredIndex:
        # A corpus never changes a stored Record (put and remove replace them; readers get copies),
        # so the snapshot shares them; and ``records`` is in position order (see Corpus.position).
        corpus = core.corpus
        records = tuple(corpus.records.values())
        vectors = export_rows(corpus.vectors, [r.id for r in records])
        keywords = StoredTerms(TERMS_VERSION, *corpus.export_terms(records))
        return StoredIndex(
            core.name, core.model_id, core.fingerprint(), corpus.dimension, records, vectors, keywords=keywords
        )

    return core.locked(take)


def contents_for(
    stored: StoredIndex, embedder: Optional[Embedder]
) -> tuple[list[Record], array[float], Optional[int], Optional[tuple[array[int], array[int]]]]:
    """Records, float32 rows, dimension and keyword terms of ``stored`` as ``embedder`` would have
    made them (R-M-3). The terms are None unless stored by this tokenizer (``TERMS_VERSION``)."""
    records = list(stored.records)
    keywords = stored.keywords
    terms = None
    if keywords is not None and keywords.version == TERMS_VERSION and len(keywords.lengths) == len(records):
        terms = (keywords.lengths, keywords.terms)
    if embedder is None or stored.embedder == embedder.fingerprint:
        return records, stored.vectors, stored.dimension, terms
    warnings.warn(
        f"index {stored.name!r} was embedded by {stored.embedder.backend if stored.embedder else 'an unknown embedder'}"
        f" but this client embeds model {stored.model_id!r} with {embedder.fingerprint.backend!r}; "
        f"re-embedding {len(records)} stored texts locally",
        ReembeddingWarning,
        stacklevel=4,
    )
    vectors = embed_checked(embedder, [r.text for r in records]) if records else []
    return records, rows_of(vectors), embedder.fingerprint.dimension, terms
