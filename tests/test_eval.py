import json
from pathlib import Path

import numpy as np
import pytest

from vcodec.eval.bdrate import bd_rate
from vcodec.eval.metrics import bits_per_pixel, psnr_rgb

REFERENCE = json.loads((Path(__file__).parent / "data" / "compressai-kodak.json").read_text())


@pytest.mark.parametrize("row", sorted(REFERENCE["bd_rate_percent"]))
def test_bd_rate_reproduces_the_published_table(row):
    curves = REFERENCE["curves"]
    for anchor, expected in REFERENCE["bd_rate_percent"][row].items():
        got = bd_rate(curves[anchor]["bpp"], curves[anchor]["psnr-rgb"], curves[row]["bpp"], curves[row]["psnr-rgb"])
        assert abs(got - expected) <= 1.0, (row, anchor, got, expected)


def test_bd_rate_of_a_curve_against_itself_is_zero_and_halving_rate_is_minus_50():
    bpp, psnr = [0.2, 0.4, 0.8, 1.6], [28.0, 31.0, 34.0, 37.0]
    for method in ("cubic", "pchip"):
        assert bd_rate(bpp, psnr, bpp, psnr, method) == pytest.approx(0.0, abs=1e-9)
        assert bd_rate(bpp, psnr, [b / 2 for b in bpp], psnr, method) == pytest.approx(-50.0, abs=1e-6)


def test_psnr_by_hand():
    a = np.zeros((2, 2, 3), dtype=np.uint8)
    b = a.copy()
    b[0, 0, 0] = 12  # MSE = 144 / 12 = 12
    assert psnr_rgb(a, b) == pytest.approx(10 * np.log10(255**2 / 12))
    assert psnr_rgb(a, a) == float("inf")
    assert bits_per_pixel(100, 10, 20) == 4.0
