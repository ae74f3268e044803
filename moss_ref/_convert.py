"""How the public value types read what they are given: as moss 1.21's native types do (API-6).

The real SDK's ``DocumentInfo``, ``QueryOptions``, ``GetDocumentsOptions``, ``ParentGrouping``
and ``MutationOptions`` convert every field when it is set, in the constructor and on
assignment alike, and raise ``TypeError`` (``OverflowError`` for a negative or too large count)
right there (observed: moss 1.21.0):

* a string field takes any ``str`` and keeps a plain ``str`` copy (a subclass's value, not the
  subclass; an ``enum.StrEnum`` member becomes its value);
* a number field (``alpha``, ``min_score``) takes anything ``float()`` takes *except* a string:
  int, bool, Fraction, Decimal, an object with ``__float__`` or ``__index__`` (an int too large
  for a float is an ``OverflowError``, as ``float()`` raises it);
* a count (``top_k``, ``candidate_depth``) takes an int, a bool or an object with ``__index__``
  (not a float, not a string), and overflows below 0 and at 2**64;
* an embedding takes a sequence (a list, a tuple, anything with ``__len__`` and ``__getitem__``
  but a ``str``, ``bytes`` or mapping) of numbers read as float32;
* a flag (``upsert``, ``ascending``) takes only a bool.

Each function raises the SDK's exception type with a message naming the field, what it got and
what it accepts.
"""

from __future__ import annotations

import math
import operator
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional


def text(name: str, value: object) -> str:
    """A plain ``str`` copy of a ``str`` (of a subclass too); TypeError for anything else."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, got {type(value).__name__}")
    return str.__str__(value)  # the exact str of the same characters, whatever the subclass


def optional_text(name: str, value: object) -> Optional[str]:
    return None if value is None else text(name, value)


def _as_float(name: str, value: object) -> float:
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    try:
        return float(value)  # type: ignore[arg-type]  # an int too large for a float: OverflowError, as in moss
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}") from None


def number(name: str, value: object) -> Optional[float]:
    """A real number as a float; ±inf beyond the float32 range (the SDK reads it as float32).

    The value itself is kept in float64 (ranking with it is what the rules and tests pin).
    """
    if value is None:
        return None
    x = _as_float(name, value)
    rounded = array("f", [x])[0]  # beyond the float32 range the cast is ±inf; a value rounding to the maximum is not
    return rounded if math.isinf(rounded) else x


def count(name: str, value: object) -> Optional[int]:
    """A non-negative int below 2**64 (an unsigned 64-bit field): int, bool or ``__index__``."""
    if value is None:
        return None
    try:
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be a non-negative int, got {type(value).__name__}") from None
    if n < 0:
        raise OverflowError(f"{name}: can't convert negative int to unsigned (got {n})")
    if n >= 2**64:
        raise OverflowError(f"{name}: int too big to convert (at most 2**64 - 1)")
    return int(n)


def flag(name: str, value: object) -> Optional[bool]:
    """None or a bool (an int is not a bool here)."""
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be a bool or None, got {type(value).__name__}")


def _is_sequence(value: object) -> bool:
    kind = type(value)
    return (
        not isinstance(value, (str, bytes, bytearray, Mapping))
        and hasattr(kind, "__len__")
        and hasattr(kind, "__getitem__")
    )


def float32_array(name: str, value: object) -> array[float]:
    """A sequence of numbers as one ``array('f')`` (±inf beyond the float32 range, as a cast gives)."""
    if type(value) is array and value.typecode == "f":
        return array("f", value)
    if not _is_sequence(value):
        raise TypeError(f"{name} must be a sequence of numbers (a list or tuple), got {type(value).__name__}")
    numbers: Iterable[float] = value  # type: ignore[assignment]
    try:
        return array("f", numbers)  # float() of each item, at C speed
    except TypeError:
        items: Sequence[object] = value  # type: ignore[assignment]
        for i, x in enumerate(items):
            _as_float(f"{name}[{i}]", x)  # names the first item that is not a number
        raise


def float32_list(name: str, value: object) -> list[float]:
    """:func:`float32_array` as a list of floats."""
    return float32_array(name, value).tolist()


def text_list(name: str, value: object) -> list[str]:
    """A sequence of ``str`` (not one ``str``) as a list of plain ``str``."""
    if not _is_sequence(value):
        raise TypeError(f"{name} must be a list of str, got {type(value).__name__}")
    items: Sequence[object] = value  # type: ignore[assignment]
    return [text(f"{name}[{i}]", x) for i, x in enumerate(items)]


def text_mapping(name: str, value: object) -> dict[str, str]:
    """A dict of ``str`` to ``str`` as a new dict of plain ``str``."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of str to str, got {type(value).__name__}")
    out: dict[str, str] = {}
    for k, v in value.items():
        key = text(f"{name} key", k)
        out[key] = text(f"{name}[{key!r}]", v)
    return out


def instance(name: str, value: object, kind: type, label: str) -> Any:
    """None or an instance of ``kind``; TypeError otherwise."""
    if value is None or isinstance(value, kind):
        return value
    raise TypeError(f"{name} must be a {label} or None, got {type(value).__name__}")


__all__ = [
    "count",
    "flag",
    "float32_list",
    "instance",
    "number",
    "optional_text",
    "text",
    "text_list",
    "text_mapping",
]
