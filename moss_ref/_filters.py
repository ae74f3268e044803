"""Metadata filters: parse and check a whole filter once, then match many documents fast.

Grammar (F-1, R-F-1)::

    filter    := {"field": str, "condition": {op: value}}
               | {"$and": [filter, ...]} | {"$or": [filter, ...]}
    op        := $eq | $ne | $gt | $gte | $lt | $lte      (value: str | int | float)
               | $in | $nin                               (value: non-empty list of those)
               | $near                                    (value: "lat,lng,maxDistanceMeters")

:func:`compile_filter` checks everything before any document is seen (R-F-2) and returns a
:class:`Filter`: a tree of closures with every filter value converted once (F-4), range bounds
pre-parsed as :class:`~decimal.Decimal` and the ``$near`` centre pre-computed. Every rejection is an
:class:`~moss_ref._errors.InvalidArgumentError` whose message starts with the path of the bad
clause (``filter.$and[1].condition: ...``), says what was wrong and what is accepted.

Operators are small functions collected in :data:`OPERATORS` (jsonschema style): each takes the
raw value and its path, validates it, and returns a test on the stored metadata string. The rules
they implement are numbered FLT-n in ``docs/rules/filters.md``.

A compiled filter also carries an *index plan* (:attr:`Filter.index_plan`) for callers that keep
an inverted index field -> value -> ids: ``$eq`` and ``$in`` become :class:`IndexTerm`, ``$and`` /
``$or`` become :class:`IndexAll` / :class:`IndexAny`, every other operator ``None`` (not
answerable from the index). A plan without ``None`` gives exactly the matching ids
(:attr:`Filter.exact_plan`); otherwise an ``$and`` with at least one indexable part still gives a
superset to evaluate :meth:`Filter.matches` on. The plan is a speed-up only: the ids it selects
are, by construction, the ids :meth:`Filter.matches` accepts (tested).
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Optional, Union, final

from ._errors import invalid
from ._numbers import positional

__all__ = [
    "Filter",
    "IndexAll",
    "IndexAny",
    "IndexPlan",
    "IndexTerm",
    "compile_filter",
    "filter_value_text",
    "plain_decimal",
    "OPERATORS",
    "MAX_DEPTH",
]

Metadata = Mapping[str, str]
NodeTest = Callable[[Metadata], bool]
"""A compiled filter node: does this document's metadata match?"""
ValueTest = Callable[[str], bool]
"""A compiled operator: does this stored metadata string satisfy it?"""
OperatorCompiler = Callable[[object, str], ValueTest]
"""Validate an operator's raw value (with its path, for messages) and build its test."""


@dataclass(frozen=True)
class IndexTerm:
    """Documents whose ``field`` holds one of ``values`` exactly (``$eq``, ``$in``)."""

    field: str
    values: frozenset[str]


@dataclass(frozen=True)
class IndexAll:
    """Documents in every part (``$and``); a ``None`` part is not indexable."""

    parts: tuple[IndexPlan, ...]


@dataclass(frozen=True)
class IndexAny:
    """Documents in at least one part (``$or``); never holds a ``None`` part."""

    parts: tuple[IndexPlan, ...]


IndexPlan = Optional[Union[IndexTerm, IndexAll, IndexAny]]
"""How to answer a filter node from a field -> value -> ids index; ``None``: evaluate it instead."""

Compiled = tuple[NodeTest, IndexPlan]
"""A compiled node: its test and its index plan."""

MAX_DEPTH: Final = 100
"""Deepest allowed nesting of ``$and``/``$or`` (FLT-26); deeper input is refused, not recursed into."""

EARTH_RADIUS_M: Final = 6_371_000.0  # R-F-6

_EMPTY: Final[Metadata] = MappingProxyType({})
_OPERATOR_LIST: Final = "$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $near"  # F-3 wording and order
_NEAR_FORMAT: Final = (
    'expected "lat,lng,maxDistanceMeters", three finite numbers with a distance of 0 or more, '
    'for example "40.7580,-73.9855,5000"'
)  # F-10 wording


