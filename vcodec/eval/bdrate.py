"""Bjøntegaard deltas: the average bitrate change at equal quality (BD-rate) and the average quality
change at equal bitrate (BD-PSNR) between two RD curves.

Classic method (VCEG-M33): fit log-rate as a cubic polynomial of quality (or quality of log-rate) for
each curve and integrate both over the overlapping range. The piecewise-cubic variant interpolates
with PCHIP instead of one global cubic, which behaves on long sweeps where a cubic overshoots.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

METHODS = ("cubic", "pchip")


def _curve(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Finite points sorted by x, with points of equal x averaged (PCHIP needs x strictly increasing)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    unique, inverse = np.unique(x, return_inverse=True)
    means = np.bincount(inverse, weights=y) / np.bincount(inverse)
    if unique.size < 4:
        raise ValueError("a curve needs at least four distinct points")
    return unique, means


def _mean_difference(anchor: tuple, test: tuple, method: str) -> float:
    """Mean of (test − anchor) of y as a function of x, over the x range both curves cover."""
    (x_a, _), (x_t, _) = anchor, test
    low, high = max(x_a.min(), x_t.min()), min(x_a.max(), x_t.max())
    if high <= low:
        raise ValueError("the two curves do not overlap")
    if method == "cubic":
        integrals = [
            np.diff(np.polyval(np.polyint(np.polyfit(x, y, 3)), [low, high]))[0]
            for x, y in (anchor, test)
        ]
    elif method == "pchip":
        integrals = [PchipInterpolator(x, y).integrate(low, high) for x, y in (anchor, test)]
    else:
        raise ValueError(f"unknown Bjøntegaard method '{method}' ({' or '.join(METHODS)})")
    return float((integrals[1] - integrals[0]) / (high - low))


def bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test, method: str = "cubic") -> float:
    """Percent rate change of the test curve against the anchor at equal quality (negative: test is better)."""
    anchor = _curve(psnr_anchor, np.log(np.asarray(rate_anchor, dtype=np.float64)))
    test = _curve(psnr_test, np.log(np.asarray(rate_test, dtype=np.float64)))
    return float((np.exp(_mean_difference(anchor, test, method)) - 1) * 100)


def bd_psnr(rate_anchor, psnr_anchor, rate_test, psnr_test, method: str = "cubic") -> float:
    """Quality change in dB of the test curve against the anchor at equal rate (positive: test is better)."""
    anchor = _curve(np.log(np.asarray(rate_anchor, dtype=np.float64)), psnr_anchor)
    test = _curve(np.log(np.asarray(rate_test, dtype=np.float64)), psnr_test)
    return _mean_difference(anchor, test, method)
