"""What caps an image codec's best quality: the quantizer or the transforms?

For each development image, the codec's latent at quality Q (ŷ = round(y·gain)·inverse gain, as the
decoder sees it, float path) is decoded by g_s, then again with the rounding ``--finer`` times finer
(round(y·gain·k)/k), and with no rounding at all (the transforms' own ceiling). If the finer quantizer
gains little, more rate points through the gain units cannot raise the quality either: the transforms
are the limit.

Then, for scale, the best *linear* transform of the same size: the principal components of the 16×16×3
blocks of all development images, keeping as many per block as the codec has latent channels (M), and
2M. When the learned transforms reconstruct no better than M principal components, the latent's
dimension (one value per 6 samples at M = 128), not the training of the transforms, is the ceiling.

    python benchmarks/quality_ceiling.py [--model checkerboard-medium] [--quality 6] [--finer 4]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch  # noqa: E402
from _common import write_json  # noqa: E402

import vcodec  # before torch: its OpenMP setting
from vcodec.eval.datasets import development_images  # noqa: E402


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a.clamp(0, 1) * 255).round() - (b * 255).round()).pow(2).mean().item()
    return 10 * math.log10(255**2 / mse)


def blocks(array: np.ndarray, size: int = 16) -> np.ndarray:
    """An H×W×3 image's whole size×size blocks as rows of size·size·3 values."""
    rows, cols = array.shape[0] // size, array.shape[1] // size
    cut = array[: rows * size, : cols * size].astype(np.float64)
    return (
        cut.reshape(rows, size, cols, size, 3).transpose(0, 2, 1, 3, 4).reshape(-1, size * size * 3)
    )


def linear_ceilings(images: dict[str, np.ndarray], dims: list[int]) -> dict[str, list[float]]:
    """Each image's PSNR when its 16×16 blocks keep only their first ``dim`` principal components
    (fitted on the blocks of all the images), for each ``dim``."""
    data = {name: blocks(array) for name, array in images.items()}
    pooled = np.concatenate(list(data.values()))
    mean = pooled.mean(0)
    _, vectors = np.linalg.eigh(np.cov((pooled - mean).T))
    vectors = vectors[:, ::-1]
    result = {}
    for name, rows in data.items():
        result[name] = []
        for dim in dims:
            basis = vectors[:, :dim]
            rebuilt = np.clip((rows - mean) @ basis @ basis.T + mean, 0, 255)
            mse = np.mean((np.round(rebuilt) - rows) ** 2)
            result[name].append(round(10 * math.log10(255**2 / mse), 2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=vcodec.DEFAULT_MODEL)
    parser.add_argument("--quality", type=int, default=6)
    parser.add_argument("--finer", type=float, default=4.0)
    args = parser.parse_args()
    codec = vcodec.load(args.model)
    q = torch.tensor([codec.check_quality(args.quality) - 1])
    gain, inverse = codec.y_gain.gain(q), codec.y_gain.inverse_gain(q)
    images = development_images()
    m = codec.config.m
    linear = linear_ceilings(images, [m, 2 * m])
    rows = []
    for name, array in images.items():
        x = torch.from_numpy(array.copy()).permute(2, 0, 1)[None].float() / 255
        h, w = x.shape[-2:]
        x = x[..., : h // 16 * 16, : w // 16 * 16]
        with torch.no_grad():
            y = codec.g_a(x)
            plain = codec.g_s(torch.round(y * gain) * inverse)
            finer = codec.g_s(torch.round(y * gain * args.finer) / args.finer * inverse)
            unquantized = codec.g_s(y * gain * inverse)
        rows.append(
            {
                "image": name,
                "psnr": round(psnr(plain, x), 2),
                "psnr_finer": round(psnr(finer, x), 2),
                "psnr_unquantized": round(psnr(unquantized, x), 2),
                f"psnr_linear_{m}": linear[name][0],
                f"psnr_linear_{2 * m}": linear[name][1],
            }
        )
        print(
            f"{name:12s} q{args.quality}: {rows[-1]['psnr']:.2f} dB; {args.finer:g}× finer: "
            f"{rows[-1]['psnr_finer']:.2f} dB; unquantized {rows[-1]['psnr_unquantized']:.2f} dB; "
            f"{m} principal components per 16×16 block {linear[name][0]:.2f} dB, {2 * m}: "
            f"{linear[name][1]:.2f} dB"
        )
    write_json(
        f"quality_ceiling-{args.model}",
        {"model": args.model, "quality": args.quality, "finer": args.finer, "results": rows},
    )


if __name__ == "__main__":
    main()
