"""Number-to-text rules shared by metadata coercion (D-6) and filter values (F-4)."""

from __future__ import annotations

from decimal import Decimal


def positional(x: float) -> str:
    """The shortest round-trip digits of a finite float, written without an exponent.

    ``0.1 -> "0.1"``, ``3.0 -> "3.0"``, ``1e16 -> "10000000000000000"``, ``1.5e-7 -> "0.00000015"``,
    ``-0.0 -> "-0.0"``. Integral values below 1e16 keep their ``.0`` exactly as ``repr`` writes them.
    """
    return format(Decimal(repr(x)), "f")
