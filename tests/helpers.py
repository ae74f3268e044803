"""Small builders shared by the session tests."""

from __future__ import annotations

import contextlib
import math
import os
import select
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from moss_ref import DocumentInfo, MossClient
from moss_ref._session import SessionIndex
from moss_ref.stores.base import Store
from moss_ref.stores.directory import DirectoryStore
from moss_ref.stores.http import HttpStore
from moss_ref.stores.memory import MemoryStore

#: The stores every store-backed behaviour is checked on: the HTTP one is a moss-ref serve service.
STORE_KINDS = ["memory", "directory", "http"]


def client(
    vector_backend: str = "python",
    embedder: str = "hash-v1",
    store: object | None = None,
    keyword_backend: str | None = None,
) -> MossClient:
    """A client on a memory store; ``keyword_backend`` None reads ``MOSS_REF_KEYWORD_BACKEND`` (set by the
    ``keyword_backend`` fixture), else auto."""
    return MossClient(
        "proj",
        "key",
        store=store if store is not None else MemoryStore(),
        embedder=embedder,
        vector_backend=vector_backend,
        keyword_backend=keyword_backend,
    )


@contextlib.contextmanager
def serving(backing: Any, *, max_body: int = 256 << 20, log_stream: Any = None, **config: Any) -> Iterator[str]:
    """A service over ``backing`` in a thread of this process (never with the real SDK here); its URL."""
    from moss_ref.server import MossService, ServiceConfig, make_server, serve_in_thread

    server = make_server(MossService(backing, ServiceConfig(**config)), max_body=max_body, log_stream=log_stream)
    stop = serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        stop()


@contextlib.contextmanager
def store_of_kind(kind: str, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of ``kind`` (one of :data:`STORE_KINDS`); the http one serves a directory store."""
    if kind == "memory":
        yield MemoryStore()
    elif kind == "directory":
        yield DirectoryStore(str(tmp_path / "store"))
    else:
        with serving(DirectoryStore(str(tmp_path / "store")), allow_first_use=True) as url:
            store = HttpStore(url)
            try:
                yield store
            finally:
                store.close()


def custom_session(vector_backend: str = "python", name: str = "idx") -> SessionIndex:
    return client(vector_backend).session_sync(name, "custom")


def builtin_session(vector_backend: str = "python", name: str = "idx") -> SessionIndex:
    return client(vector_backend).session_sync(name)


# X-1 (MOSS-BEHAVIOUR §11): the filter fixture, 4-dim custom vectors.
X1 = [
    DocumentInfo("1", "coffee shop in NYC", {"city": "NYC", "price": "12", "category": "food"}, [1, 0, 0, 0]),
    DocumentInfo("2", "sushi bar in Tokyo", {"city": "Tokyo", "price": "45", "category": "food"}, [0, 1, 0, 0]),
    DocumentInfo("3", "tech meetup in NYC", {"city": "NYC", "price": "0", "category": "tech"}, [0, 0, 1, 0]),
    DocumentInfo("4", "museum in Paris", {"city": "Paris", "price": "20", "category": "culture"}, [0, 0, 0, 1]),
    DocumentInfo("5", "street food in Tokyo", {"city": "Tokyo", "price": "8", "category": "food"}, [0.5, 0.5, 0, 0]),
    DocumentInfo("6", "no metadata doc", None, [0.1, 0.1, 0.1, 0.1]),
]

# the geo fixture.
X2 = [
    DocumentInfo("ts", "times square", {"location": "40.7580,-73.9855"}, [1, 0, 0, 0]),
    DocumentInfo("sol", "statue of liberty", {"location": "40.6892,-74.0445"}, [0, 1, 0, 0]),
    DocumentInfo("par", "paris", {"location": "48.8566,2.3522"}, [0, 0, 1, 0]),
    DocumentInfo("nol", "no location", {"city": "NYC"}, [0, 0, 0, 1]),
]


def x3_docs() -> list[DocumentInfo]:
    """X-3: the hybrid fixture: unit vectors whose first component is their cosine to axis 0."""
    spec = [
        ("emb1", 1.0, "noise text", "keep"),
        ("emb2", 0.9, "noise text", "keep"),
        ("cross", 0.8, " ".join(["focusterm"] * 3), "keep"),
        ("kw1", 0.1, " ".join(["focusterm"] * 5), "keep"),
        ("kw2", 0.05, " ".join(["focusterm"] * 4), "keep"),
        ("drop", 0.01, "irrelevant text", "drop"),
    ]
    return [DocumentInfo(i, t, {"group": g}, [w, math.sqrt(1 - w * w), 0, 0]) for i, w, t, g in spec]


def contents(session: object) -> list[tuple[object, ...]]:
    """What a session holds: (id, text, metadata, payload, stored vector) per document, id order.

    ``get_docs`` returns no embeddings (DOC-13) and documents compare by identity (T-rules), so
    tests compare sessions through this instead.
    """
    core = getattr(session, "core", session)
    vectors = core.corpus.vectors  # type: ignore[attr-defined]
    return [(d.id, d.text, d.metadata, d.payload, vectors.get(d.id)) for d in core.get_docs()]  # type: ignore[attr-defined]


def check_in_forked_child(check: Callable[[], bool], held: threading.Lock) -> bool:
    """Fork while ``held`` is held (as if another thread held it at the fork), release it in the
    parent, and run ``check`` in the child: True when it returned True there. A child that hangs
    (say on the copied lock) is killed after 30 s and counts as False."""
    held.acquire()
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns of fork() in a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: it has none of the parent's threads
        try:
            os.write(write, b"1" if check() else b"0")
        finally:
            os._exit(0)
    held.release()
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        answer = os.read(read, 1) if ready else b"hung"
    finally:
        os.close(read)
        if answer == b"hung":
            os.kill(pid, 9)
        os.waitpid(pid, 0)
    return answer == b"1"
