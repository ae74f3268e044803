"""The k-th largest value of a large score array, without one partition of the whole array.

``np.partition`` over 100,000 scores costs about as much as the rest of a keyword ranking, and
more when the scores hold many ties (BM25 scores take few distinct values; most rows score 0 for
rare words). A strided sample's k-th largest ``t0`` is at most the array's own k-th largest ``K``
(the sample's k largest are k values of the array). If at least k values exceed ``t0``, the k
largest are among them and their k-th largest is ``K``; otherwise ``K <= t0``, so ``K == t0``.
Either way the same value as a partition of the whole array, from a partition of a few thousand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["kth_largest", "rows_near_top"]


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
