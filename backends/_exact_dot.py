"""Exact dot products of float32 rows with a float32 query, vectorized: the bits of ``math.fsum``.

The rule (R-V-1) is the correctly rounded float64 value of ``sum(q_i * d_i)``; ``math.fsum`` of
the exact float64 products gives it, at ~12 us for a 384-d row. This module gives the same value
for a whole shortlist in about twenty numpy calls, by one error-free extraction (Rump, Ogita and
Oishi, "Accurate floating-point summation", ExtractVector). Per row, with ``u = 2**-53``:

* ``p_i = q_i * d_i`` is exact in float64 (two 24-bit significands);
* ``sigma = 2**k >= (n + 2) max|p_i|`` (``n`` terms; the largest product of all rows, so one
  ``sigma`` and one bound serve them all). ``hi_i = (sigma + p_i) - sigma`` is exact
  (Sterbenz) and ``lo_i = p_i - hi_i`` is the rounding error of ``sigma + p_i``, exact too, with
  ``|lo_i| <= 2**(k - 53)``; every ``hi_i`` is a multiple of ``2**(k - 53)`` and every partial sum
  of them is below ``sigma`` in magnitude, so ``H = sum(hi_i)`` is exact in any order;
* ``L`` = the float64 sum of the ``lo_i`` errs by at most ``gamma(n) sum|lo_i| <= gamma(n) n u
  sigma``; ``eps`` below is twice that (plus ``n 2**-1074`` for underflow), so it also covers its
  own roundings — one bound for all rows, from ``sigma`` alone;
* ``r = H + L`` rounded, ``e`` its rounding error (TwoSum, exact): the exact sum is ``r + e + x``
  with ``|x| <= eps``. When ``e - eps`` and ``e + eps`` lie strictly between ``-down / 2`` and
  ``up / 2`` (``up``, ``down``: the gaps from ``r`` to its float64 neighbours), ``r`` is the float64
  nearest to the exact sum, i.e. what ``math.fsum`` returns.

Rows that fail the test — a sum within ``eps`` (about ``2**-77`` of the largest product of all
rows) of a rounding midpoint, heavy cancellation, a result below ``2**-1000`` — are summed with
``math.fsum``, and so is every row when some product is not finite (no ``sigma`` exists then; only
a query or rows that broke the contract have one). So the result is always ``math.fsum`` of the
products.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["exact_dots"]

_U = 2.0**-53
_TINY = 2.0**-1074
_FEW_ROWS = 64  # a shortlist this short is finished in Python (see _finish)


def exact_dots(block: npt.NDArray[np.float32], q: npt.NDArray[np.float32]) -> list[float]:
    """``[math.fsum(map(operator.mul, row, q)) for row in block]`` for float32 ``block`` and ``q``.

    One ``sigma`` serves every row (that of the largest product of all): the extraction is exact
    for any power of two at least ``(n + 2)`` times a row's largest product. A row of much smaller
    products than the others gets a bound that is wide for it and may go to ``math.fsum`` (slower,
    the same bits); a shortlist's rows are alike, so that is rare where the time is spent.
    """
    n_rows, n = block.shape
    if n_rows == 0:
        return []
    products = block.astype(np.float64)
    products *= q.astype(np.float64)
    peak = float(np.abs(products).max()) if n else 0.0  # float32 x float32 never overflows float64
    if not math.isfinite(peak):  # an infinite or NaN component: frexp would give no bound at all
        return [math.fsum(row) for row in products.tolist()]
    _, exponent = math.frexp(peak)  # peak < 2**exponent
    sigma = math.ldexp(1.0, exponent + (n + 2 - 1).bit_length())  # >= (n + 2) * peak
    # sum|lo_i| <= n * 2**(k - 53) = n * u * sigma: one bound for all, no pass over lo
    eps = (4.0 * (n + 2) * n * _U * _U) * sigma + (2 * n + 2) * _TINY
    # All finite from here on: |p_i| < 2**256 and sigma <= 2**(257 + bits of n + 1), far below 2**1024.
    hi = products + sigma
    hi -= sigma
    lo = products - hi
    h = hi.sum(axis=1)
    low = lo.sum(axis=1)
    if n_rows <= _FEW_ROWS:  # the last steps in Python: a dozen numpy calls cost more for a shortlist
        return _finish(h.tolist(), low.tolist(), eps, products)
    r = h + low
    z = r - h
    e = (h - (r - z)) + (low - z)
    up = np.nextafter(r, np.inf) - r
    down = r - np.nextafter(r, -np.inf)
    ok = (e + eps < up / 2) & (e - eps > -down / 2) & (np.abs(r) >= 2.0**-1000)
    out: list[float] = r.tolist()
    if not ok.all():
        for i in np.flatnonzero(~ok).tolist():
            out[i] = math.fsum(products[i].tolist())
    return out


def _finish(h: list[float], low: list[float], bound: float, products: npt.NDArray[np.float64]) -> list[float]:
    """The TwoSum and rounding test of :func:`exact_dots` row by row, in Python floats (the same
    float64 operations, so the same bits); a row that fails it is summed with ``math.fsum``."""
    out = []
    for i, (hh, ll) in enumerate(zip(h, low)):
        r = hh + ll
        z = r - hh
        e = (hh - (r - z)) + (ll - z)
        # NaN or infinity fails these tests (inf - inf is NaN; every comparison with NaN is False)
        if (
            e + bound < (math.nextafter(r, math.inf) - r) / 2
            and e - bound > -(r - math.nextafter(r, -math.inf)) / 2
            and abs(r) >= 2.0**-1000
        ):
            out.append(r)
        else:
            out.append(math.fsum(products[i].tolist()))
    return out
