"""Bulk export and import of vectors, for push, resume, ``load_index`` and disk snapshots (VEC-7).

A stored index keeps its vectors as one float32 block (``array('f')``, rows in document order).
Moving that block into or out of a vector backend one document at a time costs a Python call
and a list per row; a backend may instead implement the two optional bulk methods of
:class:`~moss_ref._protocols.BulkVectors`:

* ``export_rows(ids) -> array('f')``: the rows of ``ids``, concatenated in that order;
* ``load_rows(ids, rows, dimension)``: fill an *empty* backend with ``len(ids)`` rows of
  ``dimension`` components (validated, finite float32 values; ids unique).

:func:`export_rows` and :func:`load_rows` call them when present and fall back to the small
methods (``get`` per id, one ``put``) for third-party backends that implement only those, so every
backend gives the same contents either way.

The keyword index moves the same way (:class:`~moss_ref._protocols.BulkKeywords`): a stored
version keeps each document's term ids (``StoredTerms``: one length per document, then the ids),
so a resume loads them instead of tokenizing every text again. :func:`export_terms` asks the
backend for them (falling back to tokenizing the records), :func:`load_terms` hands them to an
empty backend (falling back to one ``put`` of token lists).
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Optional, Protocol

from ._errors import internal
from ._keyword_rule import NOT_INDEXED, documents_terms, is_blank_document
from ._protocols import KeywordBackend, VectorBackend


class Record(Protocol):
    """What the keyword helpers read of a record (``moss_ref._corpus.Record``)."""

    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def metadata(self) -> Optional[Mapping[str, str]]: ...


__all__ = ["collector_paused", "export_rows", "export_terms", "load_rows", "load_terms", "rows_of"]


def rows_of(vectors: Sequence[Sequence[float]]) -> array:  # type: ignore[type-arg]
    """Vectors as one float32 block, row after row."""
    out = array("f")
    for vector in vectors:
        out.extend(array("f", vector))
    return out


def export_rows(backend: VectorBackend, ids: Sequence[str]) -> array:  # type: ignore[type-arg]
    """The float32 rows of ``ids`` (every id must be stored), concatenated in order."""
    method = getattr(backend, "export_rows", None)
    if method is not None:
        out = method(ids)
        if not isinstance(out, array) or out.typecode != "f":
            raise internal(f"vector backend {backend.name!r}: export_rows must return array('f')")
        return out
    out = array("f")
    for doc_id in ids:
        vector = backend.get(doc_id)
        if vector is None:
            raise internal(f"vector backend {backend.name!r} has no vector for document {doc_id!r}")
        out.extend(vector)
    return out


def load_rows(backend: VectorBackend, ids: Sequence[str], rows: array, dimension: int) -> None:  # type: ignore[type-arg]
    """Fill the empty ``backend`` with ``len(ids)`` rows of ``dimension`` from ``rows``."""
    if len(rows) != len(ids) * dimension:
        raise internal(f"load_rows: {len(rows)} values for {len(ids)} rows of {dimension}")
    if not ids:
        return
    method = getattr(backend, "load_rows", None)
    if method is not None:
        method(ids, rows, dimension)
        return
    backend.put(ids, [rows[i * dimension : (i + 1) * dimension] for i in range(len(ids))])


def export_terms(backend: KeywordBackend, records: Sequence[Record]) -> tuple[array[int], array[int]]:
    """``(lengths, terms)`` of ``records`` as the keyword index holds them (see ``StoredTerms``)."""
    ids = [r.id for r in records]
    method = getattr(backend, "export_terms", None)
    out = None if method is None else method(ids)
    if out is not None:
        lengths, terms = out
        if not (isinstance(lengths, array) and isinstance(terms, array) and lengths.typecode == terms.typecode == "I"):
            raise internal(f"keyword backend {backend.name!r}: export_terms must return two array('I')")
        return lengths, terms
    lengths, terms = array("I"), array("I")
    indexed = [r for r in records if not is_blank_document(r.text, r.metadata)]
    found = iter(documents_terms((r.text, r.metadata) for r in indexed))
    for r in records:
        if is_blank_document(r.text, r.metadata):
            lengths.append(NOT_INDEXED)
            continue
        doc = sorted(next(found))
        lengths.append(len(doc))
        terms.extend(doc)
    return lengths, terms


def load_terms(backend: KeywordBackend, records: Sequence[Record], lengths: array[int], terms: array[int]) -> None:
    """Fill the empty ``backend`` with the indexed ``records`` and their term ids."""
    if len(lengths) != len(records):
        raise internal(f"load_terms: {len(lengths)} lengths for {len(records)} records")
    blank = lengths.count(NOT_INDEXED)
    if blank:
        kept = [(r.id, n) for r, n in zip(records, lengths) if n != NOT_INDEXED]
        ids = [doc_id for doc_id, _ in kept]
        lengths = array("I", [n for _, n in kept])
    else:
        ids = [r.id for r in records]
    if sum(lengths) != len(terms):
        raise internal(f"load_terms: lengths add up to {sum(lengths)}, not to the {len(terms)} terms")
    if not ids:
        return
    method = getattr(backend, "load_terms", None)
    if method is not None:
        method(ids, lengths, terms)
        return
    tokens = []
    start = 0
    for n in lengths:
        tokens.append(terms[start : start + n].tolist())
        start += n
    backend.put(ids, tokens)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a bulk load builds its indexes.

    Loading an index allocates millions of small objects (term lists, postings, records) and no
    reference cycles, so the collector's passes over them are pure overhead — about a fifth of a
    100,000-document resume. It is re-enabled afterwards only if it was enabled before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