# --------------------------------------------------------------------------------------------
# Scalars: F-4 / R-F-3 conversion, R-F-4 plain decimals
# --------------------------------------------------------------------------------------------

_PLAIN_DECIMAL: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def plain_decimal(text: str) -> Decimal | None:
    """The exact value of ``text`` if it is a plain decimal, else None (R-F-4, FLT-18).

    Plain = optional ``+``/``-``, one or more ASCII digits, optionally ``.`` and one or more ASCII
    digits. No exponent, no spaces, no ``inf``/``nan``, no ``_``, no non-ASCII digits, no ``.5``
    or ``5.``. ``"-0"`` and ``"+0.0"`` are plain and equal to ``0``.
    """
    if _PLAIN_DECIMAL.fullmatch(text) is None:
        return None
    return Decimal(text)


def _show(value: object, limit: int = 60) -> str:
    """``repr`` for error messages, shortened so a huge value cannot flood a log line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: object) -> str:
    return type(value).__name__


def _value_text(value: object, path: str) -> str:
    """F-4 / R-F-3 / FLT-9..FLT-14: the string a filter scalar is compared as.

    ``str`` unchanged; ``bool`` refused (R-F-2: booleans are stored as ``"true"``/``"false"``);
    ``int`` as exact decimal text; a finite ``float`` that is integral with ``|v| < 2**63`` as
    integer text (``10.0 -> "10"``, ``-0.0 -> "0"``), any other finite float as its shortest
    round-trip digits without exponent (``0.5 -> "0.5"``, ``1e20 -> "100000000000000000000"``);
    NaN/inf refused; anything else refused with F-3's message.
    """
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, even for a str subclass
    if isinstance(value, bool):
        raise invalid(
            f'{path}: got the boolean {value}; metadata booleans are stored as the strings "true" and "false", '
            f'so filter with "true" or "false" instead'
        )
    if isinstance(value, int):
        try:
            return int.__repr__(value)
        except ValueError:  # beyond sys.get_int_max_str_digits()
            raise invalid(f"{path}: integer filter value is too large to write as text; pass it as a str") from None
    if isinstance(value, float):
        number = float(value)
        if not math.isfinite(number):
            raise invalid(f"{path}: Filter value must be a finite number, got {number!r}")
        if number.is_integer() and abs(number) < 2**63:
            return int.__repr__(int(number))
        return positional(number)
    raise invalid(f"{path}: Filter value must be a str, int, or float, got {_kind(value)}")


def filter_value_text(value: object) -> str:
    """F-4: the string one filter scalar is compared as (see FLT-9); raises InvalidArgumentError."""
    return _value_text(value, "value")


# --------------------------------------------------------------------------------------------
# Operators: one small function each, collected in OPERATORS
# --------------------------------------------------------------------------------------------


class _Members:
    """The test of ``$eq``/``$in``: the stored string is one of ``wants``.

    It carries ``wants`` so the metadata-index plan uses the very values the test compares with:
    each filter value is converted exactly once.
    """

    __slots__ = ("wants",)

    def __init__(self, wants: frozenset[str]) -> None:
        self.wants = wants

    def __call__(self, stored: str) -> bool:
        return stored in self.wants


def _eq(value: object, path: str) -> ValueTest:
    """``$eq`` (F-5, FLT-16): the stored string equals the converted value exactly."""
    return _Members(frozenset((_value_text(value, path),)))


def _ne(value: object, path: str) -> ValueTest:
    """``$ne`` (F-5, FLT-16): the stored string differs from the converted value."""
    want = _value_text(value, path)

    def ne(stored: str) -> bool:
        return stored != want

    return ne


def _value_set(value: object, path: str) -> frozenset[str]:
    """The converted members of a ``$in``/``$nin`` list (F-3, R-F-2, FLT-15)."""
    if not isinstance(value, list):
        raise invalid(f"{path}: $in/$nin value must be a list, got {_kind(value)}")
    if not value:
        raise invalid(
            f"{path}: $in/$nin value must be a list with at least one value; an empty list is refused "
            "(an empty $in would match nothing, an empty $nin every document having the field)"
        )
    return frozenset(_value_text(item, f"{path}[{i}]") for i, item in enumerate(value))


def _in(value: object, path: str) -> ValueTest:
    """``$in`` (F-5, FLT-16): the stored string equals one of the converted values."""
    return _Members(_value_set(value, path))


def _nin(value: object, path: str) -> ValueTest:
    """``$nin`` (F-5, FLT-16): the stored string equals none of the converted values."""
    wants = _value_set(value, path)

    def nin(stored: str) -> bool:
        return stored not in wants

    return nin


def _range(compare: Callable[[Any, Any], bool]) -> OperatorCompiler:  # operator.gt/ge/lt/le on str or Decimal
    """``$gt $gte $lt $lte`` (F-6, F-7, R-F-4, FLT-17): ``stored <compare> value``.

    Exact Decimal comparison when both sides are plain decimals, else code-point string order.
    The filter side is converted and parsed once, here.
    """

    def compile_range(value: object, path: str) -> ValueTest:
        want = _value_text(value, path)
        want_number = plain_decimal(want)
        if want_number is None:

            def by_text(stored: str) -> bool:
                return compare(stored, want)

            return by_text

        def by_number_or_text(stored: str) -> bool:
            number = plain_decimal(stored)
            if number is None:
                return compare(stored, want)
            return compare(number, want_number)

        return by_number_or_text

    return compile_range


_NUMBER: Final = r"[ \t]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[ \t]*"
_POINT: Final = re.compile(f"{_NUMBER},{_NUMBER}")  # "lat,lng"
_NEAR_VALUE: Final = re.compile(f"{_NUMBER},{_NUMBER},{_NUMBER}")  # "lat,lng,meters"


def _lat_lng(lat_text: str, lng_text: str) -> tuple[float, float] | None:
    """Latitude in [-90, 90] and longitude in [-180, 180], in radians, or None (FLT-21, FLT-23).

    The range test also refuses infinities from huge exponents (``1e999``).
    """
    lat, lng = float(lat_text), float(lng_text)
    if -90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0:
        return math.radians(lat), math.radians(lng)
    return None


def _near(value: object, path: str) -> ValueTest:
    """``$near "lat,lng,meters"`` (F-10, R-F-6, FLT-20..FLT-23).

    Numbers: optional sign, ASCII digits with optional fraction (``.5`` and ``5.`` allowed),
    optional exponent; spaces/tabs around each are ignored. Matches a stored ``"lat,lng"`` (same
    number syntax, in range) whose haversine distance (R = 6,371,000 m) to the centre is at most
    ``meters``, inclusive. A stored value that is not a valid ``"lat,lng"`` does not match.
    """
    text = _value_text(value, path)
    match = _NEAR_VALUE.fullmatch(text)
    centre = None if match is None else _lat_lng(match[1], match[2])
    radius = math.nan if match is None else float(match[3])
    if centre is None or not (math.isfinite(radius) and radius >= 0):
        raise invalid(
            f'{path}: invalid $near value "{text[:80]}": {_NEAR_FORMAT}; '
            "latitude must lie in [-90, 90] and longitude in [-180, 180]"
        )
    lat0, lng0 = centre
    cos_lat0 = math.cos(lat0)  # the centre's trigonometry is done once
    sin, cos, asin, sqrt = math.sin, math.cos, math.asin, math.sqrt

    def near(stored: str) -> bool:
        match = _POINT.fullmatch(stored)
        point = None if match is None else _lat_lng(match[1], match[2])
        if point is None:
            return False
        lat, lng = point
        h = sin((lat - lat0) / 2) ** 2 + cos_lat0 * cos(lat) * sin((lng - lng0) / 2) ** 2
        return 2 * EARTH_RADIUS_M * asin(sqrt(min(1.0, h))) <= radius  # rounding can lift h a hair above 1

    return near


OPERATORS: Final[Mapping[str, OperatorCompiler]] = MappingProxyType(
    {
        "$eq": _eq,
        "$ne": _ne,
        "$gt": _range(operator.gt),
        "$gte": _range(operator.ge),
        "$lt": _range(operator.lt),
        "$lte": _range(operator.le),
        "$in": _in,
        "$nin": _nin,
        "$near": _near,
    }
)
"""Operator name -> compiler. The whole operator vocabulary (R-F-1); anything else is refused."""


# --------------------------------------------------------------------------------------------
# Nodes: field conditions and $and / $or
# --------------------------------------------------------------------------------------------


def _field_condition(field: str, test: ValueTest) -> NodeTest:
    """F-8 / R-F-5 / FLT-19: a document without the field never matches, whatever the operator."""

    def field_condition(metadata: Metadata) -> bool:
        stored = metadata.get(field)
        return stored is not None and test(stored)

    return field_condition


def _all_of(children: tuple[NodeTest, ...]) -> NodeTest:
    """``$and`` (F-9, FLT-3): every child matches (evaluated left to right, stopping at the first miss)."""
    if len(children) == 1:
        return children[0]

    def all_of(metadata: Metadata) -> bool:
        for child in children:
            if not child(metadata):
                return False
        return True

    return all_of


def _any_of(children: tuple[NodeTest, ...]) -> NodeTest:
    """``$or`` (F-9, FLT-3): at least one child matches (stopping at the first hit)."""
    if len(children) == 1:
        return children[0]

    def any_of(metadata: Metadata) -> bool:
        for child in children:
            if child(metadata):
                return True
        return False

    return any_of


_COMBINATORS: Final[Mapping[str, Callable[[tuple[NodeTest, ...]], NodeTest]]] = MappingProxyType(
    {"$and": _all_of, "$or": _any_of}
)


def _combination(key: str, value: object, path: str, depth: int) -> Compiled:
    """``{"$and"|"$or": [filter, ...]}`` (F-1, F-3, R-F-2, FLT-4, FLT-26): a non-empty list of filters."""
    if not isinstance(value, list):
        raise invalid(f"{path}: {key} value must be a list of filters, got {_kind(value)}")
    if not value:
        raise invalid(
            f"{path}: {key} value must be a list with at least one filter; an empty $and/$or is refused "
            "(it would silently match every document or none)"
        )
    if depth >= MAX_DEPTH:
        raise invalid(f"{path}: filters may nest at most {MAX_DEPTH} levels of $and/$or")
    children = tuple(_node(child, f"{path}[{i}]", depth + 1) for i, child in enumerate(value))
    test = _COMBINATORS[key](tuple(child_test for child_test, _ in children))
    plans = tuple(plan for _, plan in children)
    plan: IndexPlan
    if len(plans) == 1:
        plan = plans[0]
    elif key == "$and":
        plan = IndexAll(plans) if any(p is not None for p in plans) else None
    else:
        plan = None if any(p is None for p in plans) else IndexAny(plans)
    return test, plan


def _condition(field: str, condition: object, path: str) -> Compiled:
    """``{"op": value}`` (F-1, F-3, R-F-1, R-F-2, FLT-2, FLT-6): exactly one known operator."""
    if not isinstance(condition, Mapping):
        raise invalid(f'{path}: \'condition\' must be a dict (any mapping) like {{"$eq": "x"}}, got {_kind(condition)}')
    ops = list(condition)
    if not ops:
        raise invalid(f"{path}: Filter condition must contain one of: {_OPERATOR_LIST}; got an empty condition")
    for op in ops:
        if op not in OPERATORS:
            raise invalid(
                f"{path}: unknown operator {_show(op)}; Filter condition must contain one of: {_OPERATOR_LIST}"
            )
    if len(ops) > 1:
        name = json.dumps(field[:40], ensure_ascii=False)
        example = (
            f'{{"$and": [{{"field": {name}, "condition": {{"{ops[0]}": ...}}}}, '
            f'{{"field": {name}, "condition": {{"{ops[1]}": ...}}}}]}}'
        )
        raise invalid(
            f"{path}: a condition takes exactly one operator, got {', '.join(ops)}; combine conditions with $and, "
            f"for example {example}"
        )
    op = ops[0]
    value = condition[op]
    value_test = OPERATORS[op](value, f"{path}.{op}")
    test = _field_condition(field, value_test)
    if isinstance(value_test, _Members):  # $eq / $in: answerable from the metadata index
        return test, IndexTerm(field, value_test.wants)
    return test, None


def _node(obj: object, path: str, depth: int) -> Compiled:
    """One filter dict (F-1, F-2, F-3, R-F-2, FLT-1, FLT-2, FLT-5, FLT-7): one of three shapes, no other keys."""
    if not isinstance(obj, Mapping):
        raise invalid(f"{path}: MetadataFilter must be a dict (any mapping), got {_kind(obj)}")
    for key in _COMBINATORS:
        if key in obj:
            others = [k for k in obj if k != key]
            if others:
                raise invalid(
                    f"{path}: unexpected key {_show(others[0])} beside {key!r}; a {key} filter has exactly one key "
                    f"({key}: [filters...]), nest further filters inside it"
                )
            return _combination(key, obj[key], f"{path}.{key}", depth)
    if "field" not in obj:
        keys = ", ".join(_show(k) for k in list(obj)[:5]) or "none"
        raise invalid(f"{path}: Filter dict must contain 'field' and 'condition', or '$and'/'$or'; got keys: {keys}")
    if "condition" not in obj:
        raise invalid(f'{path}: Filter dict must contain \'condition\' key, for example {{"$eq": "x"}}')
    for key in obj:
        if key not in ("field", "condition"):
            raise invalid(
                f"{path}: unknown key {_show(key)}; a field condition has exactly the keys 'field' and 'condition'"
            )
    field = obj["field"]
    if not isinstance(field, str):
        raise invalid(f"{path}.field: field must be a str naming a metadata key, got {_kind(field)}")
    return _condition(str.__str__(field), obj["condition"], f"{path}.condition")


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


@final
class Filter:
    """An immutable compiled metadata filter. Build it with :func:`compile_filter`."""

    __slots__ = ("_exact", "_plan", "_test")
    _test: NodeTest
    _plan: IndexPlan
    _exact: bool

    def __init__(self, test: NodeTest, plan: IndexPlan = None) -> None:
        object.__setattr__(self, "_test", test)
        object.__setattr__(self, "_plan", plan)
        object.__setattr__(self, "_exact", plan is not None and _is_exact(plan))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Filter is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Filter is immutable")

    def matches(self, metadata: Mapping[str, str] | None) -> bool:
        """Does a document with this metadata match? ``None`` metadata has no fields (F-8)."""
        return self._test(_EMPTY if metadata is None else metadata)

    @property
    def index_plan(self) -> IndexPlan:
        """How an inverted index can answer this filter (see the module docstring), or None."""
        return self._plan

    @property
    def exact_plan(self) -> bool:
        """True when :attr:`index_plan` selects exactly the matching documents (no evaluation needed)."""
        return self._exact

    def __repr__(self) -> str:
        return "<moss_ref Filter>"


def _is_exact(plan: IndexPlan) -> bool:
    if plan is None:
        return False
    if isinstance(plan, IndexTerm):
        return True
    return all(_is_exact(part) for part in plan.parts)


def compile_filter(obj: object, path: str = "filter", *, strict: bool = False) -> Filter:
    """Parse and check the whole filter ``obj`` (R-F-2), returning a fast immutable :class:`Filter`.

    Raises InvalidArgumentError naming ``path`` plus the location of the bad clause. ``strict``
    (STRICT-1) also refuses filters the real SDK accepts but cannot mean anything by.
    """
    return Filter(*_node(obj, path, 0))
