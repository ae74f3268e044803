"""Metadata filters (moss_ref._filters): rules FLT-1.. in docs/rules/filters.md.

The property tests compare the compiled filters against ``naive_matches`` below, a deliberately
separate evaluator: direct recursion over the raw filter, ``fractions.Fraction`` for numbers, a
hand-written character scanner for the number grammars, and the atan2 form of the haversine.
"""

from __future__ import annotations

import enum
import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Optional

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from moss_ref._errors import InvalidArgumentError
from moss_ref._filter_values import range_number
from moss_ref._filters import (
    MAX_DEPTH,
    OPERATORS,
    PRECEDENCE,
    Filter,
    compile_filter,
    filter_value_text,
)


def cond(field: str, op: str, value: object) -> dict[str, Any]:
    return {"field": field, "condition": {op: value}}


def matching(flt: object, docs: Mapping[str, Optional[Mapping[str, str]]]) -> set[str]:
    compiled = compile_filter(flt)
    return {doc_id for doc_id, metadata in docs.items() if compiled.matches(metadata)}


# ------------------------------------------------------------------------------------------
# fixtures, pinned exactly
# ------------------------------------------------------------------------------------------

X1_DOCS: dict[str, Optional[dict[str, str]]] = {
    "1": {"city": "NYC", "price": "12", "category": "food"},
    "2": {"city": "Tokyo", "price": "45", "category": "food"},
    "3": {"city": "NYC", "price": "0", "category": "tech"},
    "4": {"city": "Paris", "price": "20", "category": "culture"},
    "5": {"city": "Tokyo", "price": "8", "category": "food"},
    "6": None,
}

X1_CASES = [
    ("city-eq-NYC", cond("city", "$eq", "NYC"), {"1", "3"}),
    ("city-ne-NYC", cond("city", "$ne", "NYC"), {"2", "4", "5"}),
    ("price-gt-str-10", cond("price", "$gt", "10"), {"1", "2", "4"}),
    ("price-gt-int-10", cond("price", "$gt", 10), {"1", "2", "4"}),
    ("price-gt-float-10.0", cond("price", "$gt", 10.0), {"1", "2", "4"}),
    ("price-lt-15", cond("price", "$lt", "15"), {"1", "3", "5"}),
    ("price-gte-20", cond("price", "$gte", "20"), {"2", "4"}),
    ("price-lte-8", cond("price", "$lte", "8"), {"3", "5"}),
    ("city-in-NYC-Paris", cond("city", "$in", ["NYC", "Paris"]), {"1", "3", "4"}),
    ("price-in-12-20", cond("price", "$in", [12, 20]), {"1", "4"}),
    ("city-nin-NYC", cond("city", "$nin", ["NYC"]), {"2", "4", "5"}),
    ("and-NYC-food", {"$and": [cond("city", "$eq", "NYC"), cond("category", "$eq", "food")]}, {"1"}),
    ("or-Paris-tech", {"$or": [cond("city", "$eq", "Paris"), cond("category", "$eq", "tech")]}, {"3", "4"}),
    (
        "and-or-nested",
        {
            "$and": [
                {"$or": [cond("city", "$eq", "NYC"), cond("city", "$eq", "Tokyo")]},
                cond("category", "$eq", "food"),
            ]
        },
        {"1", "2", "5"},
    ),
    ("city-eq-Berlin", cond("city", "$eq", "Berlin"), set()),
    ("city-ne-nonexistent", cond("city", "$ne", "nonexistent"), {"1", "2", "3", "4", "5"}),
]


@pytest.mark.parametrize(("flt", "expected"), [c[1:] for c in X1_CASES], ids=[c[0] for c in X1_CASES])
def test_x1_fixture(flt: object, expected: set[str]) -> None:
    assert matching(flt, X1_DOCS) == expected


X2_DOCS: dict[str, Optional[dict[str, str]]] = {
    "ts": {"location": "40.7580,-73.9855"},
    "sol": {"location": "40.6892,-74.0445"},
    "par": {"location": "48.8566,2.3522"},
    "nol": {"city": "NYC"},
}


@pytest.mark.parametrize(
    ("near", "expected"),
    [
        ("40.7580,-73.9855,10000", {"ts", "sol"}),
        ("40.7580,-73.9855,5000", {"ts"}),
        ("40.7580,-73.9855,100000", {"ts", "sol"}),
        ("40.7580,-73.9855,10000000", {"par", "sol", "ts"}),
    ],
)
def test_x2_geo_fixture(near: str, expected: set[str]) -> None:
    assert matching(cond("location", "$near", near), X2_DOCS) == expected


# ------------------------------------------------------------------------------------------
# Rejections: every one an InvalidArgumentError whose message starts with the clause's path
# ------------------------------------------------------------------------------------------

OK = cond("a", "$eq", "x")


