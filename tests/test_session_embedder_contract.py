"""MOD-2: the core validates what an embedder returns, whatever plugin serves the model."""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import pytest
from helpers import builtin_session, client

from moss_ref import DocumentInfo, MossError, QueryOptions
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
        return list(self.result or [])


def _session_with(embedder: Broken):  # type: ignore[no-untyped-def]
    s = builtin_session()
    s.core._embedder = embedder  # the client would have created it through the registry
    return s


class _Raises:
    """A plugin's own number type whose conversion fails."""

    def __float__(self) -> float:
        raise ZeroDivisionError("bad item")


MALFORMED = [
    [],
    [[1.0, 0.0]],
    [[1.0, 0.0, float("nan")]],
    [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
    [[4e38, 0.0, 0.0]],  # finite in float64, infinite as float32
    [[0.0, -1e39, 0.0]],
    [["1", 0.0, 0.0]],
    [[None, 0.0, 0.0]],
    [(x for x in (1.0, 0.0, 0.0))],  # not sized
    [5],
    [{0: 1.0, 1: 0.0, 2: 0.0}],  # a mapping of three: its keys are not a vector
    [{1.0, 0.0, 2.0}],  # a set has no order
    [[_Raises(), 0.0, 0.0]],  # reading an item raises
]
MALFORMED_IDS = ["too-few", "wrong-length", "nan", "too-many", "beyond-float32", "beyond-float32-negative",
                 "a-string", "none", "not-sized", "not-a-sequence", "mapping", "set", "item-raises"]  # fmt: skip


@pytest.mark.parametrize("result", MALFORMED, ids=MALFORMED_IDS)
def test_malformed_embedder_output_is_internal(result: list[list[float]]) -> None:
    s = _session_with(Broken(result))
    with pytest.raises(MossError) as info:
        s.core.add_docs([DocumentInfo("a", "text")])
    assert info.value.code == "INTERNAL" and "broken" in str(info.value)
    assert s.doc_count == 0


@pytest.mark.parametrize("result", MALFORMED, ids=MALFORMED_IDS)
def test_malformed_embedder_output_for_a_text_query_is_internal(result: list[list[float]]) -> None:
    s = _session_with(Broken([[1.0, 0.0, 0.0]]))
    s.core.add_docs([DocumentInfo("a", "text")])
    s.core._embedder = Broken(result)
    with pytest.raises(MossError) as info:
        s.core.query("text", QueryOptions(alpha=0.5))
    assert info.value.code == "INTERNAL" and "broken" in str(info.value)


class Fixed(Broken):
    """An embedder of the session's own dimension that returns ``table[text]``, padded with zeros."""

    def __init__(self, dimension: int, table: dict[str, Sequence[object]]) -> None:
        super().__init__()
        self.dimension, self.table = dimension, table

    @property
    def fingerprint(self) -> EmbedderFingerprint:
        return EmbedderFingerprint("fixed", "1", self.dimension, "")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for t in texts:
            v = self.table[t]
            out.append(v if len(v) == self.dimension else [*v, *[0.0] * (self.dimension - len(v))])
        return out  # type: ignore[return-value]


def _fixed_session(table: dict[str, Sequence[object]]):  # type: ignore[no-untyped-def]
    s = builtin_session()
    s.core._embedder = Fixed(s.core._embedder.fingerprint.dimension, table)
    s.core.add_docs([DocumentInfo("a", "apple"), DocumentInfo("b", "banana")])
    return s


@pytest.mark.parametrize(
    "vector",
    [
        [Fraction(0), Fraction(1)],
        [Decimal(0), Decimal("0.5")],
        [False, True],
        (0.0, 1.0),
        array("d", [0.0, 2.0]),
        [0.0, 1e18],
    ],
    ids=["fraction", "decimal", "bool", "tuple", "array", "large"],
)
def test_an_embedder_may_return_any_sized_sequence_of_numbers(vector: Sequence[object]) -> None:
    """MOD-2: what a float32 cast takes is a number (as for a document's embedding, API-6)."""
    s = _fixed_session({"apple": [1.0, 0.0], "banana": [0.0, 1.0], "q": vector})
    assert [d.id for d in s.core.query("q", QueryOptions(alpha=1.0)).docs] == ["b", "a"]


def test_an_embedders_query_vector_is_divided_by_its_norm_once() -> None:
    """QRY-1: q32 = float32(q / |q|) with |q| in float64, from the embedder's float64 output as is. Here
    |q| is exactly 1.0 and q[0] a float32 midpoint, so another evaluation (rounding q to float32 first,
    or rescaling by its largest component) lands on the other float32 neighbour of the score."""
    s = _fixed_session({"apple": [1.0, 0.0], "banana": [0.0, 1.0], "q": [0.6131483018398285, 0.7899678220984286]})
    assert [d.score for d in s.core.query("q", QueryOptions(alpha=1.0)).docs] == [
        0.7899678349494934,
        0.6131483316421509,
    ]


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
