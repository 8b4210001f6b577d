"""Video tokenizers side by side: bits per pixel and per-frame PSNR on the two synthetic development
clips and on three held-out clips cut the same way from skimage photos that no model here is trained,
tuned or developed on (retina, immunohistochemistry, the right view of the stereo motorcycle).

Every clip is 17 frames of 256×192 (a pan of a few pixels a frame, or a still shot, each frame with
its own noise), coded through the same code as ``vcodec eval video``: 17-frame chunks, tiles of at
most 256², one token container per piece, every byte counted. Writes
benchmarks/results/video_tokenizers.json.

    python benchmarks/video_tokenizers.py [--models ltokv-f16t4,vtok-f8t4-v2]
"""

from __future__ import annotations

import argparse
import warnings
from fractions import Fraction

import numpy as np
import torch

warnings.filterwarnings("ignore", category=FutureWarning)

from _common import machine, write_json  # noqa: E402

import vcodec  # noqa: E402
from vcodec.eval.datasets import development_clips  # noqa: E402
from vcodec.eval.methods import VIDEO_TOKEN_CHUNK, VideoTokenizerMethod  # noqa: E402

FRAMES, HEIGHT, WIDTH = 17, 192, 256


def synthetic_clip(image: np.ndarray, shift: tuple[int, int], noise: float) -> np.ndarray:
    """T×H×W×3 uint8: a window moving ``shift`` pixels a frame, each frame with its own noise (as the
    development clips are made)."""
    rng = np.random.default_rng(0)
    frames = []
    for t in range(FRAMES):
        top, left = t * shift[0], t * shift[1]
        frame = image[top : top + HEIGHT, left : left + WIDTH].astype(np.float32)
        frame += noise * rng.standard_normal(frame.shape).astype(np.float32)
        frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    return np.stack(frames)


def held_out_clips() -> dict[str, np.ndarray]:
    from skimage import data

    return {
        "retina-pan": synthetic_clip(data.retina(), (1, 2), 1.0),
        "immunohistochemistry-static": synthetic_clip(data.immunohistochemistry(), (0, 0), 1.5),
        "motorcycle-right-pan": synthetic_clip(data.stereo_motorcycle()[1], (1, 3), 1.0),
    }


def measure(method: VideoTokenizerMethod, frames: np.ndarray) -> dict:
    coded = method.code(frames, Fraction(25), VIDEO_TOKEN_CHUNK)
    error = ((coded.decoded.astype(np.float64) - frames) ** 2).mean(axis=(1, 2, 3))
    return {
        "bpp": coded.num_bytes * 8 / (frames.shape[0] * frames.shape[1] * frames.shape[2]),
        "psnr-rgb": float(np.mean(10 * np.log10(255.0**2 / error))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ltokv-f16t4,vtok-f8t4-v2")
    args = parser.parse_args()
    sets = {
        "development": {n: c.load().frames for n, c in development_clips(FRAMES).items()},
        "held-out": held_out_clips(),
    }
    results = {}
    for name in args.models.split(","):
        method = VideoTokenizerMethod(name, vcodec.load(name))
        results[name] = {}
        for set_name, clips in sets.items():
            rows = {clip: measure(method, frames) for clip, frames in clips.items()}
            mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in ("bpp", "psnr-rgb")}
            results[name][set_name] = {"clips": rows, "mean": mean}
            print(
                f"{name:14s} {set_name:11s} "
                + "  ".join(
                    f"{c}: {r['psnr-rgb']:.2f} dB @ {r['bpp']:.4f}" for c, r in rows.items()
                )
                + f"  | mean {mean['psnr-rgb']:.2f} dB @ {mean['bpp']:.4f} bpp"
            )
    write_json(
        "video_tokenizers",
        {
            "machine": machine(),
            "clips": f"{FRAMES} frames of {WIDTH}×{HEIGHT}",
            "results": results,
        },
    )


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