def _nested(depth: int, inner: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    flt: dict[str, Any] = OK if inner is None else inner
    for _ in range(depth):
        flt = {"$and": [flt]}
    return flt


REJECTIONS: list[tuple[str, object, str, str, bool]] = [
    # (id, filter, path of the bad clause, phrase the message must contain, also a TypeError as in moss)
    ("not-a-dict-list", [OK], "filter", "MetadataFilter must be a dict", True),
    ("not-a-dict-none", None, "filter", "MetadataFilter must be a dict", True),
    ("not-a-dict-str", "city = NYC", "filter", "MetadataFilter must be a dict", True),
    ("not-a-dict-mapping", MappingProxyType(OK), "filter", "MetadataFilter must be a dict", True),
    ("and-tuple", {"$and": (OK,)}, "filter.$and", "$and value must be a list", True),
    ("or-dict", {"$or": OK}, "filter.$or", "$or value must be a list", True),
    ("and-none-beside-field", {"$and": None, **OK}, "filter.$and", "$and value must be a list", True),
    ("child-not-dict", {"$or": [OK, "x"]}, "filter.$or[1]", "MetadataFilter must be a dict", True),
    ("no-field", {"condition": {"$eq": "x"}}, "filter", "Filter dict must contain 'field' and 'condition'", False),
    ("empty-dict", {}, "filter", "Filter dict must contain 'field' and 'condition', or '$and'/'$or'", False),
    ("no-condition", {"field": "a"}, "filter", "Filter dict must contain 'condition' key", False),
    ("field-int-no-condition", {"field": 3}, "filter.field", "field must be a str", True),
    ("condition-not-dict", {"field": "a", "condition": "x"}, "filter.condition", "'condition' must be a dict", True),
    (
        "condition-list",
        {"field": "a", "condition": [("$eq", "x")]},
        "filter.condition",
        "'condition' must be a dict",
        True,
    ),
    ("condition-none", {"field": "a", "condition": None}, "filter.condition", "'condition' must be a dict", True),
    (
        "condition-empty",
        {"field": "a", "condition": {}},
        "filter.condition",
        "Filter condition must contain one of",
        False,
    ),
    ("op-exists", cond("a", "$exists", True), "filter.condition", "must contain one of", False),
    ("op-not", cond("a", "$not", {"$eq": "x"}), "filter.condition", "'$not'", False),
    ("op-no-dollar", cond("a", "eq", "x"), "filter.condition", "'eq'", False),
    ("none-value", cond("a", "$eq", None), "filter.condition.$eq", "Filter value must be a str, int, or float", True),
    ("chosen-op-bad", {"field": "a", "condition": {"$eq": None, "$zz": 1}}, "filter.condition.$eq", "str, int", True),
    ("list-value-eq", cond("a", "$eq", ["x"]), "filter.condition.$eq", "must be a str, int, or float", True),
    ("bytes-value", cond("a", "$eq", b"x"), "filter.condition.$eq", "must be a str, int, or float", True),
    ("complex-value", cond("a", "$gt", 1j), "filter.condition.$gt", "must be a str, int, or float", True),
    ("dict-in-list", cond("a", "$in", [{"x": 1}]), "filter.condition.$in[0]", "must be a str, int, or float", True),
    ("none-in-list", cond("a", "$nin", ["x", None]), "filter.condition.$nin[1]", "must be a str, int, or float", True),
    ("in-tuple", cond("a", "$in", ("x", "y")), "filter.condition.$in", "$in/$nin value must be a list", True),
    ("nin-str", cond("a", "$nin", "x"), "filter.condition.$nin", "$in/$nin value must be a list", True),
    ("field-int", {"field": 1, "condition": {"$eq": "x"}}, "filter.field", "field must be a str", True),
    ("field-none", {"field": None, "condition": {"$eq": "x"}}, "filter.field", "field must be a str", True),
    ("near-two-numbers", cond("l", "$near", "40.7,-73.9"), "filter.condition.$near", "invalid $near value", False),
    ("near-four-numbers", cond("l", "$near", "1,2,3,4"), "filter.condition.$near", "invalid $near value", False),
    ("near-words", cond("l", "$near", "a,b,c"), "filter.condition.$near", "invalid $near value", False),
    ("near-negative", cond("l", "$near", "40,-73,-1"), "filter.condition.$near", "distance of 0 or more", False),
    ("near-inf", cond("l", "$near", "0,0,inf"), "filter.condition.$near", "three finite numbers", False),
    ("near-nan", cond("l", "$near", "0,0,nan"), "filter.condition.$near", "three finite numbers", False),
    ("near-overflow", cond("l", "$near", "0,0,1e999"), "filter.condition.$near", "three finite numbers", False),
    ("near-hex", cond("l", "$near", "0,0,0x10"), "filter.condition.$near", "invalid $near value", False),
    ("near-x1c", cond("l", "$near", "\x1c0,0,1"), "filter.condition.$near", "invalid $near value", False),
    ("near-empty", cond("l", "$near", ""), "filter.condition.$near", "invalid $near value", False),
    ("near-int", cond("l", "$near", 5000), "filter.condition.$near", 'invalid $near value "5000"', False),
    ("near-bool", cond("l", "$near", True), "filter.condition.$near", 'invalid $near value "1"', False),
    ("near-none", cond("l", "$near", None), "filter.condition.$near", "must be a str, int, or float", True),
    (
        "deep-path",
        {"$and": [OK, {"$or": [OK, cond("a", "$gt", None)]}]},
        "filter.$and[1].$or[1].condition.$gt",
        "Filter value must be a str, int, or float",
        True,
    ),
    ("huge-int", cond("a", "$eq", 10**400), "filter.condition.$eq", "too large for a float", True),
]


@pytest.mark.parametrize(
    ("flt", "path", "phrase", "type_error"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_rejections(flt: object, path: str, phrase: str, type_error: bool) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        compile_filter(flt)
    err = info.value
    assert str(err).startswith(path + ": "), str(err)
    assert phrase in str(err)
    assert err.code == "INVALID_ARGUMENT"
    assert err.detail == str(err)
    assert isinstance(err, TypeError) is type_error  # where moss raises TypeError, so is it here
    with pytest.raises(InvalidArgumentError):  # strict mode refuses it too (maybe for a reason found first)
        compile_filter(flt, strict=True)


STRICT_REJECTIONS: list[tuple[str, object, str, str]] = [
    # (id, filter the real SDK accepts, path of the clause strict mode refuses, phrase)
    ("and-empty", {"$and": []}, "filter.$and", "at least one filter"),
    ("or-empty", {"$or": []}, "filter.$or", "at least one filter"),
    ("two-operators", {"field": "p", "condition": {"$gt": 1, "$lt": 9}}, "filter.condition", "combine conditions"),
    ("op-known-and-unknown", {"field": "a", "condition": {"$eq": "x", "$regex": "y"}}, "filter.condition", "'$regex'"),
    ("field-beside-and", {"$and": [OK], "field": "a"}, "filter", "unexpected key 'field' beside '$and'"),
    ("and-beside-or", {"$or": [OK], "$and": [OK]}, "filter", "unexpected key '$or' beside '$and'"),
    ("extra-key", {"field": "a", "condition": {"$eq": "x"}, "extra": 1}, "filter", "unknown key 'extra'"),
    ("bool-eq", cond("a", "$eq", True), "filter.condition.$eq", '"true" or "false"'),
    ("bool-gt", cond("a", "$gt", False), "filter.condition.$gt", '"true" or "false"'),
    ("bool-in-list", cond("a", "$in", ["x", True]), "filter.condition.$in[1]", '"true" or "false"'),
    ("nan", cond("a", "$gt", math.nan), "filter.condition.$gt", "finite number"),
    ("inf", cond("a", "$lt", math.inf), "filter.condition.$lt", "finite number"),
    ("minus-inf-in-nin", cond("a", "$nin", [-math.inf]), "filter.condition.$nin[0]", "finite number"),
    ("in-empty", cond("a", "$in", []), "filter.condition.$in", "at least one value"),
    ("nin-empty", cond("a", "$nin", []), "filter.condition.$nin", "at least one value"),
    ("inexact-int", cond("a", "$eq", 2**53 + 1), "filter.condition.$eq", "no exact float value"),
    ("near-lat-91", cond("l", "$near", "91,0,10"), "filter.condition.$near", "[-90, 90]"),
    ("near-lng-181", cond("l", "$near", "0,180.5,10"), "filter.condition.$near", "[-180, 180]"),
    ("too-deep", _nested(MAX_DEPTH + 1), "filter" + ".$and[0]" * MAX_DEPTH + ".$and", f"at most {MAX_DEPTH} levels"),
]


@pytest.mark.parametrize(
    ("flt", "path", "phrase"), [r[1:] for r in STRICT_REJECTIONS], ids=[r[0] for r in STRICT_REJECTIONS]
)
def test_strict_rejections(flt: object, path: str, phrase: str) -> None:
    compile_filter(flt)  # the real SDK accepts it, so the default does
    with pytest.raises(InvalidArgumentError) as info:
        compile_filter(flt, strict=True)
    err = info.value
    assert str(err).startswith(path + ": "), str(err)
    assert phrase in str(err) and "strict mode" in str(err)
    assert not isinstance(err, TypeError)


LENIENT_DOCS: dict[str, Optional[dict[str, str]]] = {"m": {"k": "m"}, "one": {"k": "1"}, "z": {"k": "0"}, "none": None}

LENIENT_CASES = [
    # (id, filter, the documents the real SDK 1.21 returned for it: probes of the ground-truth work)
    ("and-empty-matches-all", {"$and": []}, {"m", "one", "z", "none"}),
    ("or-empty-matches-none", {"$or": []}, set()),
    ("or-empty-inside-and", {"$and": [{"$or": []}, cond("k", "$eq", "m")]}, set()),
    ("and-empty-inside-or", {"$or": [{"$and": []}]}, {"m", "one", "z", "none"}),
    ("and-wins-over-field", {"field": "k", "condition": {"$eq": "zz"}, "$and": [cond("k", "$eq", "m")]}, {"m"}),
    ("and-wins-over-or", {"$or": [cond("k", "$eq", "zz")], "$and": [cond("k", "$eq", "m")]}, {"m"}),
    ("or-wins-over-field", {"field": "k", "condition": {"$eq": "zz"}, "$or": [cond("k", "$eq", "m")]}, {"m"}),
    ("losing-keys-unchecked", {"$and": [cond("k", "$eq", "m")], "field": 3, "condition": None}, {"m"}),
    ("extra-key-ignored", {"field": "k", "condition": {"$eq": "m"}, "extra": None}, {"m"}),
    ("eq-wins-over-ne", {"field": "k", "condition": {"$ne": "m", "$eq": "m"}}, {"m"}),
    ("ne-wins-over-gt", {"field": "k", "condition": {"$gt": "z", "$ne": "1"}}, {"m", "z"}),
    ("gt-wins-over-gte", {"field": "k", "condition": {"$gte": "a", "$gt": "m"}}, set()),
    ("gte-wins-over-lt", {"field": "k", "condition": {"$lt": "a", "$gte": "m"}}, {"m"}),
    ("lt-wins-over-lte", {"field": "k", "condition": {"$lte": "m", "$lt": "m"}}, set()),
    ("lte-wins-over-near", {"field": "k", "condition": {"$near": "0,0,1", "$lte": "m"}}, {"m"}),
    ("near-wins-over-in", {"field": "k", "condition": {"$in": ["m"], "$near": "0,0,1"}}, set()),
    ("in-wins-over-nin", {"field": "k", "condition": {"$nin": ["m"], "$in": ["m"]}}, {"m"}),
    ("unknown-beside-known-ignored", {"field": "k", "condition": {"$regex": None, "$eq": "m"}}, {"m"}),
    ("losing-operator-unchecked", {"field": "k", "condition": {"$eq": "m", "$gt": None, "$in": "x"}}, {"m"}),
    ("true-is-1", cond("k", "$eq", True), {"one"}),
    ("false-in-list-is-0", cond("k", "$in", [False]), {"z"}),
    ("true-in-range-is-number-1", cond("k", "$gte", True), {"one"}),
    ("in-empty-matches-none", cond("k", "$in", []), set()),
    ("nin-empty-matches-every-doc-with-the-field", cond("k", "$nin", []), {"m", "one", "z"}),
    ("nan-is-text-NaN", cond("k", "$gt", math.nan), {"m"}),
    ("inf-is-text-inf", cond("k", "$lt", math.inf), set()),
    ("minus-inf-in-nin", cond("k", "$nin", [-math.inf]), {"m", "one", "z"}),
    ("decimal-is-a-float", cond("k", "$eq", Decimal("1.0")), {"one"}),
    ("fraction-is-a-float", cond("k", "$lt", Fraction(1, 2)), {"z"}),
    ("dict-subclass", OrderedDict(field="k", condition=OrderedDict({"$eq": "m"})), {"m"}),
    ("too-deep-for-strict", _nested(MAX_DEPTH + 1, cond("k", "$eq", "m")), {"m"}),
]


@pytest.mark.parametrize(("flt", "expected"), [c[1:] for c in LENIENT_CASES], ids=[c[0] for c in LENIENT_CASES])
def test_lenient_filters_answer_like_moss(flt: object, expected: set[str]) -> None:
    assert matching(flt, LENIENT_DOCS) == expected


def test_two_operators_message_shows_the_and_form() -> None:
    with pytest.raises(InvalidArgumentError, match=r"\$gt, \$lt") as info:
        compile_filter({"field": "price", "condition": {"$gt": 1, "$lt": 9}}, strict=True)
    assert (
        'for example {"$and": [{"field": "price", "condition": {"$gt": ...}}, '
        '{"field": "price", "condition": {"$lt": ...}}]}'
    ) in str(info.value)


def test_near_error_keeps_moss_message() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        compile_filter(cond("l", "$near", "40.7580,-73.9855"))
    assert str(info.value) == (
        'filter.condition.$near: invalid $near value "40.7580,-73.9855": expected "lat,lng,maxDistanceMeters", '
        'three finite numbers with a distance of 0 or more, for example "40.7580,-73.9855,5000"'
    )


def test_path_argument_prefixes_messages() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^options\.filter\.\$or\[0\]\.condition: "):
        compile_filter({"$or": [cond("a", "$bogus", 1)]}, "options.filter")


def test_whole_filter_checked_before_matching() -> None:
    # Evaluation would short-circuit before the bad second child for many documents; it is refused
    # anyway, at compile time, with no document involved.
    for combinator in ("$or", "$and"):
        with pytest.raises(InvalidArgumentError, match=rf"^filter\.\{combinator}\[1\]\.condition\.\$in\[0\]: "):
            compile_filter({combinator: [cond("a", "$ne", "zzz"), cond("a", "$in", [None])]})


def test_depth_limit_allows_exactly_max_depth_in_strict_mode() -> None:
    compiled = compile_filter(_nested(MAX_DEPTH), strict=True)
    assert compiled.matches({"a": "x"}) and not compiled.matches({"a": "y"})


def _alternating(depth: int) -> dict[str, Any]:
    """``depth`` levels of $or/$and, each with a second child, so no level collapses."""
    flt: dict[str, Any] = cond("a", "$eq", "x")
    for i in range(depth):
        other = cond("b", "$eq", "y") if i % 2 else cond("b", "$ne", "y")
        flt = {"$or" if i % 2 else "$and": [flt, other]}
    return flt


@pytest.mark.parametrize("depth", [10, 199, 200, 201, 5000])
def test_default_has_no_depth_limit(depth: int) -> None:
    flt = _alternating(depth)
    compiled = compile_filter(flt)
    for metadata in ({"a": "x"}, {"a": "x", "b": "y"}, {"b": "y"}, {"b": "z"}, {}, {"a": "x", "b": "z"}):
        assert compiled.matches(metadata) is naive_deep(flt, metadata), (depth, metadata)


def naive_deep(flt: dict[str, Any], metadata: Mapping[str, str]) -> bool:
    """``naive_matches`` for tall filters: the innermost level first, so nothing recurses."""
    chain = []
    while "$and" in flt or "$or" in flt:
        key = "$and" if "$and" in flt else "$or"
        inner, other = flt[key]
        chain.append((key, other))
        flt = inner
    value = naive_matches(flt, metadata)
    for key, other in reversed(chain):
        right = naive_matches(other, metadata)
        value = (value and right) if key == "$and" else (value or right)
    return value


def test_self_referencing_filter_is_refused() -> None:
    loop: dict[str, Any] = {"$or": []}
    loop["$or"].append(loop)
    with pytest.raises(InvalidArgumentError, match="contains itself"):
        compile_filter(loop)
    shared = [cond("a", "$eq", "x")]
    assert compile_filter({"$and": [{"$or": shared}, {"$or": shared}]}).matches({"a": "x"})  # shared, not a loop


def test_operator_vocabulary_is_exactly_moss() -> None:
    assert set(OPERATORS) == {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$near"}


# ------------------------------------------------------------------------------------------
# Accepted shapes
# ------------------------------------------------------------------------------------------


class FrozenMapping(Mapping[str, Any]):
    """A Mapping that is not a dict."""

    def __init__(self, **items: Any) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def test_only_dicts_are_filter_dicts() -> None:
    # the real binding takes a dict (or a subclass) and nothing else, raising TypeError
    for flt in (
        FrozenMapping(**OK),
        {"$or": [MappingProxyType(OK)]},
        {"field": "a", "condition": FrozenMapping(**{"$eq": "x"})},
    ):
        with pytest.raises(InvalidArgumentError) as info:
            compile_filter(flt)
        assert isinstance(info.value, TypeError)
    assert matching(OrderedDict({"$or": [OrderedDict(cond("city", "$eq", "NYC"))]}), X1_DOCS) == {"1", "3"}


def test_empty_field_name_is_a_key_like_any_other() -> None:
    compiled = compile_filter(cond("", "$eq", "x"))
    assert compiled.matches({"": "x"})
    assert not compiled.matches({"a": "x"})


def test_str_subclass_field_and_value() -> None:
    class S(str):
        pass

    assert compile_filter(cond(S("a"), "$eq", S("x"))).matches({"a": "x"})


def test_missing_metadata_none_and_empty() -> None:
    compiled = compile_filter(cond("a", "$ne", "x"))
    assert not compiled.matches(None)
    assert not compiled.matches({})
    assert compiled.matches({"a": "y"})


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("$eq", "x"),
        ("$ne", "x"),
        ("$gt", "0"),
        ("$gte", "0"),
        ("$lt", "zzz"),
        ("$lte", "zzz"),
        ("$in", ["x", "y"]),
        ("$nin", ["x"]),
        ("$near", "0,0,30000000"),
    ],
)
def test_missing_field_never_matches(op: str, value: object) -> None:
    compiled = compile_filter(cond("f", op, value))
    for metadata in (None, {}, {"other": "y"}, {"other": "0,0"}):
        assert not compiled.matches(metadata)
    # ... while a document that has the field can match the same condition
    present = {"$eq": "x", "$ne": "y", "$gt": "5", "$gte": "5", "$lt": "a", "$lte": "a", "$in": "y", "$nin": "y"}
    assert compiled.matches({"f": present.get(op, "0,0")})


def test_filter_is_immutable() -> None:
    compiled = compile_filter(OK)
    assert isinstance(compiled, Filter)
    with pytest.raises(AttributeError):
        compiled._test = lambda metadata: True
    with pytest.raises(AttributeError):
        compiled.other = 1
    assert not compiled.matches({"a": "y"})


# ------------------------------------------------------------------------------------------
# Values (F-4) and plain decimals (R-F-4)
# ------------------------------------------------------------------------------------------


class Level(enum.IntEnum):
    HIGH = 3


class MyFloat(float):
    def __repr__(self) -> str:
        return "not a number"


class IndexOnly:
    def __index__(self) -> int:
        return 7


class FloatOnly:
    def __float__(self) -> float:
        return 2.5


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("abc", "abc"),
        ("", ""),
        ("10.0", "10.0"),
        (10, "10"),
        (-5, "-5"),
        (0, "0"),
        (10**30, "1000000000000000000000000000000"),
        (2**53 + 1, "9007199254740992"),  # an int is read as a float first, as the real binding does
        (2**63 - 1, "9223372036854776000"),
        (-(2**63), "-9223372036854776000"),
        (True, "1"),
        (False, "0"),
        (Decimal("2.50"), "2.5"),
        (Fraction(1, 4), "0.25"),
        (math.nan, "NaN"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (Level.HIGH, "3"),
        (10.0, "10"),
        (-0.0, "0"),
        (0.5, "0.5"),
        (-12.25, "-12.25"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.5e-7, "0.00000015"),
        (1e16, "10000000000000000"),
        (2.0**63 - 1024, "9223372036854774784"),  # largest float below 2**63: integer text
        (2.0**63, "9223372036854776000"),  # not below 2**63: shortest digits
        (-(2.0**63), "-9223372036854776000"),
        (1e20, "100000000000000000000"),
        (MyFloat(2.5), "2.5"),
        (MyFloat(7.0), "7"),
        (IndexOnly(), "7"),
        (FloatOnly(), "2.5"),
    ],
)
def test_filter_value_text(value: object, text: str) -> None:
    result = filter_value_text(value)
    assert result == text
    assert type(result) is str


def test_filter_value_text_rejections() -> None:
    for bad in (None, b"x", bytearray(b"1"), 1j, 10**400, [1], object(), Decimal("sNaN")):
        with pytest.raises(InvalidArgumentError) as info:
            filter_value_text(bad)
        assert isinstance(info.value, TypeError)


def test_float_filter_value_equals_integer_text() -> None:
    # F-5: stored "30.0" is not 30; stored "30" is 30.0
    compiled = compile_filter(cond("n", "$eq", 30.0))
    assert compiled.matches({"n": "30"})
    assert not compiled.matches({"n": "30.0"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0.0),
        ("-0", 0.0),
        ("-0.0", 0.0),
        ("0.000", 0.0),
        ("9", 9.0),
        ("30.0", 30.0),
        ("1.50", 1.5),
        ("-12.125", -12.125),
        ("0.10000000000000001", 0.1),
        ("100000000000000000000000001", 1e26),
        ("1" + "0" * 308, 1e308),
        ("17976931348623158" + "0" * 292, 1.7976931348623157e308),  # rounds to the largest float
        ("0." + "1" * 400, 0.1111111111111111),
        ("17976931348623159" + "0" * 292, None),  # rounds to infinity: text
        ("1" + "0" * 309, None),
        ("+5", None),
        ("+0", None),
        ("007", None),
        ("00", None),
        ("01", None),
        ("-01", None),
        ("00.5", None),
        (".5", None),
        ("-.5", None),
        ("5.", None),
        ("0.", None),
        ("1e3", None),
        ("1E3", None),
        ("5e0", None),
        (" 5", None),
        ("5 ", None),
        ("1\n", None),
        ("inf", None),
        ("-inf", None),
        ("NaN", None),
        ("Infinity", None),
        ("1_000", None),
        ("0x10", None),
        ("\u0663", None),  # ARABIC-INDIC DIGIT THREE
        ("", None),
        ("-", None),
        (".", None),
        ("--1", None),
        ("1.2.3", None),
        ("1..2", None),
    ],
)
def test_range_number_grammar(text: str, value: Optional[float]) -> None:
    got = range_number(text)
    assert got == value and (got is None or type(got) is float)


