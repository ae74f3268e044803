"""The plugin contracts: an embedder turns texts into vectors, a vector backend ranks vectors,
a keyword backend ranks documents by BM25.

Both are small on purpose (httpx transports, tinydb storages). The core — not each plugin —
validates what a plugin returns (chroma's lesson): an embedder's vectors are checked for length
and finiteness before they reach a session.

Exact ranking rule (R-V-1, see CONFORMANCE.md "similarity"): the query vector is normalised in
float64, rounded to float32, and the similarity of a stored float32 vector ``d`` is the correctly
rounded float64 value of the exact dot product ``sum(q32[i] * d[i])``. Each product of two float32
values is exact in float64, so ``math.fsum`` of the products gives that value on every backend and
in every language. Backends may shortlist with a faster, inexact kernel but must return exact
similarities and the exact order (s desc, id asc by code point).

Exact keyword rule (KW-1, see :mod:`moss_ref._keyword_rule`): the BM25 contribution of one query
token to one document is a float64 expression evaluated in one fixed order, and a document's
score is ``math.fsum`` of its contributions (repeated query tokens repeated). Keyword backends
may score candidates inexactly but must return exact scores and the order (bm25 desc, position
asc), so every backend returns the same list bit for bit.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class EmbedderFingerprint:
    """Identity of the vectors an embedder makes (R-M-3); stored with every index."""

    backend: str  # stable registry name, e.g. "hash-v1", "minilm-onnx"
    version: str  # bumps whenever the same text may embed differently
    dimension: int
    weights_sha256: str  # "" for weightless embedders

    def as_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "version": self.version,
            "dimension": self.dimension,
            "weights_sha256": self.weights_sha256,
        }


@runtime_checkable
class Embedder(Protocol):
    """Embeds texts for one model id.

    ``embed`` returns one vector of length ``dimension`` per text, L2-normalised, in input order.
    It must be deterministic: the same text gives the same vector in every process.
    Failures to load weights raise ``MossError`` code ``MODEL_UNAVAILABLE``.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def fingerprint(self) -> EmbedderFingerprint: ...

    def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...


@runtime_checkable
class VectorBackend(Protocol):
    """Stores one float32 vector per document id and ranks them exactly.

    The core guarantees: every vector given to ``put`` has the same length and finite
    components; ids are strings (``""`` included); ``query`` is already unit-length and float32-rounded.
    """

    name: str

    def __len__(self) -> int: ...

    def put(self, ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or replace the vectors of ``ids`` (the last one wins for a repeated id)."""

    def remove(self, ids: Iterable[str]) -> None:
        """Forget the vectors of ``ids``; unknown ids are ignored."""

    def clear(self) -> None:
        """Forget every vector."""

    def get(self, doc_id: str) -> list[float] | None:
        """The stored float32 components of ``doc_id`` as Python floats, or None."""

    def rank(self, query: Sequence[float], k: int, allowed: Collection[str] | None) -> list[tuple[str, float]]:
        """The ``k`` best ``(id, s)`` among ``allowed`` (all when None), by s desc then id asc."""

    def similarities(self, query: Sequence[float], ids: Iterable[str]) -> dict[str, float]:
        """Exact ``s`` for each of ``ids`` that has a vector."""


@runtime_checkable
class BulkVectors(Protocol):
    """Optional bulk methods of a vector backend (VEC-7; see :mod:`moss_ref._bulk` for the fallback)."""

    def export_rows(self, ids: Sequence[str]) -> array[float]:
        """The float32 rows of ``ids`` (all stored), concatenated in order, as ``array('f')``."""

    def load_rows(self, ids: Sequence[str], rows: array[float], dimension: int) -> None:
        """Fill an empty backend with ``len(ids)`` unique ids and their validated float32 rows."""


@runtime_checkable
class KeywordBackend(Protocol):
    """Indexes the tokens of each document id and ranks documents by BM25 exactly (KW-1..KW-5).

    The core tokenizes: a document or query arrives as its term ids (``moss_ref._bm25.term_ids``,
    the 32-bit hash of each stem, as the real SDK keys its index), so a backend only counts them. The core
    guarantees: ids are strings (``""`` included); ``position`` maps every indexed id to its place
    in the index. ``put`` on an empty backend is the bulk load used by resume, ``load_index`` and
    disk snapshots when the backend lacks :class:`BulkKeywords`' ``load_terms`` (or the stored
    index has no terms), so a backend should make a large batch cheap.
    """

    name: str

    def __len__(self) -> int: ...

    def put(self, ids: Sequence[str], tokens: Sequence[Sequence[int]]) -> None:
        """Index or re-index the term ids of ``ids`` (one token list per id; the last wins for a repeat)."""

    def remove(self, ids: Iterable[str]) -> None:
        """Forget ``ids``; unknown ids are ignored."""

    def clear(self) -> None:
        """Forget every document."""

    def rank(
        self, query: Sequence[int], k: int, position: Mapping[str, int], allowed: Collection[str] | None
    ) -> list[tuple[str, float]]:
        """The ``k`` best ``(id, bm25)`` among ``allowed`` (all when None) containing a query term.

        Scores and order are those of :func:`moss_ref._keyword_rule.exact_rank` (bm25 desc, then
        ``position[id]`` asc); ``query`` is the term-id list of the query text, repeats included.
        """


@runtime_checkable
class BulkKeywords(Protocol):
    """Optional bulk methods of a keyword backend (see :mod:`moss_ref._bulk` for the fallback).

    ``lengths`` and ``terms`` are ``array('I')``: ``lengths[i]`` term ids for ``ids[i]``, the
    term ids of all the ids concatenated in ``terms``, each id's in ascending order.
    """

    def export_terms(self, ids: Sequence[str]) -> tuple[array[int], array[int]] | None:
        """``(lengths, terms)`` of ``ids``; an id not indexed has length ``0xFFFFFFFF`` and no
        terms. None when the backend cannot (its tokens are not 32-bit term ids)."""

    def load_terms(self, ids: Sequence[str], lengths: array[int], terms: array[int]) -> None:
        """Fill an empty backend with ``len(ids)`` unique ids: ``put(ids, token lists)`` in one go."""


def exact_dot(query: Sequence[float], vector: Sequence[float]) -> float:
    """The correctly rounded dot product of two float32-valued vectors (see module docstring)."""
    return math.fsum(q * d for q, d in zip(query, vector))


def rank_key(item: tuple[str, float]) -> tuple[float, str]:
    """Sort key of the vector ranking: similarity descending, then id ascending by code point."""
    return (-item[1], item[0])
