"""The k-th largest value of a large score array, without one partition of the whole array.

``np.partition`` over 100,000 scores costs about as much as the rest of a keyword ranking, and
more when the scores hold many ties (BM25 scores take few distinct values; most rows score 0 for
rare words). A strided sample's k-th largest ``t0`` is at most the array's own k-th largest ``K``
(the sample's k largest are k values of the array). If at least k values exceed ``t0``, the k
largest are among them and their k-th largest is ``K``; otherwise ``K <= t0``, so ``K == t0``.
Either way the same value as a partition of the whole array, from a partition of a few thousand.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["kth_largest"]


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
