"""Quality metrics on 8-bit RGB, as the evaluation protocol prescribes."""

from __future__ import annotations

import math

import numpy as np
import torch
from pytorch_msssim import ms_ssim

from vcodec.io.colour import luma

MS_SSIM_MIN_SIDE = 161  # five scales of an 11-tap window need sides above (11 - 1) · 2⁴
# An exact copy's PSNR, as x264 and libaom report it: a clip whose first frame is black, which
# every codec reproduces exactly, would otherwise have an infinite mean per-frame PSNR.
MAX_PSNR = 100.0


def _psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    mse = np.mean(
        (np.asarray(reference, dtype=np.float64) - np.asarray(decoded, dtype=np.float64)) ** 2
    )
    return MAX_PSNR if mse == 0 else min(MAX_PSNR, float(10 * np.log10(255.0**2 / mse)))


def psnr_rgb(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB over all RGB samples of two H×W×3 uint8 images (:data:`MAX_PSNR` when identical)."""
    return _psnr(reference, decoded)


def psnr_y(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB of the BT.709 luma Y' = 0.2126 R + 0.7152 G + 0.0722 B of two RGB images."""
    return _psnr(luma(reference), luma(decoded))


def ms_ssim_rgb(reference: np.ndarray, decoded: np.ndarray) -> float:
    """MS-SSIM (pytorch-msssim, data range 255) of two H×W×3 uint8 images; NaN when a side is under
    161 px, where five scales do not fit."""
    if min(reference.shape[:2]) < MS_SSIM_MIN_SIDE:
        return float("nan")
    a, b = (
        torch.from_numpy(np.array(im, dtype=np.float64)).permute(2, 0, 1)[None]
        for im in (reference, decoded)
    )
    return float(ms_ssim(a, b, data_range=255.0))


def ms_ssim_db(value: float) -> float:
    """MS-SSIM on the decibel scale −10·log10(1 − MS-SSIM) that RD plots use."""
    return float("inf") if value >= 1 else -10 * math.log10(1 - value)


def bits_per_pixel(num_bytes: int, height: int, width: int) -> float:
    return num_bytes * 8.0 / (height * width)
