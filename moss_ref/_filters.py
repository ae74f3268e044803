"""Metadata filters: parse and check a whole filter once, then match many documents fast.

Grammar (F-1, FLT-1)::

    filter    := {"field": str, "condition": {op: value}}
               | {"$and": [filter, ...]} | {"$or": [filter, ...]}
    op        := $eq | $ne | $gt | $gte | $lt | $lte      (value: str | int | float)
               | $in | $nin                               (value: list of those)
               | $near                                    (value: "lat,lng,maxDistanceMeters")

The rules (FLT-n in ``docs/rules/filters.md``) are the real ``moss`` 1.21 binding's, observed,
including what it does with filters that say two things at once: a dict holding ``$and`` is an
``$and`` whatever else it holds (then ``$or``, then ``field``); a condition uses its first
operator in the order of :data:`PRECEDENCE` and ignores the rest, unchecked; an empty ``$and``
matches every document and an empty ``$or`` none. :func:`compile_filter` with ``strict=True``
(STRICT-1) refuses those filters instead.

:func:`compile_filter` checks every clause it will use before any document is seen (FLT-25) and
returns a :class:`Filter`: a tree of closures with every filter value converted once (F-4) and the
``$near`` centre pre-computed. It walks the filter without recursion, so any nesting depth the
input has is compiled (FLT-26). Every rejection is an
:class:`~moss_ref._errors.InvalidArgumentError` whose message starts with the path of the bad
clause (``filter.$and[1].condition: ...``); where the real SDK raises ``TypeError`` it is an
:class:`~moss_ref._errors.InvalidArgumentTypeError`, a ``TypeError`` too.

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
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Optional, Union, final

from ._errors import invalid, invalid_type
from ._filter_values import range_number, value_text
from ._geo import EARTH_RADIUS_M, near_test

__all__ = [
    "EARTH_RADIUS_M",
    "Filter",
    "IndexAll",
    "IndexAny",
    "IndexPlan",
    "IndexTerm",
    "compile_filter",
    "filter_value_text",
    "OPERATORS",
    "PRECEDENCE",
    "MAX_DEPTH",
]

Metadata = Mapping[str, str]
NodeTest = Callable[[Metadata], bool]
"""A compiled filter node: does this document's metadata match?"""
ValueTest = Callable[[str], bool]
"""A compiled operator: does this stored metadata string satisfy it?"""
OperatorCompiler = Callable[[object, object, bool], ValueTest]
"""Validate an operator's raw value (with its path, whose str() names it in messages, and the strict flag)."""


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

MAX_DEPTH: Final = 100
"""Deepest nesting of ``$and``/``$or`` strict mode allows (FLT-26); the default has no limit."""

_CLOSURE_HEIGHT: Final = 200
"""Up to this height a compiled tree is nested closures; a taller one is evaluated by a loop."""

_EMPTY: Final[Metadata] = MappingProxyType({})
PRECEDENCE: Final = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$near", "$in", "$nin")
"""The order in which a condition's operator is chosen when it holds several (FLT-6, observed)."""
_OPERATOR_LIST: Final = "$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $near"  # the real SDK's wording and order


# --------------------------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------------------------


