"""The public contract for plugin authors: everything needed to write an embedder, a vector
backend, a keyword backend or a store, in one import. See docs/extending.md.

    from moss_ref.plugins import Embedder, EmbedderFingerprint, VectorBackend, exact_dot, rank_key

The names here are stable; the underscore modules they come from are not.
"""

from ._corpus import Record
from ._errors import (
    DESERIALIZATION,
    INTERNAL,
    INVALID_ARGUMENT,
    MODEL_UNAVAILABLE,
    InvalidArgumentError,
    MossError,
    invalid,
    model_unavailable,
)
from ._keyword_rule import FLOAT32_UNIT, exact_rank, idf, length_norm, shortlist_floor, weight
from ._protocols import Embedder, EmbedderFingerprint, KeywordBackend, VectorBackend, exact_dot, rank_key
from ._registry import (
    EmbedderFallbackWarning,
    create_embedder,
    create_keyword_backend,
    create_vector_backend,
    embedder_names,
    keyword_backend_names,
    missing_extra,
    vector_backend_names,
)
from ._snapshot import ReembeddingWarning
from .stores.base import IndexConflict, IndexSummary, JobRecord, Store, StoredIndex
from .stores.directory import DirectoryStore
from .stores.memory import MemoryStore

__all__ = [
    "DESERIALIZATION",
    "FLOAT32_UNIT",
    "INTERNAL",
    "INVALID_ARGUMENT",
    "MODEL_UNAVAILABLE",
    "DirectoryStore",
    "Embedder",
    "EmbedderFallbackWarning",
    "EmbedderFingerprint",
    "IndexConflict",
    "IndexSummary",
    "InvalidArgumentError",
    "KeywordBackend",
    "JobRecord",
    "MemoryStore",
    "MossError",
    "Record",
    "ReembeddingWarning",
    "Store",
    "StoredIndex",
    "VectorBackend",
    "create_embedder",
    "create_keyword_backend",
    "create_vector_backend",
    "embedder_names",
    "exact_dot",
    "exact_rank",
    "idf",
    "keyword_backend_names",
    "length_norm",
    "invalid",
    "missing_extra",
    "model_unavailable",
    "rank_key",
    "shortlist_floor",
    "weight",
    "vector_backend_names",
]
