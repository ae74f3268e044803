"""STRICT-1: strict mode is an explicit opt-in (keyword, else MOSS_REF_STRICT), off by default."""

from __future__ import annotations

import pytest

from moss_ref import MossClient
from moss_ref.stores.memory import MemoryStore


def test_strict_comes_from_the_keyword_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOSS_REF_STRICT", raising=False)
    assert MossClient("p", "k", store=MemoryStore()).strict is False
    monkeypatch.setenv("MOSS_REF_STRICT", "1")
    assert MossClient("p", "k", store=MemoryStore()).strict is True
    assert MossClient("p", "k", store=MemoryStore(), strict=False).strict is False
    monkeypatch.setenv("MOSS_REF_STRICT", "no")
    assert MossClient("p", "k", store=MemoryStore()).strict is False
    session = MossClient("p", "k", store=MemoryStore(), strict=True).session_sync("s", "custom")
    assert session.core.strict is True


def test_strict_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="strict must be a bool"):
        MossClient("p", "k", store=MemoryStore(), strict="yes")  # type: ignore[arg-type]
