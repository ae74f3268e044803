"""Parent grouping (S-26, S-31, Q-11): collapse sibling documents into one result per parent.

A grouped *query* result (``collapse``, observed: moss 1.21.0) has ``id`` = the parent value,
``text`` = the texts of the siblings among the ranked hits joined by ``"\\n"`` in
``order_field`` order, ``metadata`` and ``payload`` of the first sibling in that order, and the
highest ``score`` of its siblings; groups come in the order of their best-placed sibling.

get_docs grouping (``group``), reference choices:

* documents sharing the value of metadata field ``parent_field`` form one group; the group's
  result has ``id`` = the parent value, ``text`` = the siblings' texts joined by ``"\\n"`` in
  ``order_field`` order (numeric-aware like ``sort_by``; ties and missing values by id),
  ``metadata`` and ``payload`` of the group's first (best-placed) member;
* a document without ``parent_field`` stays a group of its own (its own id, text, metadata);
* groups appear in the order of their best-placed member.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Optional, TypeVar

from ._corpus import Record
from ._ordering import field_sort_key
from ._types import ParentGrouping

T = TypeVar("T")


def is_parent_grouping(value: object) -> bool:
    """A ``ParentGrouping`` whose two field names are ``str`` (the shape both get_docs and query accept)."""
    return (
        isinstance(value, ParentGrouping) and isinstance(value.parent_field, str) and isinstance(value.order_field, str)
    )


@dataclass(frozen=True)
class Group(Generic[T]):
    """One collapsed group: its members in result order and in ``order_field`` order."""

    id: str
    text: str
    members: list[T]  # result order (the first is the best-placed)
    ordered: list[T]  # order_field order (numeric-aware, ties and missing values by id)


def collapse(
    items: Sequence[T], record_of: Callable[[T], Record], parent_field: str, order_field: str
) -> list[Group[T]]:
    """Group ``items`` (already in result order) by ``parent_field``, groups in order of their first member."""
    groups: dict[tuple[bool, str], list[T]] = {}
    for item in items:
        record = record_of(item)
        parent: Optional[str] = (record.metadata or {}).get(parent_field)
        key = (True, parent) if parent is not None else (False, record.id)
        groups.setdefault(key, []).append(item)
    out: list[Group[T]] = []
    for (has_parent, group_id), members in groups.items():
        ordered = sorted(members, key=lambda m: field_sort_key(record_of(m), order_field)) if has_parent else members
        out.append(Group(group_id, "\n".join(record_of(m).text for m in ordered), members, ordered))
    return out


def group(
    items: Sequence[T],
    record_of: Callable[[T], Record],
    parent_field: str,
    order_field: str,
) -> list[tuple[T, str, str]]:
    """Group ``items`` (already in result order) → ``(leader, group id, joined text)`` per group."""
    groups: dict[tuple[bool, str], list[T]] = {}
    for item in items:
        record = record_of(item)
        parent: Optional[str] = (record.metadata or {}).get(parent_field)
        key = (True, parent) if parent is not None else (False, record.id)
        groups.setdefault(key, []).append(item)
    out: list[tuple[T, str, str]] = []
    for (has_parent, group_id), members in groups.items():
        ordered = sorted(members, key=lambda m: field_sort_key(record_of(m), order_field))
        text = "\n".join(record_of(m).text for m in ordered) if has_parent else record_of(members[0]).text
        out.append((members[0], group_id, text))
    return out