def _show(value: object, limit: int = 60) -> str:
    """``repr`` for error messages, shortened so a huge value cannot flood a log line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: object) -> str:
    return type(value).__name__


@final
class _Path:
    """Where a clause sits (``filter.$and[1].condition``), rendered only when an error names it.

    Building the text eagerly would cost time quadratic in the nesting depth.
    """

    __slots__ = ("_parent", "_suffix")

    def __init__(self, suffix: str, parent: Optional[_Path] = None) -> None:
        self._parent, self._suffix = parent, suffix

    def child(self, suffix: str) -> _Path:
        return _Path(suffix, self)

    def __str__(self) -> str:
        parts: list[str] = []
        node: Optional[_Path] = self
        while node is not None:
            parts.append(node._suffix)
            node = node._parent
        return "".join(reversed(parts))


def filter_value_text(value: object) -> str:
    """F-4: the string one filter scalar is compared as (see FLT-9); raises InvalidArgumentError."""
    return value_text(value, "value")


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


def _eq(value: object, path: object, strict: bool) -> ValueTest:
    """``$eq`` (F-5, FLT-16): the stored string equals the converted value exactly."""
    return _Members(frozenset((value_text(value, path, strict),)))


def _ne(value: object, path: object, strict: bool) -> ValueTest:
    """``$ne`` (F-5, FLT-16): the stored string differs from the converted value."""
    want = value_text(value, path, strict)

    def ne(stored: str) -> bool:
        return stored != want

    return ne


def _value_set(value: object, path: object, strict: bool) -> frozenset[str]:
    """The converted members of a ``$in``/``$nin`` list (F-3, FLT-15); strict refuses an empty list."""
    if not isinstance(value, list):
        raise invalid_type(f"{path}: $in/$nin value must be a list, got {_kind(value)}")
    if strict and not value:
        raise invalid(
            f"{path}: $in/$nin value must be a list with at least one value (strict mode; an empty $in "
            "matches nothing, an empty $nin every document having the field)"
        )
    base = path if isinstance(path, _Path) else _Path(str(path))
    return frozenset(value_text(item, base.child(f"[{i}]"), strict) for i, item in enumerate(value))


def _in(value: object, path: object, strict: bool) -> ValueTest:
    """``$in`` (F-5, FLT-16): the stored string equals one of the converted values."""
    return _Members(_value_set(value, path, strict))


def _nin(value: object, path: object, strict: bool) -> ValueTest:
    """``$nin`` (F-5, FLT-16): the stored string equals none of the converted values."""
    wants = _value_set(value, path, strict)

    def nin(stored: str) -> bool:
        return stored not in wants

    return nin


def _range(compare: Callable[[Any, Any], bool]) -> OperatorCompiler:  # operator.gt/ge/lt/le
    """``$gt $gte $lt $lte`` (F-6, FLT-17): ``stored <compare> value``, within one class of text.

    Two range numbers (FLT-18) compare as floats, two other texts by code point; a number and
    other text never satisfy a range. The filter side is converted and classified once, here.
    """

    def compile_range(value: object, path: object, strict: bool) -> ValueTest:
        want = value_text(value, path, strict)
        want_number = range_number(want)
        if want_number is None:

            def by_text(stored: str) -> bool:
                return range_number(stored) is None and compare(stored, want)

            return by_text

        def by_number(stored: str) -> bool:
            number = range_number(stored)
            return number is not None and compare(number, want_number)

        return by_number

    return compile_range


def _near(value: object, path: object, strict: bool) -> ValueTest:
    """``$near "lat,lng,meters"`` (F-10, FLT-20..FLT-23); the value is converted like any scalar first."""
    return near_test(value_text(value, path, strict), path, strict)


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
"""Operator name -> compiler. The whole operator vocabulary (F-3); strict mode refuses anything else."""


# --------------------------------------------------------------------------------------------
# Compiled nodes
# --------------------------------------------------------------------------------------------

Tree = Union[NodeTest, tuple[bool, tuple["Tree", ...]]]
"""A compiled node as data: a leaf test, or ``(is_and, children)``."""


@dataclass(frozen=True)
class _Built:
    """One compiled node: its data tree, its closure (None when too tall), index plan, height."""

    tree: Tree
    test: Optional[NodeTest]
    plan: IndexPlan
    exact: bool
    height: int


def _always(value: bool) -> NodeTest:
    def constant(metadata: Metadata) -> bool:
        return value

    return constant


def _field_condition(field: str, test: ValueTest) -> NodeTest:
    """F-8 / FLT-19: a document without the field never matches, whatever the operator."""

    def field_condition(metadata: Metadata) -> bool:
        stored = metadata.get(field)
        return stored is not None and test(stored)

    return field_condition


def _all_of(children: tuple[NodeTest, ...]) -> NodeTest:
    """``$and`` (F-9, FLT-3): every child matches (evaluated left to right, stopping at the first miss)."""

    def all_of(metadata: Metadata) -> bool:
        for child in children:
            if not child(metadata):
                return False
        return True

    return all_of


def _any_of(children: tuple[NodeTest, ...]) -> NodeTest:
    """``$or`` (F-9, FLT-3): at least one child matches (stopping at the first hit)."""

    def any_of(metadata: Metadata) -> bool:
        for child in children:
            if child(metadata):
                return True
        return False

    return any_of


def _evaluate(tree: Tree, metadata: Metadata) -> bool:
    """Evaluate a data tree with an explicit stack (FLT-26: any depth, no recursion), short-circuiting."""
    stack: list[list[Any]] = []
    node = tree
    while True:
        if isinstance(node, tuple):
            is_and, children = node
            if children:
                stack.append([is_and, children, 1])
                node = children[0]
                continue
            value = is_and  # an empty $and matches, an empty $or does not
        else:
            value = node(metadata)
        while stack:
            frame = stack[-1]
            is_and, children, i = frame
            if value != is_and or i == len(children):  # $and saw a miss / $or a hit, or all seen
                stack.pop()
                continue
            frame[2] = i + 1
            node = children[i]
            break
        else:
            return value


def _leaf(test: NodeTest, plan: IndexPlan) -> _Built:
    return _Built(test, test, plan, plan is not None, 1)


def _combine(key: str, children: list[_Built]) -> _Built:
    """``$and``/``$or`` over compiled children (F-9, FLT-3, FLT-4): empty ``$and`` all, empty ``$or`` none."""
    is_and = key == "$and"
    if not children:
        return _leaf(_always(is_and), None if is_and else IndexAny(()))
    if len(children) == 1:
        return children[0]
    height = 1 + max(child.height for child in children)
    tree: Tree = (is_and, tuple(child.tree for child in children))
    if height > _CLOSURE_HEIGHT:
        return _Built(tree, None, None, False, height)  # evaluated by _evaluate, answered without the index
    tests = tuple(child.test for child in children if child.test is not None)
    test = (_all_of if is_and else _any_of)(tests)
    plans = tuple(child.plan for child in children)
    plan: IndexPlan
    if is_and:
        plan = IndexAll(plans) if any(p is not None for p in plans) else None
        exact = all(child.exact for child in children)
    else:
        plan = None if any(p is None for p in plans) else IndexAny(plans)
        exact = plan is not None and all(child.exact for child in children)
    return _Built(tree, test, plan, exact, height)


# --------------------------------------------------------------------------------------------
# Parsing: one filter dict at a time, without recursion
# --------------------------------------------------------------------------------------------


class _Open:
    """An ``$and``/``$or`` whose children are being compiled."""

    __slots__ = ("built", "depth", "ident", "items", "key", "path")

    def __init__(self, key: str, items: list[object], path: _Path, depth: int) -> None:
        self.key, self.items, self.path, self.depth = key, items, path, depth
        self.ident = id(items)
        self.built: list[_Built] = []


def _strict_keys(obj: dict[Any, Any], path: _Path) -> None:
    """STRICT-1 / FLT-5: a filter dict holds exactly one shape and no other key."""
    for key in ("$and", "$or"):
        if key in obj:
            others = [k for k in obj if k != key]
            if others:
                raise invalid(
                    f"{path}: unexpected key {_show(others[0])} beside {key!r}; a {key} filter has exactly one key "
                    f"({key}: [filters...]), nest further filters inside it (strict mode; the real SDK ignores it)"
                )
            return
    for key in obj:
        if key not in ("field", "condition"):
            raise invalid(
                f"{path}: unknown key {_show(key)}; a field condition has exactly the keys 'field' and 'condition' "
                "(strict mode; the real SDK ignores it)"
            )


def _strict_operators(field: str, condition: dict[Any, Any], path: _Path) -> None:
    """STRICT-1 / FLT-6: a condition holds exactly one operator, a known one."""
    ops = list(condition)
    for op in ops:
        if op not in OPERATORS:
            raise invalid(
                f"{path}: unknown operator {_show(op)}; Filter condition must contain one of: {_OPERATOR_LIST} "
                "(strict mode; the real SDK ignores it beside a known one)"
            )
    if len(ops) > 1:
        name = json.dumps(field[:40], ensure_ascii=False)
        example = (
            f'{{"$and": [{{"field": {name}, "condition": {{"{ops[0]}": ...}}}}, '
            f'{{"field": {name}, "condition": {{"{ops[1]}": ...}}}}]}}'
        )
        raise invalid(
            f"{path}: a condition takes exactly one operator, got {', '.join(ops)}; combine conditions with $and, "
            f"for example {example} (strict mode; the real SDK uses only the first in the order "
            f"{', '.join(PRECEDENCE)})"
        )


def _field_node(obj: dict[Any, Any], path: _Path, strict: bool) -> _Built:
    """``{"field": ..., "condition": {op: value}}`` (F-1, F-3, FLT-5..FLT-7), checked in the real SDK's order."""
    if "field" not in obj:
        keys = ", ".join(_show(k) for k in list(obj)[:5]) or "none"
        raise invalid(f"{path}: Filter dict must contain 'field' and 'condition', or '$and'/'$or'; got keys: {keys}")
    field = obj["field"]
    if not isinstance(field, str):
        raise invalid_type(f"{path}.field: field must be a str naming a metadata key, got {_kind(field)}")
    if "condition" not in obj:
        raise invalid(f'{path}: Filter dict must contain \'condition\' key, for example {{"$eq": "x"}}')
    condition = obj["condition"]
    cpath = path.child(".condition")
    if not isinstance(condition, dict):
        raise invalid_type(f'{cpath}: \'condition\' must be a dict like {{"$eq": "x"}}, got {_kind(condition)}')
    field = str.__str__(field)
    if strict:
        _strict_operators(field, condition, cpath)
    op = next((op for op in PRECEDENCE if op in condition), None)
    if op is None:
        got = ", ".join(_show(k) for k in list(condition)[:5]) or "an empty condition"
        raise invalid(f"{cpath}: Filter condition must contain one of: {_OPERATOR_LIST}; got {got}")
    value_test = OPERATORS[op](condition[op], cpath.child(f".{op}"), strict)
    test = _field_condition(field, value_test)
    if isinstance(value_test, _Members):  # $eq / $in: answerable from the metadata index
        return _leaf(test, IndexTerm(field, value_test.wants))
    return _leaf(test, None)


