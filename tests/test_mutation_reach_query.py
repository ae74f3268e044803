"""Query rules no language-neutral vector can reach (issue 11): each test fails on a mutant of
``moss_ref/_query.py`` that the vectors cannot kill, as listed under ``out_of_reach`` in
``mutation/equivalent.d/query.json``.

Why the vectors cannot: a vector's query embedding always goes through the ``QueryOptions``
constructor, which reads it as float32 (beyond-range values become infinite) and refuses
non-numbers, so what differs on a value assigned later is reached only from Python; the
explanation is a moss_ref extension; a score above 1 by one float32 step is inside the kit's
score tolerance. (An embedder's raw output: ``tests/test_session_embedder_contract.py``.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, overload

import pytest
from helpers import builtin_session, custom_session

from moss_ref import DocumentInfo, InvalidArgumentError, MossError, QueryOptions, SessionIndex


def _session() -> SessionIndex:
    s = custom_session("python")
    s.core.add_docs(
        [DocumentInfo("a", "apple", None, [1.0, 0.0, 0.0]), DocumentInfo("b", "banana", None, [0.0, 1.0, 0.0])]
    )
    return s


def _query(s: SessionIndex, embedding: object, alpha: float) -> list[str]:
    opts = QueryOptions(embedding=[1.0, 0.0, 0.0], alpha=alpha)
    opts.embedding = embedding  # type: ignore[assignment]  # read as float32 when set, as in the constructor (API-6)
    return [d.id for d in s.core.query("apple", opts).docs]


class _OnePass(Sequence[float]):
    """A sequence that can be iterated once (the check must read the caller's sequence once)."""

    def __init__(self, items: list[float]) -> None:
        self._items, self._used = items, False

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: int) -> float: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[float]: ...
    def __getitem__(self, i: Any) -> Any:
        return self._items[i]

    def __iter__(self) -> Iterator[float]:
        if self._used:
            return iter(())
        self._used = True
        return iter(self._items)


@pytest.mark.parametrize(
    "embedding",
    [
        [1e39, 0.0, 0.0],  # finite in float64, infinite as float32
        [1e39, 1e39, 1e39],  # every component out of range
        [4e38, 0.0, 0.0],  # between the float32 maximum and twice it
        [0.0, -4e38, 0.0],
    ],
)
def test_an_assigned_query_embedding_beyond_float32_is_refused(embedding: object) -> None:
    """QRY-2 on a value assigned to QueryOptions.embedding after construction, at alpha 0 too: read
    as float32 when set (API-6), a component beyond the float32 range is infinite, refused at query."""
    s = _session()
    with pytest.raises(InvalidArgumentError):
        _query(s, embedding, 0.0)


@pytest.mark.parametrize("embedding", [["1", 0.0, 0.0], 5, "abc", {0: 1.0}, iter([1.0, 0.0, 0.0])])
def test_an_assigned_query_embedding_of_other_types_raises_when_set(embedding: object) -> None:
    """API-6 (observed: moss 1.21.0): a string, a non-sequence or a string item is a TypeError at once."""
    opts = QueryOptions(embedding=[1.0, 0.0, 0.0])
    with pytest.raises(TypeError, match=r"QueryOptions\.embedding"):
        opts.embedding = embedding  # type: ignore[assignment]
    assert opts.embedding == [1.0, 0.0, 0.0]


def test_an_assigned_query_embedding_of_other_real_types_is_used() -> None:
    """Numbers of other types (bool, Fraction, Decimal) and any sequence (one read once too) are read
    as float32 (API-6, observed: moss 1.21.0)."""
    s = _session()
    assert _query(s, [Fraction(0), Fraction(1), Fraction(0)], 1.0) == ["b", "a"]
    assert _query(s, [False, True, False], 1.0) == ["b", "a"]
    assert _query(s, [Decimal(0), Decimal("0.5"), Decimal(0)], 1.0) == ["b", "a"]
    assert _query(s, _OnePass([0.0, 1.0, 0.0]), 1.0) == ["b", "a"]
    assert _query(s, (0.0, 1.0, 0.0), 1.0) == ["b", "a"]
    assert _query(s, [3.4028234663852886e38, 0.0, 0.0], 0.0) == ["a"]  # the float32 maximum itself
    assert _query(s, [3.402823466388e38, 0.0, 0.0], 0.0) == ["a"]  # just above it: rounds to it, as a cast does


def test_explain_shows_the_clamped_alpha() -> None:
    """QRY-4: alpha outside [0, 1] is clamped in the plan, as the explanation shows (EXPL-1)."""
    s = _session()
    assert s.core.explain_query("apple", QueryOptions(embedding=[1.0, 0.0, 0.0], alpha=1.5)).alpha == 1.0
    assert s.core.explain_query("apple", QueryOptions(embedding=[1.0, 0.0, 0.0], alpha=-0.5)).alpha == 0.0


def test_a_score_is_clamped_to_exactly_one() -> None:
    """QRY-1: the float32 cosine of a query parallel to its document rounds to 1.0000001 here; shown as 1.0."""
    v = [0.06617992371320724, 0.07978108525276184, 3.1559152603149414]
    s = custom_session("python")
    s.core.add_docs([DocumentInfo("a", "apple", None, v)])
    docs = s.core.query("", QueryOptions(embedding=v, alpha=1.0)).docs
    assert [d.score for d in docs] == [1.0]


class _ZeroEmbedder:
    """An embedder plugin that returns an all-zero vector: finite, so it passes the output check (MOD-2)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def model_id(self) -> str:
        return str(self.inner.model_id)

    @property
    def fingerprint(self) -> Any:
        return self.inner.fingerprint

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[0.0] * self.inner.fingerprint.dimension for _ in texts]


def test_a_zero_query_vector_from_the_embedder_is_refused() -> None:
    """QRY-2's norm check also covers the embedder's query vector: a MossError, never a ZeroDivisionError."""
    s = builtin_session("python")
    s.core.add_docs([DocumentInfo("a", "apple pie")])
    s.core._embedder = _ZeroEmbedder(s.core._embedder)
    with pytest.raises(MossError):
        s.core.query("apple", QueryOptions(alpha=0.5))
