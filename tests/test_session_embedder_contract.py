"""MOD-2: the core validates what an embedder returns, whatever plugin serves the model."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from helpers import builtin_session, client

from moss_ref import DocumentInfo, MossError
from moss_ref._protocols import EmbedderFingerprint
from moss_ref.stores.memory import MemoryStore


class Broken:
    """An embedder that returns what ``result`` says, or raises ``error``."""

    def __init__(self, result: list[list[float]] | None = None, error: Exception | None = None) -> None:
        self.result, self.error = result, error

    @property
    def model_id(self) -> str:
        return "moss-minilm"

    @property
    def fingerprint(self) -> EmbedderFingerprint:
        return EmbedderFingerprint("broken", "1", 3, "")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.error is not None:
            raise self.error
        return self.result or []


def _session_with(embedder: Broken):  # type: ignore[no-untyped-def]
    s = builtin_session()
    s.core._embedder = embedder  # the client would have created it through the registry
    return s


@pytest.mark.parametrize(
    "result",
    [[], [[1.0, 0.0]], [[1.0, 0.0, float("nan")]], [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]],
    ids=["too-few", "wrong-length", "nan", "too-many"],
)
def test_malformed_embedder_output_is_internal(result: list[list[float]]) -> None:
    s = _session_with(Broken(result))
    with pytest.raises(MossError) as info:
        s.core.add_docs([DocumentInfo("a", "text")])
    assert info.value.code == "INTERNAL" and "broken" in str(info.value)
    assert s.doc_count == 0


def test_embedder_exception_is_model_unavailable() -> None:
    s = _session_with(Broken(error=KeyError("weights")))
    with pytest.raises(MossError) as info:
        s.core.add_docs([DocumentInfo("a", "text")])
    assert info.value.code == "MODEL_UNAVAILABLE" and s.doc_count == 0


@pytest.mark.parametrize(
    "broken, code",
    [(Broken(error=KeyError("weights")), "MODEL_UNAVAILABLE"), (Broken([[1.0, 0.0]]), "INTERNAL")],
    ids=["raises", "wrong-length"],
)
def test_re_embedding_on_resume_validates_the_embedder_too(broken: Broken, code: str) -> None:
    """R-M-3 re-embedding goes through the same checks as add_docs; nothing is half-loaded."""
    store = MemoryStore()
    first = client(store=store).session_sync("kb")
    first.core.add_docs([DocumentInfo("a", "text")])
    asyncio.run(first.push_index())
    other = client(store=store)
    other._embedders["moss-minilm"] = broken  # a different fingerprint than hash-v1's
    with pytest.raises(MossError) as info, pytest.warns(UserWarning, match="re-embedding"):
        other.session_sync("kb")
    assert info.value.code == code
    assert not other._sessions