def _enter(
    obj: object, path: _Path, depth: int, strict: bool, open_: list[_Open], open_ids: set[int]
) -> Optional[_Built]:
    """Compile a field condition, or open an ``$and``/``$or`` on ``open_`` (FLT-1, FLT-4, FLT-5, FLT-26)."""
    if not isinstance(obj, dict):
        raise invalid_type(f"{path}: MetadataFilter must be a dict, got {_kind(obj)}")
    key = "$and" if "$and" in obj else "$or" if "$or" in obj else None
    if key is None:
        if strict:
            _strict_keys(obj, path)
        return _field_node(obj, path, strict)
    items = obj[key]
    kpath = path.child(f".{key}")
    if not isinstance(items, list):
        raise invalid_type(f"{kpath}: {key} value must be a list of filters, got {_kind(items)}")
    if strict:
        _strict_keys(obj, path)
    if strict and not items:
        raise invalid(
            f"{kpath}: {key} value must be a list with at least one filter (strict mode; an empty $and matches "
            "every document, an empty $or none)"
        )
    if strict and depth >= MAX_DEPTH:
        raise invalid(f"{kpath}: filters may nest at most {MAX_DEPTH} levels of $and/$or (strict mode)")
    if id(items) in open_ids:
        raise invalid(f"{kpath}: the filter contains itself; a filter must be a finite tree")
    open_.append(_Open(key, items, kpath, depth))
    open_ids.add(id(items))
    return None


