"""Parent grouping (S-26, S-31, Q-11): collapse sibling documents into one result per parent.

Common to both paths: documents sharing the value of metadata field ``parent_field`` (``""``
included) form one group, whose result has ``id`` = the parent value and ``text`` = the
siblings' texts joined by ``"\\n"`` in ``order_field`` order (the ``sort_by`` key of
``_ordering``: numbers, then text, then missing; ties by id); a document without
``parent_field`` stays a group of its own (its own id, text, metadata).

Queries (:func:`collapse`, observed: moss 1.21.0): the text joins the siblings among the ranked
hits; ``metadata`` and ``payload`` are those of the first sibling in ``order_field`` order, the
score is the highest of its siblings, and groups come in the order of their best-placed sibling.

``get_docs`` (:func:`group_documents`, observed: moss 1.21.0): the group's ``metadata`` and
``payload`` are those of its first member in ``order_field`` order; the groups come in the
order of their first member in the fetched list, and after all of them the documents without
``parent_field``, in list order. Repeated ids (``doc_ids`` may repeat one) stay repeated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Optional, TypeVar

from ._corpus import Record
from ._ordering import field_key

T = TypeVar("T")


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
        ordered = _in_field_order(members, record_of, order_field) if has_parent else members
        out.append(Group(group_id, "\n".join(record_of(m).text for m in ordered), members, ordered))
    return out


def _in_field_order(members: Sequence[T], record_of: Callable[[T], Record], order_field: str) -> list[T]:
    return sorted(members, key=lambda m: (field_key(record_of(m), order_field), record_of(m).id))


def group_documents(records: Sequence[Record], parent_field: str, order_field: str) -> list[tuple[Record, str, str]]:
    """``get_docs`` grouping → ``(leader, group id, text)``: parent groups first, then the rest."""
    groups: dict[str, list[Record]] = {}
    alone: list[Record] = []
    for record in records:
        parent: Optional[str] = (record.metadata or {}).get(parent_field)
        if parent is None:
            alone.append(record)
        else:
            groups.setdefault(parent, []).append(record)
    out: list[tuple[Record, str, str]] = []
    for parent, members in groups.items():
        ordered = _in_field_order(members, lambda r: r, order_field)
        out.append((ordered[0], parent, "\n".join(r.text for r in ordered)))
    out.extend((r, r.id, r.text) for r in alone)
    return out
