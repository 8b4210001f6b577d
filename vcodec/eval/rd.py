"""Rate–distortion sweeps over a set of images, written in CompressAI's results layout.

Learned codecs go through their public ``compress``/``decompress`` API; bpp counts every byte of the
container. Metrics are computed on the decoded image rounded to uint8.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np
import torch
from tqdm import tqdm

from vcodec.eval.baselines import pillow_round_trip
from vcodec.eval.metrics import bits_per_pixel, ms_ssim_rgb, psnr_rgb
from vcodec.io.images import to_uint8

RoundTrip = Callable[[np.ndarray, int], tuple[int, np.ndarray, float, float]]


def codec_round_trip(codec) -> RoundTrip:
    """(bytes, decoded uint8, encode s, decode s) of an image through a learned codec at a quality."""

    def run(image: np.ndarray, quality: int) -> tuple[int, np.ndarray, float, float]:
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255.0)
        start = time.perf_counter()
        data = codec.compress(x, quality=quality)
        middle = time.perf_counter()
        decoded = to_uint8(codec.decompress(data))
        return len(data), decoded, middle - start, time.perf_counter() - middle

    return run


def pillow_codec_round_trip(codec: str) -> RoundTrip:
    def run(image: np.ndarray, quality: int) -> tuple[int, np.ndarray, float, float]:
        start = time.perf_counter()
        size, decoded = pillow_round_trip(image, codec, quality)
        return size, decoded, time.perf_counter() - start, 0.0

    return run


def rd_sweep(name: str, round_trip: RoundTrip, images: dict[str, np.ndarray], qualities: Iterable[int],
             progress: bool = True) -> dict:
    """Mean bpp / PSNR-RGB / MS-SSIM-RGB per quality over ``images``, plus per-image rows."""
    qualities = list(qualities)
    results = {k: [] for k in ("quality", "bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time")}
    per_image = []
    bar = tqdm(total=len(qualities) * len(images), desc=name, disable=not progress, leave=False)
    for quality in qualities:
        rows = []
        for image_name, image in images.items():
            size, decoded, enc_s, dec_s = round_trip(image, quality)
            rows.append({
                "image": image_name, "quality": quality, "bpp": bits_per_pixel(size, *image.shape[:2]),
                "psnr-rgb": psnr_rgb(image, decoded), "ms-ssim-rgb": ms_ssim_rgb(image, decoded),
                "encoding_time": enc_s, "decoding_time": dec_s,
            })
            bar.update(1)
        per_image += rows
        results["quality"].append(quality)
        for key in ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"):
            results[key].append(float(np.mean([r[key] for r in rows])))
    bar.close()
    return {"name": name, "description": f"{len(images)} images", "results": results, "per_image": per_image}


def psnr_at_rate(curve: dict, bpp: float) -> float:
    """PSNR of an RD curve at a given rate, by linear interpolation in log-rate (NaN outside it)."""
    rates, psnrs = np.log(curve["bpp"]), np.asarray(curve["psnr-rgb"])
    order = np.argsort(rates)
    if not rates.min() <= np.log(bpp) <= rates.max():
        return float("nan")
    return float(np.interp(np.log(bpp), rates[order], psnrs[order]))
