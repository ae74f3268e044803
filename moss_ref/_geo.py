"""``$near``: the ``"lat,lng,maxDistanceMeters"`` value and haversine matching (FLT-20..FLT-23).

The real ``moss`` 1.21 rules, observed: the value and a stored ``"lat,lng"`` are split at
commas; each part, trimmed of Unicode white space (as Rust's ``str::trim``), is a number in the
grammar of Rust's ``f64`` parser (sign, digits with an optional fraction — ``.5`` and ``5.``
included — optional exponent, or ``inf``/``infinity``/``nan`` in any case). The value needs three
finite numbers with a distance of at least 0; coordinates out of [-90, 90] / [-180, 180] are used
as they are. A document matches when its haversine distance (R = 6,371,000 m, differences taken
in degrees before conversion to radians) is at most the distance, boundary included.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Final, Optional

from ._errors import invalid

__all__ = ["EARTH_RADIUS_M", "near_test", "parse_number"]

EARTH_RADIUS_M: Final = 6_371_000.0

_WHITE_SPACE: Final = (
    "".join(map(chr, [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B)]))
    + "\u2028\u2029\u202f\u205f\u3000"
)  # Unicode White_Space, what Rust's str::trim removes
_NUMBER: Final = re.compile(
    r"[+-]?(?:inf|infinity|nan|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?)", re.IGNORECASE | re.ASCII
)
_NEAR_FORMAT: Final = (
    'expected "lat,lng,maxDistanceMeters", three finite numbers with a distance of 0 or more, '
    'for example "40.7580,-73.9855,5000"'
)  # the real SDK's wording


def parse_number(text: str) -> Optional[float]:
    """One number of a ``$near`` value or stored point (FLT-21), or None; may be inf or NaN."""
    text = text.strip(_WHITE_SPACE)
    return float(text) if _NUMBER.fullmatch(text) else None


def _numbers(text: str, count: int) -> Optional[list[float]]:
    parts = text.split(",")
    if len(parts) != count:
        return None
    numbers = [parse_number(part) for part in parts]
    return None if None in numbers else numbers  # type: ignore[return-value]  # no None left


def near_test(text: str, path: object, strict: bool = False) -> Callable[[str], bool]:
    """Compile the ``$near`` value ``text`` (FLT-20) into a test on a stored string (FLT-22, FLT-23).

    ``strict`` (STRICT-1) also refuses a centre outside [-90, 90] x [-180, 180].
    """
    numbers = _numbers(text, 3)
    if numbers is None or not all(map(math.isfinite, numbers)) or numbers[2] < 0:
        raise invalid(f'{path}: invalid $near value "{text[:80]}": {_NEAR_FORMAT}')
    lat0, lng0, radius = numbers
    if strict and not (-90.0 <= lat0 <= 90.0 and -180.0 <= lng0 <= 180.0):
        raise invalid(
            f'{path}: invalid $near value "{text[:80]}": latitude must lie in [-90, 90] and longitude in '
            "[-180, 180] (strict mode; the real SDK computes with it as given)"
        )
    cos_lat0 = math.cos(math.radians(lat0))  # the centre's trigonometry is done once
    sin, cos, asin, sqrt, radians, isfinite = math.sin, math.cos, math.asin, math.sqrt, math.radians, math.isfinite

    def near(stored: str) -> bool:
        point = _numbers(stored, 2)
        if point is None:
            return False
        lat, lng = point
        dlat, dlng = radians(lat - lat0), radians(lng - lng0)
        if not (isfinite(dlat) and isfinite(dlng)):
            return False  # a NaN or infinite coordinate is at no distance
        h = sin(dlat / 2) ** 2 + cos_lat0 * cos(radians(lat)) * sin(dlng / 2) ** 2
        # Rounding can push h out of [0, 1]; as in the real SDK there is no clamp: the square root of a
        # negative h or the arcsine of a root above 1 is NaN, which is at no distance (FLT-22).
        root = sqrt(h) if h >= 0.0 else math.nan
        return root <= 1.0 and 2 * EARTH_RADIUS_M * asin(root) <= radius

    return near
