"""Filter scalars: how a filter value becomes text (FLT-9..FLT-14) and which texts are numbers (FLT-18).

Both rules are the real ``moss`` 1.21 binding's, observed:

* a ``str`` is kept as it is; any other value is read as a float the way CPython's
  ``PyFloat_AsDouble`` reads it (``__float__``, else ``__index__``), so ``int``, ``bool``,
  ``Decimal``, ``Fraction`` and ``IntEnum`` all pass, an ``int`` loses the digits a float cannot
  hold, and ``True`` is ``1``. The float is then written as integer text when it is integral with
  ``|x| < 2**63``, as ``NaN``/``inf``/``-inf`` when it is not finite, and otherwise as its
  shortest round-trip digits without an exponent;
* a *range number* is ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?`` whose float value is finite. Range
  operators compare two range numbers as floats and two other texts by code point, and a range
  number never compares with other text.
"""

from __future__ import annotations

import math
import re
from typing import Final, Optional

from ._errors import invalid, invalid_type
from ._numbers import positional

__all__ = ["float_text", "range_number", "value_text"]

_RANGE_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_TWO_63: Final = 2.0**63
_EXACT_INT: Final = 2**53


def range_number(text: str) -> Optional[float]:
    """The float value of ``text`` if range operators treat it as a number, else None (FLT-18).

    A number is an optional ``-``, then ``0`` or digits without a leading zero, then optionally
    ``.`` and one or more digits, all ASCII, with a finite float value: ``"9"``, ``"-0"``,
    ``"30.0"`` and ``"0.10"`` are numbers; ``"+5"``, ``"007"``, ``"5."``, ``".5"``, ``"1e3"``,
    ``" 5"``, ``"inf"`` and a 400-digit integer (infinite as a float) are text.
    """
    if _RANGE_NUMBER.fullmatch(text) is None:
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def float_text(number: float) -> str:
    """The text a float filter value is compared as (FLT-9).

    Integral with ``|x| < 2**63``: integer text (``10.0 -> "10"``, ``-0.0 -> "0"``); NaN and the
    infinities: ``"NaN"``, ``"inf"``, ``"-inf"``; otherwise the shortest round-trip digits without
    an exponent (``0.5 -> "0.5"``, ``2.0**63 -> "9223372036854776000"``).
    """
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if number.is_integer() and abs(number) < _TWO_63:
        return int.__repr__(int(number))
    return positional(number)


def _as_float(value: object, path: object) -> float:
    """``value`` read as a float the way the real binding reads it (FLT-14), else a TypeError-kind refusal."""
    kind = type(value)
    if hasattr(kind, "__float__") or hasattr(kind, "__index__"):
        try:
            return float(value)  # type: ignore[arg-type]  # __float__ or __index__, checked above
        except (TypeError, ValueError, OverflowError):
            pass
    raise invalid_type(
        f"{path}: Filter value must be a str, int, or float, got {kind.__name__}"
        + (" too large for a float; pass it as a str" if isinstance(value, int) else "")
    )


def value_text(value: object, path: object, strict: bool = False) -> str:
    """The string one filter scalar is compared as (FLT-9..FLT-14); ``path`` names it in errors.

    ``strict`` (STRICT-1) also refuses booleans, NaN and the infinities, and integers a float
    cannot hold exactly, which the real SDK accepts but compares as something else.
    """
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, even for a str subclass
    if strict and isinstance(value, bool):
        raise invalid(
            f'{path}: got the boolean {value}; metadata booleans are stored as the strings "true" and "false", '
            f'so filter with "true" or "false" instead (strict mode; the real SDK compares True as "1")'
        )
    number = _as_float(value, path)
    if strict and not math.isfinite(number):
        raise invalid(f"{path}: Filter value must be a finite number, got {number!r} (strict mode)")
    if strict and isinstance(value, int) and abs(value) > _EXACT_INT and int(number) != value:
        raise invalid(
            f"{path}: the integer {value} has no exact float value and would compare as {float_text(number)}; "
            "pass it as a str (strict mode)"
        )
    return float_text(number)
