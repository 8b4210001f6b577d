"""Quality metrics on 8-bit RGB, as the evaluation protocol of DESIGN.md prescribes."""

from __future__ import annotations

import numpy as np
import torch
from pytorch_msssim import ms_ssim


def psnr_rgb(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB over all RGB samples of two H×W×3 uint8 images (∞ when identical)."""
    mse = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ms_ssim_rgb(reference: np.ndarray, decoded: np.ndarray) -> float:
    """MS-SSIM (pytorch-msssim, data range 255) of two H×W×3 uint8 images; needs sides > 160 px."""
    a, b = (torch.from_numpy(np.array(im, dtype=np.float64)).permute(2, 0, 1)[None] for im in (reference, decoded))
    return float(ms_ssim(a, b, data_range=255.0))


def bits_per_pixel(num_bytes: int, height: int, width: int) -> float:
    return num_bytes * 8.0 / (height * width)
