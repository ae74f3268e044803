"""Deterministic document orders for ``get_docs`` (R-D-6, S-25).

* no ids, no ``sort_by``: ascending id by code point;
* ``sort_by``: documents having the field first — numbers (plain decimals, ``_filters.plain_decimal``)
  in numeric order, then text in code-point order — and documents without it last, whichever the
  direction; ``ascending=False`` reverses the order of the documents having the field; ties are
  always broken by ascending id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Union

from ._corpus import Record
from ._filters import plain_decimal

_Key = tuple[int, Union[Decimal, str], str]


def field_sort_key(record: Record, field: str) -> _Key:
    """Ascending key: (0, number, id) < (1, text, id) < (2, "", id) for missing."""
    value = (record.metadata or {}).get(field)
    if value is None:
        return (2, "", record.id)
    number = plain_decimal(value)
    if number is not None:
        return (0, number, record.id)
    return (1, value, record.id)


def sort_records(records: list[Record], field: str, ascending: bool) -> list[Record]:
    """Order ``records`` by ``field`` as the module docstring says."""
    present = [r for r in records if r.metadata is not None and field in r.metadata]
    missing = sorted((r for r in records if r.metadata is None or field not in r.metadata), key=lambda r: r.id)
    if ascending:
        present.sort(key=lambda r: field_sort_key(r, field))
    else:
        # Reverse the (group, value) order but keep ties in ascending id: sort by id, then stable
        # sort by the value key descending.
        present.sort(key=lambda r: r.id)
        present.sort(key=lambda r: field_sort_key(r, field)[:2], reverse=True)
    return present + missing
