"""How well the previous latent predicts the latent of a shifted picture, four ways.

A picture (skimage's astronaut, a 320×320 window) moves right by s pixels. Against the latent of the
moved window, y_s = g_a(x_s), this prints the mean squared error (relative to y_s's variance, interior
latents only) of:

- ``none``: ŷ_0 itself (what a temporal prior without motion conditions on),
- ``bilinear``: ŷ_0 interpolated at the sub-latent offset s/16,
- ``learned``: the motion codec's latent predictor, given the vectors its encoder estimates,
- ``re-analysis``: g_a(shift(g_s(ŷ_0))), the decoded frame moved and analysed again: what pixel-domain
  motion compensation would give, if synthesis and analysis ran in exact arithmetic at every frame.

    python benchmarks/latent_motion.py [--model temporal-mc-small] [--quality 1]
        [--out benchmarks/results/latent_motion.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import skimage.data
import torch
import torch.nn.functional as F

import vcodec
from vcodec.codecs.motion import estimate_motion

SHIFTS = (1, 2, 4, 6, 8)
SIDE, MARGIN = 320, 64


def window(image: torch.Tensor, shift: int, margin: int = 0) -> torch.Tensor:
    top, left = MARGIN - margin, MARGIN + shift - margin
    return image[..., top : top + SIDE + 2 * margin, left : left + SIDE + 2 * margin]


def bilinear(latent: torch.Tensor, shift: int) -> torch.Tensor:
    """``latent`` sampled s/16 latents to the right (its content moves left by s pixels)."""
    height, width = latent.shape[-2:]
    rows, cols = torch.meshgrid(
        torch.arange(height).float(), torch.arange(width).float() + shift / 16, indexing="ij"
    )
    grid = torch.stack((2 * cols / (width - 1) - 1, 2 * rows / (height - 1) - 1), -1)[None]
    return F.grid_sample(latent, grid, mode="bilinear", align_corners=True, padding_mode="border")


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="temporal-mc-small", help="a video codec with motion")
    parser.add_argument("--quality", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/latent_motion.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    codec = vcodec.load(args.model)
    if codec.prior.motion is None:
        raise SystemExit(f"{args.model} has no motion predictor")
    intra, q = codec.intra, torch.tensor([args.quality - 1])
    step = intra.y_gain.inverse_gain(q).reshape(1, -1, 1, 1)
    image = torch.from_numpy(skimage.data.astronaut()).permute(2, 0, 1)[None].float() / 255

    x0 = window(image, 0)
    y0_hat = torch.round(intra.g_a(x0) / step) * step
    # the decoded frame with a margin, so that the re-analysis of its shifted copy sees no border
    margin = 32
    decoded = intra.g_s(torch.round(intra.g_a(window(image, 0, margin)) / step) * step).clamp(0, 1)
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    rows = []
    for shift in SHIFTS:
        x_s = window(image, shift)
        y_s = intra.g_a(x_s)
        variance = y_s[inner].var().item()
        vectors = estimate_motion(x_s, x0, codec.config.motion_search)
        predictions = {
            "none": y0_hat,
            "bilinear": bilinear(y0_hat, shift),
            "learned": codec.prior.motion(y0_hat, vectors),
            "re-analysis": intra.g_a(
                decoded[..., margin : margin + SIDE, margin + shift : margin + shift + SIDE]
            ),
        }
        row = {
            "shift": shift,
            **{k: (y_s - p)[inner].pow(2).mean().item() / variance for k, p in predictions.items()},
        }
        rows.append(row)
        print(f"shift {shift:2d} px  " + "  ".join(f"{k} {row[k]:.1%}" for k in predictions))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "model": args.model,
                "quality": args.quality,
                "image": "skimage astronaut",
                "unexplained_variance": rows,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
