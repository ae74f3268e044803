"""Deterministic document orders for ``get_docs`` (DOC-10..DOC-12; observed: moss 1.21.0).

* no ids, no ``sort_by``: ascending id by code point, whatever the insertion, upsert or delete
  history;
* ``sort_by=<field>``: every document gets a key — a *number* when its value is a plain decimal
  (``-?[0-9]+(\\.[0-9]+)?``, ASCII digits, no ``+``, no exponent) whose float64 value is finite,
  else *text*, or *missing* when the document lacks the field. Numbers come before text, text
  before missing. Numbers compare by float64 value, then by their text (so ``"1"`` < ``"1.0"``
  and ``"99999999999999999998"`` < ``"99999999999999999999"``, equal as floats); text by code
  point. ``ascending=False`` reverses that whole key order — documents without the field come
  first — but documents with equal keys (the same text, or both missing) are always in
  ascending id order.
"""

from __future__ import annotations

import math
import re
from typing import Union

from ._corpus import Record

_PLAIN = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

#: (class, float value, text): class 0 = number, 1 = text, 2 = missing.
_Key = tuple[int, float, str]
_MISSING: _Key = (2, 0.0, "")


def value_key(value: Union[str, None]) -> _Key:
    """The ascending sort key of one metadata value (None = the field is missing)."""
    if value is None:
        return _MISSING
    if _PLAIN.fullmatch(value) is not None:
        number = float(value)
        if math.isfinite(number):
            return (0, number, value)
    return (1, 0.0, value)


def field_key(record: Record, field: str) -> _Key:
    return value_key((record.metadata or {}).get(field))


def sort_records(records: list[Record], field: str, ascending: bool) -> list[Record]:
    """Order ``records`` by ``field`` as the module docstring says (ties by ascending id)."""
    out = sorted(records, key=lambda r: r.id)
    out.sort(key=lambda r: field_key(r, field), reverse=not ascending)  # stable: ties keep id order
    return out
