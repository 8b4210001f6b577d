"""Bjøntegaard delta rate: the average bitrate change at equal quality between two RD curves.

Classic method (VCEG-M33): fit log-rate as a cubic polynomial of PSNR for each curve, integrate both
over the overlapping PSNR range, and turn the mean log-rate difference into a percentage. The
piecewise-cubic variant interpolates with PCHIP instead of a global cubic fit.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator


def _sorted(rate, psnr) -> tuple[np.ndarray, np.ndarray]:
    rate, psnr = np.asarray(rate, dtype=np.float64), np.asarray(psnr, dtype=np.float64)
    order = np.argsort(psnr)
    return np.log(rate[order]), psnr[order]


def bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test, method: str = "cubic") -> float:
    """Percent rate change of the test curve against the anchor at equal PSNR (negative: test is better)."""
    log_a, p_a = _sorted(rate_anchor, psnr_anchor)
    log_t, p_t = _sorted(rate_test, psnr_test)
    low, high = max(p_a.min(), p_t.min()), min(p_a.max(), p_t.max())
    if high <= low:
        raise ValueError("the two curves have no overlapping PSNR range")
    if method == "cubic":
        integrals = []
        for log_r, p in ((log_a, p_a), (log_t, p_t)):
            poly = np.polyint(np.polyfit(p, log_r, 3))
            integrals.append(np.polyval(poly, high) - np.polyval(poly, low))
    elif method == "pchip":
        integrals = [PchipInterpolator(p, log_r).integrate(low, high) for log_r, p in ((log_a, p_a), (log_t, p_t))]
    else:
        raise ValueError(f"unknown BD-rate method '{method}' (cubic or pchip)")
    mean_diff = (integrals[1] - integrals[0]) / (high - low)
    return float((np.exp(mean_diff) - 1) * 100)
