"""BT.709 colour conversion between 8-bit RGB and full-range Y'CbCr planes (4:4:4 and 4:2:0).

Classical codecs code Y'CbCr; the evaluation measures RGB. Doing the conversion here, in one explicit
place, keeps every baseline's colour path identical and independent of FFmpeg's defaults.
"""

from __future__ import annotations

import numpy as np

KR, KB = 0.2126, 0.0722  # BT.709 luma coefficients
KG = 1.0 - KR - KB


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.709 Y' of ...×3 RGB samples, as float64 on the same 0–255 scale."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return KR * rgb[..., 0] + KG * rgb[..., 1] + KB * rgb[..., 2]


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 RGB → 3×H×W uint8 full-range Y'CbCr planes."""
    rgb = np.asarray(rgb, dtype=np.float64)
    y = luma(rgb)
    cb = (rgb[..., 2] - y) / (2 * (1 - KB)) + 128.0
    cr = (rgb[..., 0] - y) / (2 * (1 - KR)) + 128.0
    return np.clip(np.round(np.stack([y, cb, cr])), 0, 255).astype(np.uint8)


def ycbcr_to_rgb(planes: np.ndarray) -> np.ndarray:
    """3×H×W uint8 full-range Y'CbCr planes → H×W×3 uint8 RGB."""
    y, cb, cr = (p.astype(np.float64) for p in planes)
    cb, cr = cb - 128.0, cr - 128.0
    r = y + 2 * (1 - KR) * cr
    b = y + 2 * (1 - KB) * cb
    g = (y - KR * r - KB * b) / KG
    return np.clip(np.round(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def subsample_chroma(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4:4:4 planes (even H, W) → Y (H×W), Cb and Cr (H/2×W/2), chroma averaged over 2×2 blocks."""
    h, w = planes.shape[1:]
    chroma = planes[1:].astype(np.float64).reshape(2, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    cb, cr = np.clip(np.round(chroma), 0, 255).astype(np.uint8)
    return planes[0], cb, cr


def upsample_chroma(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Y, Cb, Cr of a 4:2:0 picture → 3×H×W planes, chroma upsampled bilinearly (centred samples)."""
    import torch  # here, not at the top: the classical baselines' module loads with the command line
    import torch.nn.functional as F

    chroma = torch.from_numpy(np.stack([cb, cr]).astype(np.float32))[None]
    chroma = F.interpolate(chroma, size=y.shape, mode="bilinear", align_corners=False)[0].numpy()
    return np.concatenate([y[None], np.clip(np.round(chroma), 0, 255).astype(np.uint8)])
