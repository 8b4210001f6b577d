"""Rate–distortion of a learned codec on the development images, next to JPEG and WebP (Pillow).

For each quality: mean whole-container bpp, PSNR-RGB and MS-SSIM-RGB over the 8 development images,
the PSNR JPEG and WebP reach at that same rate (log-rate interpolation of their quality sweeps), and
the gap between the real file size and the entropy model's estimate (−log2 likelihoods). Ends with the
BD-rate against JPEG and WebP.

    python benchmarks/rd_dev.py [--model NAME]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore", category=FutureWarning)

import vcodec  # noqa: E402
from vcodec.eval.bdrate import bd_rate  # noqa: E402
from vcodec.eval.datasets import development_images  # noqa: E402
from vcodec.eval.rd import codec_round_trip, pillow_codec_round_trip, psnr_at_rate, rd_sweep  # noqa: E402
from _common import write_json  # noqa: E402

PILLOW_QUALITIES = {"jpeg": range(5, 100, 5), "webp": range(0, 101, 5)}


def estimate_gap(codec, images: dict[str, np.ndarray], quality: int) -> float:
    """(payload bytes − estimated bytes) / estimated bytes, summed over the images."""
    actual = estimated = 0.0
    for image in images.values():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        container = codec.parse(codec.compress(x, quality=quality))
        actual += container.payload_bytes
        with torch.inference_mode():
            likelihoods = codec(codec._pad(x), quality)["likelihoods"]
        estimated += sum(-torch.log2(lik).sum().item() for lik in likelihoods.values()) / 8
    return (actual - estimated) / estimated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=vcodec.DEFAULT_MODEL)
    args = parser.parse_args()
    images = development_images()
    codec = vcodec.load(args.model)
    ours = rd_sweep(args.model, codec_round_trip(codec), images, range(1, codec.num_qualities + 1))
    baselines = {name: rd_sweep(name, pillow_codec_round_trip(name), images, qs) for name, qs in PILLOW_QUALITIES.items()}
    gaps = [estimate_gap(codec, images, q) for q in ours["results"]["quality"]]

    r = ours["results"]
    print(f"{args.model} on {len(images)} development images")
    print("quality    bpp   PSNR  MS-SSIM | JPEG PSNR  WebP PSNR @ same bpp | size vs estimate")
    for i, q in enumerate(r["quality"]):
        at = {name: psnr_at_rate(b["results"], r["bpp"][i]) for name, b in baselines.items()}
        print(f"{q:7d} {r['bpp'][i]:6.3f} {r['psnr-rgb'][i]:6.2f} {r['ms-ssim-rgb'][i]:8.4f} | "
              f"{at['jpeg']:9.2f} {at['webp']:10.2f}            | {gaps[i] * 100:+.2f}%")
    bd = {}
    for name, b in baselines.items():
        try:
            bd[name] = bd_rate(b["results"]["bpp"], b["results"]["psnr-rgb"], r["bpp"], r["psnr-rgb"])
        except ValueError as err:
            bd[name] = None
            print(f"BD-rate vs {name}: {err}")
    print("BD-rate (cubic, PSNR-RGB): " + ", ".join(f"vs {k} {v:+.1f}%" for k, v in bd.items() if v is not None))
    write_json("rd_dev", {"model": args.model, "ours": ours, "baselines": baselines,
                          "size_vs_estimate": dict(zip(r["quality"], gaps)), "bd_rate_percent": bd})


if __name__ == "__main__":
    main()
