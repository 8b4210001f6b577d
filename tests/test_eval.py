import json
from pathlib import Path

import numpy as np
import pytest

from vcodec.eval.bdrate import bd_psnr, bd_rate
from vcodec.eval.metrics import bits_per_pixel, ms_ssim_db, ms_ssim_rgb, psnr_rgb, psnr_y
from vcodec.io.colour import rgb_to_ycbcr, ycbcr_to_rgb

REFERENCE = json.loads((Path(__file__).parent / "data" / "compressai-kodak.json").read_text())


@pytest.mark.parametrize("row", sorted(REFERENCE["bd_rate_percent"]))
def test_bd_rate_reproduces_the_published_table(row):
    curves = REFERENCE["curves"]
    for anchor, expected in REFERENCE["bd_rate_percent"][row].items():
        got = bd_rate(
            curves[anchor]["bpp"],
            curves[anchor]["psnr-rgb"],
            curves[row]["bpp"],
            curves[row]["psnr-rgb"],
        )
        assert abs(got - expected) <= 1.0, (row, anchor, got, expected)


def test_bd_rate_of_a_curve_against_itself_is_zero_and_halving_rate_is_minus_50():
    bpp, psnr = [0.2, 0.4, 0.8, 1.6], [28.0, 31.0, 34.0, 37.0]
    for method in ("cubic", "pchip"):
        assert bd_rate(bpp, psnr, bpp, psnr, method) == pytest.approx(0.0, abs=1e-9)
        assert bd_rate(bpp, psnr, [b / 2 for b in bpp], psnr, method) == pytest.approx(
            -50.0, abs=1e-6
        )


def test_psnr_by_hand():
    a = np.zeros((2, 2, 3), dtype=np.uint8)
    b = a.copy()
    b[0, 0, 0] = 12  # MSE = 144 / 12 = 12
    assert psnr_rgb(a, b) == pytest.approx(10 * np.log10(255**2 / 12))
    assert psnr_rgb(a, a) == 100.0  # an exact copy, as x264 and libaom count it
    assert bits_per_pixel(100, 10, 20) == 4.0


def test_bd_psnr_of_a_curve_against_itself_is_zero_and_a_shift_is_recovered():
    bpp, psnr = [0.2, 0.4, 0.8, 1.6], [28.0, 31.0, 34.0, 37.0]
    for method in ("cubic", "pchip"):
        assert bd_psnr(bpp, psnr, bpp, psnr, method) == pytest.approx(0.0, abs=1e-9)
        assert bd_psnr(bpp, psnr, bpp, [p + 1.5 for p in psnr], method) == pytest.approx(
            1.5, abs=1e-9
        )


def test_bd_rate_errors_are_plain():
    with pytest.raises(ValueError, match="overlap"):
        bd_rate([0.1, 0.2, 0.3, 0.4], [20, 21, 22, 23], [0.1, 0.2, 0.3, 0.4], [30, 31, 32, 33])
    with pytest.raises(ValueError, match="four"):
        bd_rate([0.1, 0.2, 0.3], [20, 21, 22], [0.1, 0.2, 0.3], [20, 21, 22])
    with pytest.raises(ValueError, match="unknown"):
        bd_rate(
            [0.1, 0.2, 0.3, 0.4], [20, 21, 22, 23], [0.1, 0.2, 0.3, 0.4], [20, 21, 22, 23], "linear"
        )


def test_psnr_y_uses_bt709_luma():
    a = np.zeros((2, 2, 3), dtype=np.uint8)
    b = a.copy()
    b[..., 1] = 10  # green only: ΔY' = 0.7152 · 10 everywhere
    assert psnr_y(a, b) == pytest.approx(10 * np.log10(255**2 / 7.152**2))
    b[..., 0], b[..., 2] = 10, 10  # grey: ΔY' = 10
    assert psnr_y(a, b) == pytest.approx(10 * np.log10(255**2 / 100))


def _gaussian_window(size=11, sigma=1.5):
    x = np.arange(size) - size // 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _ms_ssim_by_hand(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. 2003 with the usual 5 weights, an 11-tap σ=1.5 Gaussian ('valid' filtering) and
    2×2 average pooling between scales, per channel, then averaged over channels."""
    from scipy.signal import convolve2d

    weights = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
    g = _gaussian_window()
    window = np.outer(g, g)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for ch in range(3):
        x, y = a[..., ch].astype(np.float64), b[..., ch].astype(np.float64)
        factors = []
        for scale in range(5):
            mx, my = convolve2d(x, window, "valid"), convolve2d(y, window, "valid")
            sxx = convolve2d(x * x, window, "valid") - mx**2
            syy = convolve2d(y * y, window, "valid") - my**2
            sxy = convolve2d(x * y, window, "valid") - mx * my
            cs = (2 * sxy + c2) / (sxx + syy + c2)
            if scale < 4:
                factors.append(np.maximum(cs.mean(), 0))
                h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
                x = x[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
                y = y[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
            else:
                ssim = (2 * mx * my + c1) / (mx**2 + my**2 + c1) * cs
                factors.append(np.maximum(ssim.mean(), 0))
        values.append(np.prod(np.array(factors) ** weights))
    return float(np.mean(values))


def test_ms_ssim_matches_a_hand_computation_and_is_undefined_on_small_images():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:192, 0:176]
    a = np.stack([(xx + yy) % 256, (2 * xx) % 256, (3 * yy) % 256], axis=-1).astype(np.uint8)
    b = np.clip(a + rng.normal(0, 12, a.shape), 0, 255).astype(np.uint8)
    assert ms_ssim_rgb(a, b) == pytest.approx(_ms_ssim_by_hand(a, b), abs=1e-4)
    assert ms_ssim_rgb(a, a) == pytest.approx(1.0)
    assert np.isnan(ms_ssim_rgb(a[:160], b[:160]))
    assert ms_ssim_db(0.99) == pytest.approx(20.0)


def test_colour_round_trip_loses_at_most_a_couple_of_levels():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (32, 30, 3), dtype=np.uint8)
    assert np.abs(ycbcr_to_rgb(rgb_to_ycbcr(rgb)).astype(int) - rgb).max() <= 2
    grey = np.full((4, 4, 3), 77, dtype=np.uint8)
    planes = rgb_to_ycbcr(grey)
    assert (planes[0] == 77).all() and (planes[1:] == 128).all()