@pytest.mark.parametrize(
    ("stored", "op", "value", "expected"),
    [
        # two numbers: compared as floats (observed: moss 1.21.0)
        ("9", "$lt", "10", True),
        ("10", "$gte", 10.0, True),
        ("30.0", "$gt", 10, True),
        ("-0.5", "$lt", 0, True),
        ("-0.0", "$gte", 0, True),
        ("-0.0", "$lt", 0, False),
        ("-0", "$lte", -0.0, True),
        ("100000000000000000000000001", "$gt", 10**26, False),  # both are 1e26 as floats
        ("100000000000000000000000001", "$gte", 10**26, True),
        ("9007199254740993", "$gt", "9007199254740992", False),
        ("0.10000000000000001", "$lt", 0.1, False),
        ("0.10000000000000001", "$gte", "0.1", True),
        ("12345678901234567890123", "$gt", "9007199254740992", True),
        ("1" + "0" * 308, "$gte", 1e308, True),
        # two texts: code-point order
        ("apple", "$lt", "b", True),
        ("B", "$lt", "a", True),
        ("é", "$gt", "z", True),
        ("1e3", "$gt", "1e2", True),
        ("1E3", "$lt", "1e2", True),
        ("+5", "$lt", "1e2", True),
        (" 5", "$lt", "+5", True),
        ("", "$lt", "+5", True),
        ("", "$lte", "", True),
        ("NaN", "$gte", math.nan, True),
        ("inf", "$gt", "NaN", True),
        ("-inf", "$lt", math.inf, True),
        # a number and a text never satisfy a range, whichever side is which
        ("+5", "$lt", "10", False),
        ("+5", "$gt", "10", False),
        ("1e3", "$gt", 10, False),
        ("1e3", "$lt", 10, False),
        ("9", "$lt", "b", False),
        ("9", "$gt", "+5", False),
        ("1" + "0" * 309, "$gt", 10, False),  # infinite as a float: text
        ("1" + "0" * 309, "$lt", "inf", True),
        ("5", "$lt", math.inf, False),
        ("5", "$gt", -math.inf, False),
        ("0", "$gte", True, False),
        ("1", "$gte", True, True),
    ],
)
def test_range_comparison(stored: str, op: str, value: object, expected: bool) -> None:
    assert compile_filter(cond("n", op, value)).matches({"n": stored}) is expected