def _compile(obj: object, path: _Path, strict: bool) -> _Built:
    """Compile the whole filter depth first with an explicit stack of open ``$and``/``$or`` nodes."""
    open_: list[_Open] = []
    open_ids: set[int] = set()
    result = _enter(obj, path, 0, strict, open_, open_ids)
    while open_:
        frame = open_[-1]
        i = len(frame.built)
        if i < len(frame.items):
            child = _enter(frame.items[i], frame.path.child(f"[{i}]"), frame.depth + 1, strict, open_, open_ids)
            if child is not None:
                frame.built.append(child)
            continue
        open_.pop()
        open_ids.discard(frame.ident)
        built = _combine(frame.key, frame.built)
        if open_:
            open_[-1].built.append(built)
        else:
            result = built
    assert result is not None
    return result


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

    def __init__(self, test: NodeTest, plan: IndexPlan = None, exact: bool = False) -> None:
        object.__setattr__(self, "_test", test)
        object.__setattr__(self, "_plan", plan)
        object.__setattr__(self, "_exact", plan is not None and exact)

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


def compile_filter(obj: object, path: str = "filter", *, strict: bool = False) -> Filter:
    """Parse and check the filter ``obj`` (FLT-25), returning a fast immutable :class:`Filter`.

    Raises InvalidArgumentError naming ``path`` plus the location of the bad clause. ``strict``
    (STRICT-1) also refuses filters the real SDK accepts but cannot mean anything by.
    """
    built = _compile(obj, _Path(path), strict)
    if built.test is not None:
        return Filter(built.test, built.plan, built.exact)
    tree = built.tree

    def deep(metadata: Metadata) -> bool:
        return _evaluate(tree, metadata)

    return Filter(deep)
