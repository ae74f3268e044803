"""R-E-1/R-E-2: for any input only documented exceptions escape, and a failed call changes nothing.

Hypothesis throws arbitrary documents, ids, options, filters and query vectors at a session.
Options are built with the constructors *and* by assigning junk to their attributes afterwards
(callers can do that), so the session's own validation is exercised, not only the constructors'.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from helpers import client, contents
from hypothesis import given
from hypothesis import strategies as st

from moss_ref import DocumentInfo, GetDocumentsOptions, MossError, MutationOptions, ParentGrouping, QueryOptions

#: The exceptions the API documents (E-1..E-6): MossError (and InvalidArgumentError), and the plain
#: ValueError/TypeError that the real SDK raises from document parsing and session checks.
DOCUMENTED = (MossError, ValueError, TypeError)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**400, -(10**400), Fraction(10**400, 3), Fraction(1, 3)]),  # beyond float range
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=4),
)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
keys = st.sampled_from(["field", "condition", "$and", "$or", "$eq", "$ne", "$gt", "$in", "$near", "$exists", "x"])
filters = st.recursive(
    st.dictionaries(keys, json_like, max_size=3),
    lambda inner: st.dictionaries(keys, st.one_of(inner, st.lists(inner, max_size=3)), max_size=3),
    max_leaves=6,
)
vectors = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=5),
    st.lists(st.integers(-3, 3), min_size=3, max_size=3),
    json_like,
)


@st.composite
def documents(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["info", "dict", "junk"]))
    if kind == "info":
        return DocumentInfo(
            draw(st.text(max_size=4)),
            draw(st.text(max_size=12)),
            draw(st.none() | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)),
            draw(st.none() | st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=4)),
            draw(st.none() | st.text(max_size=4)),
        )
    if kind == "dict":
        return draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": json_like,
                    "text": json_like,
                    "metadata": json_like,
                    "embedding": vectors,
                    "payload": json_like,
                },
            )
        )
    return draw(json_like)


def _with_junk(obj: Any, junk: dict[str, object]) -> Any:
    """``obj`` with each junk field set where the options accept it; a field they refuse when set
    (API-6: a TypeError or OverflowError right there, as moss raises it) keeps its value."""
    for name, value in junk.items():
        try:
            setattr(obj, name, value)
        except (TypeError, OverflowError, ValueError):
            pass
    return obj


query_options = st.one_of(
    st.none(),
    st.builds(
        _with_junk,
        st.builds(QueryOptions),
        st.fixed_dictionaries(
            {},
            optional={
                "embedding": vectors,
                "top_k": json_like,
                "alpha": st.one_of(st.floats(allow_nan=True), json_like),
                "filter": st.one_of(filters, json_like),
                "min_score": json_like,
                "candidate_depth": json_like,
                "group_by": st.one_of(json_like, st.builds(ParentGrouping, st.text(max_size=3), st.text(max_size=3))),
            },
        ),
    ),
    json_like,
)
get_options = st.one_of(
    st.none(),
    st.builds(
        _with_junk,
        st.builds(GetDocumentsOptions),
        st.fixed_dictionaries(
            {},
            optional={
                "doc_ids": st.one_of(st.none(), st.lists(st.text(max_size=3), max_size=4), json_like),
                "filter": st.one_of(st.none(), filters),
                "sort_by": st.one_of(st.none(), st.text(max_size=3), json_like),
                "ascending": st.one_of(st.none(), json_like),
            },
        ),
    ),
    json_like,
)
calls = st.one_of(
    st.tuples(
        st.just("add"),
        st.one_of(st.lists(documents(), max_size=4), json_like, st.text(max_size=30)),
        st.one_of(
            st.none(),
            st.builds(
                _with_junk, st.builds(MutationOptions), st.fixed_dictionaries({}, optional={"upsert": json_like})
            ),
            json_like,
        ),
    ),
    st.tuples(st.just("delete"), st.one_of(st.lists(st.text(max_size=3), max_size=3), json_like), st.none()),
    st.tuples(st.just("get"), get_options, st.none()),
    st.tuples(st.just("query"), st.one_of(st.text(max_size=12), json_like), query_options),
)


def _state(core: Any) -> tuple[int, list[tuple[Any, ...]]]:
    return core.doc_count, contents(core)


def _apply(core: Any, call: tuple[str, Any, Any]) -> None:
    name, a, b = call
    if name == "add":
        core.add_docs(a, b)
    elif name == "delete":
        core.delete_docs(a)
    elif name == "get":
        core.get_docs(a)
    else:
        core.query(a, b)


def _seeded(model_id: str) -> Any:
    session = client().session_sync("fuzz", model_id)
    vec = (lambda i: [1.0, float(i), 0.5]) if model_id == "custom" else (lambda i: None)
    session.core.add_docs(
        [DocumentInfo(f"d{i}", f"word{i} shared", {"n": str(i), "loc": "40.7,-73.9"}, vec(i)) for i in range(4)]
    )
    return session.core


@given(st.sampled_from(["custom", "moss-minilm"]), st.lists(calls, min_size=1, max_size=4))
def test_only_documented_exceptions_escape_and_failures_change_nothing(model_id: str, sequence: list[Any]) -> None:
    core = _seeded(model_id)
    for call in sequence:
        before = _state(core)
        try:
            _apply(core, call)
        except DOCUMENTED:
            assert _state(core) == before, f"failed call {call[0]} changed the session"
        # anything else propagates and fails the test
