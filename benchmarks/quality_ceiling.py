"""What caps an image codec's best quality: the quantizer or the transforms?

For each development image, the codec's latent at quality Q (ŷ = round(y·gain)·inverse gain, as the
decoder sees it, float path) is decoded by g_s, then again with the rounding ``--finer`` times finer
(round(y·gain·k)/k). If the finer quantizer gains little, more rate points through the gain units
cannot raise the quality either: the transforms are the limit.

    python benchmarks/quality_ceiling.py [--model checkerboard-medium] [--quality 6] [--finer 4]
"""

from __future__ import annotations

import argparse
import math

import torch  # noqa: E402
from _common import write_json  # noqa: E402

import vcodec  # before torch: its OpenMP setting
from vcodec.eval.datasets import development_images  # noqa: E402


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a.clamp(0, 1) * 255).round() - (b * 255).round()).pow(2).mean().item()
    return 10 * math.log10(255**2 / mse)


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
    rows = []
    for name, array in development_images().items():
        x = torch.from_numpy(array.copy()).permute(2, 0, 1)[None].float() / 255
        h, w = x.shape[-2:]
        x = x[..., : h // 16 * 16, : w // 16 * 16]
        with torch.no_grad():
            y = codec.g_a(x)
            plain = codec.g_s(torch.round(y * gain) * inverse)
            finer = codec.g_s(torch.round(y * gain * args.finer) / args.finer * inverse)
        rows.append(
            {
                "image": name,
                "psnr": round(psnr(plain, x), 2),
                "psnr_finer": round(psnr(finer, x), 2),
            }
        )
        print(
            f"{name:12s} q{args.quality}: {rows[-1]['psnr']:.2f} dB; {args.finer:g}× finer: {rows[-1]['psnr_finer']:.2f} dB"
        )
    write_json(
        f"quality_ceiling-{args.model}",
        {"model": args.model, "quality": args.quality, "finer": args.finer, "results": rows},
    )


if __name__ == "__main__":
    main()
