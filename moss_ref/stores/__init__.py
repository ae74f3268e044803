"""Stores: what the real SDK calls the cloud, and where moss_ref keeps indexes and jobs.

=================  =============================================================================
``base``           the contract (``Store``) and what it stores (``StoredIndex``, ``IndexSummary``,
                   ``JobRecord``, ``IndexConflict``)
``memory``         ``MemoryStore``: in one process, for tests
``directory``      ``DirectoryStore``: the embedded default, a directory any process can share,
                   in the language-neutral on-disk ``format``; project keys hashed by ``keys``
``http``           ``HttpStore``: a ``moss-ref serve`` service, over the real SDK's wire protocol
=================  =============================================================================

:func:`resolve_store` picks one for a client (STO-1, R-ST-1): the ``store=`` keyword (a ``Store``,
a directory path or an ``http://`` URL), else ``MOSS_REF_STORE``, else the per-user data directory.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from .base import IndexConflict, IndexSummary, JobRecord, Store, StoredIndex
from .directory import DirectoryStore, default_store_path
from .http import HttpStore
from .memory import MemoryStore

__all__ = [
    "DirectoryStore",
    "HttpStore",
    "IndexConflict",
    "IndexSummary",
    "JobRecord",
    "MemoryStore",
    "Store",
    "StoreLike",
    "StoredIndex",
    "default_store_path",
    "resolve_store",
]

StoreLike = Union[Store, str, "os.PathLike[str]"]
STORE_ENV = "MOSS_REF_STORE"


def resolve_store(store: Optional[StoreLike]) -> Store:
    """R-ST-1: ``store=``, else ``MOSS_REF_STORE``, else the per-user data directory.

    A string starting with ``http://`` or ``https://`` names a ``moss-ref serve`` service.
    """
    if store is not None and not isinstance(store, (str, os.PathLike)):
        return store
    location = os.fspath(store if store is not None else os.environ.get(STORE_ENV) or default_store_path())
    if location.startswith(("http://", "https://")):
        return HttpStore(location)
    return DirectoryStore(location)