# ------------------------------------------------------------------------------------------
# $near
# ------------------------------------------------------------------------------------------


def atan2_distance_m(lat1: float, lng1: float, lat2: float, lng2: float, radius: float = 6_371_000.0) -> float:
    """Great-circle distance, atan2 form of the haversine (independent of the module's asin form)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    return 2 * radius * math.atan2(math.sqrt(a), math.sqrt(1 - a))


def test_near_uses_mean_earth_radius_6371000() -> None:
    d = atan2_distance_m(40.7580, -73.9855, 48.8566, 2.3522)
    assert 5_830_000 < d < 5_840_000
    docs = X2_DOCS
    # within 1e-9 relative: 6,371,008.8 m would move the distance by ~8 m
    assert matching(cond("location", "$near", f"40.7580,-73.9855,{d * (1 + 1e-9)!r}"), docs) == {"ts", "sol", "par"}
    assert matching(cond("location", "$near", f"40.7580,-73.9855,{d * (1 - 1e-9)!r}"), docs) == {"ts", "sol"}


def test_near_boundary_is_inclusive() -> None:
    assert compile_filter(cond("l", "$near", "10,20,0")).matches({"l": "10,20"})
    assert compile_filter(cond("l", "$near", "90,0,1")).matches({"l": "90,180"})  # the pole, any longitude
    assert compile_filter(cond("l", "$near", "0,180,1")).matches({"l": "0,-180"})  # across the antimeridian


def test_near_antipodal_points() -> None:
    # antipodes: the haversine term rounds to 1.0000000000000002 here; the distance is half the circumference
    half_circumference = math.pi * 6_371_000
    doc = {"l": "26.9471,64.9144"}
    assert compile_filter(cond("l", "$near", f"-26.9471,-115.0856,{half_circumference + 1}")).matches(doc)
    assert not compile_filter(cond("l", "$near", f"-26.9471,-115.0856,{half_circumference - 1}")).matches(doc)


def test_near_terms_rounded_out_of_the_unit_interval_match_nothing() -> None:
    """FLT-22 (observed: moss 1.21.0): no clamp; a haversine term above 1 (nearly antipodal) or
    below 0 (a stored latitude out of range) gives a NaN distance, within no radius, and no error."""
    above = {"l": "-64.92083172713278,155.82169795139714"}  # h rounds to 1.0000000000000004
    below = {"l": "168,180"}  # h rounds below 0
    for radius in ("20015087", "3e7", "1e9"):
        assert not compile_filter(cond("l", "$near", f"64.92083172813278,-24.17830204860286,{radius}")).matches(above)
    for radius in ("0", "1", "3e7", "1e8"):
        assert not compile_filter(cond("l", "$near", f"12,0,{radius}")).matches(below)
    either = {"$or": [cond("l", "$near", "12,0,1e8"), cond("k", "$eq", "v")]}
    assert compile_filter(either).matches({**below, "k": "v"})


@pytest.mark.parametrize(
    "stored",
    ["", "abc", "40.7", "40.7,-73.9,5", "nan,0", "0,inf", "-inf,0", "1e999,0", "40.7;-73.9", ",", "0,0x1", "\x1c0,0"],
)
def test_near_unparsable_document_value_does_not_match(stored: str) -> None:
    assert not compile_filter(cond("l", "$near", "0,0,1e8")).matches({"l": stored})


def test_near_coordinates_out_of_range_are_used_as_given() -> None:
    # observed: moss 1.21.0 accepts "91,0,..." and computes the haversine with it, stored points too
    assert compile_filter(cond("l", "$near", "91,0,30000000")).matches({"l": "0,0"})
    assert not compile_filter(cond("l", "$near", "91,0,10")).matches({"l": "0,0"})
    assert compile_filter(cond("l", "$near", "0,0,30000000")).matches({"l": "91,0"})
    assert compile_filter(cond("l", "$near", "0,360,1")).matches({"l": "0,0"})  # a full turn away: the same point
    assert compile_filter(cond("l", "$near", "0,-360,1")).matches({"l": "0,0"})
    assert not compile_filter(cond("l", "$near", "0,181,1")).matches({"l": "0,181.5"})


def test_near_number_syntax() -> None:
    # Unicode white space around numbers, exponents, ".5"/"5.", inf/nan words: Rust's f64 grammar
    compiled = compile_filter(cond("l", "$near", " 40.7580 ,\t-73.9855, 1e4"))
    assert compiled.matches({"l": "40.6892, -74.0445"})
    assert compiled.matches({"l": "4.07580e1,-73.9855"})
    assert compiled.matches({"l": "40.6892 ,-74.0445\n"})
    assert compiled.matches({"l": "\u00a040.6892,\u2003-74.0445"})
    assert compile_filter(cond("l", "$near", ".5,5.,0")).matches({"l": "0.5,5"})
    assert compile_filter(cond("l", "$near", "-0,+0,-0")).matches({"l": "0,0"})
    assert compile_filter(cond("l", "$near", "\u30000,1,0")).matches({"l": "0,1"})
    assert not compiled.matches({"l": "40.6892,-74.0445\x1c"})


# (centre, point, the smallest distance the real SDK 1.21 matched with: bisected over float bits)
BOUNDARIES = [
    ((40.758, -73.9855), (-33.8688, 151.2093), 15990823.466128724),
    ((0.0, 0.0), (0.0, 1.0), 111194.92664455874),
    ((0.0, 0.0), (10.0, 20.0), 2476171.4106209576),
    ((-31.7101, -125.6943), (27.1682, -153.9229), 7197943.186892519),
    ((6.4588, -48.352), (-79.5602, 2.6769), 9990893.548972392),
    ((-83.2508, -23.8876), (-77.426, -147.3433), 1915376.6389620695),
    ((-13.5865, 117.6668), (-67.7156, -99.634), 10491149.17423865),
    ((22.938, 161.1752), (13.8785, -37.195), 15458901.174354201),
    ((85.7259, -163.2302), (64.5243, -75.7407), 2849114.0383857978),
    ((-64.0341, -137.5948), (-34.4733, 113.8055), 7429088.549215557),
    ((-57.4693, 29.3761), (25.0044, -45.9369), 11504495.231003236),
]


@pytest.mark.parametrize(("centre", "point", "boundary"), BOUNDARIES)
def test_near_distance_is_the_real_sdks_to_the_bit(
    centre: tuple[float, float], point: tuple[float, float], boundary: float
) -> None:
    stored = {"l": f"{point[0]!r},{point[1]!r}"}
    assert compile_filter(cond("l", "$near", f"{centre[0]!r},{centre[1]!r},{boundary!r}")).matches(stored)
    below = math.nextafter(boundary, 0)
    assert not compile_filter(cond("l", "$near", f"{centre[0]!r},{centre[1]!r},{below!r}")).matches(stored)


# ------------------------------------------------------------------------------------------
# The naive evaluator and the property tests
# ------------------------------------------------------------------------------------------

DIGITS = "0123456789"


class Ambiguous(Exception):
    """A $near distance so close to the radius that two float formulas may disagree."""


def naive_positional(x: float) -> str:
    """Shortest round-trip digits of ``x`` without exponent, built by moving the point in repr."""
    r = repr(x)
    sign = "-" if r.startswith("-") else ""
    mantissa, _, exp = r.lstrip("-").partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + int(exp or "0")
    if point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    if "." in text:
        head, tail = text.split(".")
        head = head.lstrip("0") or "0"
        tail = tail.rstrip("0") or "0"
        text = head + "." + tail
    else:
        text = text.lstrip("0") or "0"
    return sign + text


def naive_text(v: object) -> str:
    if isinstance(v, str):
        return v
    f = float(v)  # type: ignore[arg-type]  # int, bool or float here
    if f != f:
        return "NaN"
    if f in (math.inf, -math.inf):
        return "inf" if f > 0 else "-inf"
    if f == math.floor(f) and -(2**63) < f < 2**63:
        return str(int(f))
    return naive_positional(f)


def naive_number(s: str) -> Optional[float]:
    """Range numbers, scanned by hand: -?(0|[1-9][0-9]*)(.[0-9]+)? with a finite value."""
    body = s[1:] if s[:1] == "-" else s
    whole, dot, frac = body.partition(".")
    if not whole or any(c not in DIGITS for c in whole) or (len(whole) > 1 and whole[0] == "0"):
        return None
    if dot and (not frac or any(c not in DIGITS for c in frac)):
        return None
    value = float(s)
    return value if value not in (math.inf, -math.inf) else None


# Unicode White_Space (the property list of the Unicode standard), written out on its own
UNICODE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def naive_float(s: str) -> Optional[float]:
    s = s.strip(UNICODE_SPACE)
    body = s[1:] if s[:1] in ("+", "-") else s
    if body.lower() in ("inf", "infinity", "nan"):
        return float(s)
    mantissa, e, exp = body.replace("E", "e").partition("e")
    if e:
        exp_digits = exp[1:] if exp[:1] in ("+", "-") else exp
        if not exp_digits or any(c not in DIGITS for c in exp_digits):
            return None
    whole, _, frac = mantissa.partition(".")
    if not (whole or frac) or any(c not in DIGITS for c in whole + frac) or mantissa.count(".") > 1:
        return None
    return float(s)


def naive_point(s: str, parts: int) -> Optional[list[float]]:
    pieces = s.split(",")
    if len(pieces) != parts:
        return None
    numbers = [naive_float(p) for p in pieces]
    if any(n is None or n != n or n in (math.inf, -math.inf) for n in numbers):
        return None
    return [n for n in numbers if n is not None]


def naive_range(op: str, stored: str, value: object) -> bool:
    text = naive_text(value)
    a, b = naive_number(stored), naive_number(text)
    x: Any
    y: Any
    if a is not None and b is not None:
        x, y = a, b
    elif a is None and b is None:
        x, y = [ord(c) for c in stored], [ord(c) for c in text]
    else:
        return False
    return bool({"$gt": x > y, "$gte": x >= y, "$lt": x < y, "$lte": x <= y}[op])


def naive_matches(flt: Mapping[str, Any], metadata: Optional[Mapping[str, str]]) -> bool:
    if "$and" in flt:
        return all(naive_matches(child, metadata) for child in flt["$and"])
    if "$or" in flt:
        return any(naive_matches(child, metadata) for child in flt["$or"])
    if metadata is None or flt["field"] not in metadata:
        return False
    stored = metadata[flt["field"]]
    op = next(o for o in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$near", "$in", "$nin") if o in flt["condition"])
    value = flt["condition"][op]
    if op == "$eq":
        return stored == naive_text(value)
    if op == "$ne":
        return stored != naive_text(value)
    if op == "$in":
        return any(stored == naive_text(v) for v in value)
    if op == "$nin":
        return all(stored != naive_text(v) for v in value)
    if op == "$near":
        centre = naive_point(value, 3)
        assert centre is not None
        point = naive_point(stored, 2)
        if point is None:
            return False
        d = atan2_distance_m(centre[0], centre[1], point[0], point[1])
        if d != 0 and abs(d - centre[2]) <= 1e-6 * max(1.0, centre[2]):
            raise Ambiguous
        return d <= centre[2]
    return naive_range(op, stored, value)


TEXT_POOL = [
    "0", "1", "8", "10", "12", "15", "10.0", "-0", "-0.0", "+5", "007", ".5", "5.", "1e3", "abc", "ABC", "",
    "é", "\u0663", " 1", "100000000000000000000000001", "100000000000000000000000000", "0.3",
    "0.30000000000000004", "-12.5", "z", "9223372036854775808", "9223372036854776000", "NaN", "inf", "-inf",
    "01", "-0.000", "9007199254740993",
]  # fmt: skip

stored_text = st.one_of(
    st.sampled_from(TEXT_POOL),
    st.integers(-30, 30).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(lambda d: format(d, "f")),
    st.text(max_size=4),
)
filter_scalar = st.one_of(
    st.sampled_from(TEXT_POOL),
    st.integers(-30, 30),
    st.integers(-(2**1000), 2**1000),
    st.booleans(),
    st.sampled_from([10.0, 12.0, -0.0, 0.5, 0.1 + 0.2, 1e20, 2.0**63, 2.0**63 - 1024, -12.5, math.inf, math.nan]),
    st.floats(),
    st.text(max_size=4),
)
PLACES = [
    (40.7580, -73.9855),
    (40.6892, -74.0445),
    (48.8566, 2.3522),
    (35.6762, 139.6503),
    (-33.8688, 151.2093),
    (0.0, 0.0),
    (90.0, 0.0),
    (-89.9, 179.9),
    (0.0, -180.0),
]


def _clamp(x: float, bound: float) -> float:
    return max(-bound, min(bound, x))


# points near known places (so radii from metres to the half circumference all decide something) or anywhere
points = st.one_of(
    st.builds(
        lambda place, dlat, dlng: (_clamp(place[0] + dlat, 90), _clamp(place[1] + dlng, 180)),
        st.sampled_from(PLACES),
        st.floats(-0.5, 0.5),
        st.floats(-0.5, 0.5),
    ),
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    st.tuples(st.floats(-400, 400), st.floats(-400, 400)),  # out of range: used as given
)
radii = st.sampled_from([0.0, 1000.0, 5000.0, 10_000.0, 50_000.0, 1e6, 6e6, 1e7, 2e7]) | st.floats(0, 2.1e7)
near_value = st.builds(lambda p, m: f"{p[0]!r},{p[1]!r},{m!r}", points, radii)
stored_point = st.one_of(
    points.map(lambda p: f"{p[0]!r},{p[1]!r}"),
    st.sampled_from(
        [
            "40.7580,-73.9855",
            " 1 , 2 ",
            "91,0",
            "0,181",
            "a,b",
            "1,2,3",
            "nan,0",
            ".5,5.",
            "1e999,0",
            "\u00a01,2\n",
            "INF,0",
        ]
    ),
    stored_text,
)
fields_st = {"a": stored_text, "b": stored_text, "loc": stored_point}
metadata_st = st.one_of(st.none(), st.fixed_dictionaries(fields_st), st.fixed_dictionaries({}, optional=fields_st))
SCALAR_OPS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]
leaf = st.one_of(
    st.builds(cond, st.sampled_from(["a", "b"]), st.sampled_from(SCALAR_OPS), filter_scalar),
    st.builds(
        cond,
        st.sampled_from(["a", "b"]),
        st.sampled_from(["$in", "$nin"]),
        st.lists(filter_scalar, min_size=1, max_size=4),
    ),
    st.builds(cond, st.just("loc"), st.just("$near"), near_value),
    st.builds(cond, st.sampled_from(["a", "b"]), st.sampled_from(["$in", "$nin"]), st.just([])),
    st.builds(  # several operators: the first in PRECEDENCE decides
        lambda f, c: {"field": f, "condition": c},
        st.sampled_from(["a", "b"]),
        st.dictionaries(st.sampled_from(SCALAR_OPS), filter_scalar, min_size=2, max_size=4),
    ),
)
filters = st.recursive(
    leaf,
    lambda children: st.builds(
        lambda k, xs: {k: xs}, st.sampled_from(["$and", "$or"]), st.lists(children, min_size=0, max_size=3)
    ),
    max_leaves=8,
)


def check_against_naive(flt: dict[str, Any], docs: list[Optional[dict[str, str]]]) -> None:
    compiled = compile_filter(flt)
    for metadata in docs:
        try:
            expected = naive_matches(flt, metadata)
        except Ambiguous:
            assume(False)
        assert compiled.matches(metadata) is expected, (flt, metadata)


@given(filters, st.lists(metadata_st, min_size=1, max_size=8))
def test_property_matches_naive_evaluator(flt: dict[str, Any], docs: list[Optional[dict[str, str]]]) -> None:
    check_against_naive(flt, docs)


@given(leaf, st.lists(metadata_st, min_size=1, max_size=8))
def test_property_single_condition_matches_naive(flt: dict[str, Any], docs: list[Optional[dict[str, str]]]) -> None:
    check_against_naive(flt, docs)


@given(near_value, st.lists(stored_point, min_size=1, max_size=8))
def test_property_near_matches_naive(near: str, stored: list[str]) -> None:
    check_against_naive(cond("loc", "$near", near), [{"loc": s} for s in stored])


@given(filter_scalar)
def test_property_value_text_matches_naive(value: object) -> None:
    assert filter_value_text(value) == naive_text(value)


@given(stored_text)
def test_property_range_number_matches_naive(text: str) -> None:
    assert range_number(text) == naive_number(text)


def test_precedence_is_the_observed_order() -> None:
    assert PRECEDENCE == ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$near", "$in", "$nin")
    assert set(PRECEDENCE) == set(OPERATORS)


JUNK_KEYS = st.sampled_from(["field", "condition", "$and", "$or", *OPERATORS, "$exists", "$not", ""]) | st.text(
    max_size=3
)
junk = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=5),
        st.sampled_from(["40,-73,10", "a", "a,b", "0,0,0"]),
        st.from_type(object),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children),
        st.dictionaries(JUNK_KEYS, children, max_size=3),
    ),
    max_leaves=12,
)


@given(junk, st.lists(metadata_st, max_size=4))
def test_property_junk_raises_only_invalid_argument(obj: object, docs: list[Optional[dict[str, str]]]) -> None:
    try:
        compiled = compile_filter(obj)
    except InvalidArgumentError as err:
        assert str(err).startswith("filter")
        assert err.code == "INVALID_ARGUMENT"
        return
    for metadata in docs:
        assert compiled.matches(metadata) in (True, False)


class _OncePerPass(list):  # type: ignore[type-arg]
    """A list subclass whose second iteration yields other items (FLT-9/FLT-14 accept subclasses)."""

    def __init__(self, first: list[str], later: list[str]) -> None:
        super().__init__(first)
        self._passes = 0
        self._later = later

    def __iter__(self):  # type: ignore[no-untyped-def]
        self._passes += 1
        return iter(list.__iter__(self) if self._passes == 1 else self._later)


def test_index_plan_uses_the_values_the_test_compares_with() -> None:
    """Each filter value is converted once: the metadata index and ``matches`` cannot disagree."""
    from moss_ref._corpus import Corpus, Record
    from moss_ref._vectors import create

    corpus = Corpus(create(), 1)
    corpus.put([Record("a", "", {"c": "x"}, None), Record("b", "", {"c": "other"}, None)], [[1.0], [1.0]])
    flt = compile_filter({"field": "c", "condition": {"$in": _OncePerPass(["x"], ["other"])}})
    brute = {i for i, r in corpus.records.items() if flt.matches(r.metadata)}
    assert brute == {"a"}
    assert set(corpus.allowed(flt) or ()) == brute
