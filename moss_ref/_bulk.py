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
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ._errors import internal
from ._protocols import VectorBackend

__all__ = ["collector_paused", "export_rows", "load_rows", "rows_of"]


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
