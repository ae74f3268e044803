"""The k-th largest value of a large score array, without one partition of the whole array.

``np.partition`` over 100,000 scores costs about as much as the rest of a keyword ranking, and
more when the scores hold many ties (BM25 scores take few distinct values; most rows score 0 for
rare words). A strided sample's k-th largest ``t0`` is at most the array's own k-th largest ``K``
(the sample's k largest are k values of the array). If at least k values exceed ``t0``, the k
largest are among them and their k-th largest is ``K``; otherwise ``K <= t0``, so ``K == t0``.
Either way the same value as a partition of the whole array, from a partition of a few thousand.

``floor32`` turns a float64 bound into the float32 threshold just at or below it, for float32
scores (both numpy backends' shortlists).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

_FLOAT32_MAX = 3.4028234663852886e38

__all__ = ["floor32", "kth_largest", "rows_near_top"]


def kth_largest(scores: npt.NDArray[Any], k: int) -> float:
    """The k-th largest of ``scores`` (``1 <= k <= scores.size``), exactly as ``np.partition`` gives it."""
    m = scores.size
    step = m // (32 * k)
    if step >= 4:
        sample = scores[::step]
        t0 = np.partition(sample, sample.size - k)[sample.size - k]
        scores = scores[scores > t0]
        m = scores.size
        if m < k:
            return float(t0)
    return float(np.partition(scores, m - k)[m - k])


def rows_near_top(
    scores: npt.NDArray[Any], k: int, floor_of: Callable[[float], Any]
) -> tuple[Any, npt.NDArray[np.intp]]:
    """``(floor, rows)``: ``floor = floor_of(kth)`` for the k-th largest ``kth`` of ``scores``
    (``1 <= k <= scores.size``; ``floor_of`` must give a threshold at most its argument) and the
    rows scoring at least ``floor``, ascending. The same as :func:`kth_largest` then
    ``np.flatnonzero(scores >= floor)``, with one pass over ``scores`` instead of three.

    The rows above the sample's k-th largest ``t0`` are kept as indices (the k largest are
    among them when there are at least k, see the module docstring); when the floor turns out
    above ``t0``, every row at or above it is among them too, so the last selection looks at a
    few rows, not all of them.
    """
    m = scores.size
    step = m // (32 * k)
    if step >= 4:
        sample = scores[::step]
        t0 = np.partition(sample, sample.size - k)[sample.size - k]
        above = np.flatnonzero(scores > t0)
        if above.size >= k:
            values = scores[above]
            floor = floor_of(float(np.partition(values, above.size - k)[above.size - k]))
            if floor > t0:
                return floor, above[values >= floor]
        else:
            floor = floor_of(float(t0))
    else:
        floor = floor_of(float(np.partition(scores, m - k)[m - k]))
    return floor, np.flatnonzero(scores >= floor)


def floor32(threshold: float) -> np.float32:
    """The largest float32 at most ``threshold`` (-inf below the float32 range: still a lower bound):
    a threshold from a float64 bound that float32 scores compare against exactly.

    In the float32 range, ``array('f')`` rounds to nearest and one step of the bit pattern
    goes down from there (no numpy scalar arithmetic, no error state to set).
    """
    if not -_FLOAT32_MAX <= threshold <= _FLOAT32_MAX:  # beyond the range (or NaN): numpy decides
        with np.errstate(over="ignore"):
            t32: np.float32 = np.float32(threshold)
        if float(t32) > threshold:
            t32 = np.float32(np.nextafter(t32, np.float32(-np.inf)))
        return t32
    nearest = array("f", (threshold,))
    if nearest[0] > threshold:  # rounded up: the float32 just below, one step of its bit pattern
        bits = array("I", nearest.tobytes())
        if nearest[0] > 0.0:
            bits[0] -= 1
        elif nearest[0] == 0.0:  # +0.0 (a negative threshold above the largest negative subnormal)
            bits[0] = 0x80000001
        else:
            bits[0] += 1
        nearest = array("f", bits.tobytes())
    floor: np.float32 = np.float32(nearest[0])
    return floor
