"""Rate–distortion of the default model and every image baseline on the development images.

Runs the same code as ``vcodec eval images`` (the 8 development images: skimage and
sklearn pictures, NOT Kodak) for the learned model and JPEG, WebP, AVIF, x265 (HEVC intra, 4:4:4) and
SVT-AV1 (AV1 intra, 4:2:0); writes one JSON per method, bd-rate.md and the plots under
benchmarks/results/rd_images/, and benchmarks/results/rd_images.json with the BD-rate table and the
model's file size against its entropy model's estimate.

    python benchmarks/rd_images.py [--model NAME] [--jobs 2] [--also TOKENIZER,…]

For Kodak numbers run ``vcodec eval images /path/to/kodak`` on the set.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore", category=FutureWarning)

from _common import RESULTS, write_json  # noqa: E402

from vcodec.eval.bdrate import bd_rate  # noqa: E402
from vcodec.eval.datasets import development_images  # noqa: E402
from vcodec.eval.methods import resolve_methods  # noqa: E402
from vcodec.eval.rd import evaluate_images, psnr_at_rate  # noqa: E402
from vcodec.eval.report import bd_table, write_report  # noqa: E402

BASELINES = ("jpeg", "webp", "avif", "x265", "av1")


def estimate_gap(codec, images: dict[str, np.ndarray], quality: int) -> float:
    """(payload bytes − estimated bytes) / estimated bytes, summed over the images."""
    actual = estimated = 0.0
    for image in images.values():
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
        actual += codec.parse(codec.compress(x, quality=quality)).payload_bytes
        with torch.inference_mode():
            likelihoods = codec(codec.pad(x), quality)["likelihoods"]
        estimated += sum(-torch.log2(lik).sum().item() for lik in likelihoods.values()) / 8
    return (actual - estimated) / estimated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--also", default="", help="More learned models (e.g. tokenizers) for the same plot."
    )
    args = parser.parse_args()
    images = development_images()
    extra = [m for m in args.also.split(",") if m]
    methods = [
        m
        for m in resolve_methods(",".join([args.model, *extra, *BASELINES]))
        if m.missing() is None
    ]
    summaries, problems = evaluate_images(methods, images, jobs=args.jobs, strict=True)
    ours, baselines = summaries[0], [s["name"] for s in summaries if s["name"] in BASELINES]
    header = (
        f"# RD evaluation: the {len(images)} development images (not Kodak)\n\n"
        f"`python benchmarks/rd_images.py --model {args.model} --jobs {args.jobs}"
        + (f" --also {args.also}`" if args.also else "`")
    )
    write_report(
        RESULTS / "rd_images", summaries, baselines, "image", header, per_item=True, force=True
    )

    r = ours["results"]
    gaps = [estimate_gap(methods[0].codec, images, q) for q in r["quality"]]
    print(f"{ours['name']} on {len(images)} development images")
    print(
        "quality    bpp   PSNR  MS-SSIM | PSNR of "
        + " ".join(f"{b:>6}" for b in baselines)
        + " @ same bpp | size vs estimate"
    )
    for i, q in enumerate(r["quality"]):
        at = " ".join(
            f"{psnr_at_rate(s['results'], r['bpp'][i]):6.2f}"
            for s in summaries
            if s["name"] in BASELINES
        )
        print(
            f"{q:7d} {r['bpp'][i]:6.3f} {r['psnr-rgb'][i]:6.2f} {r['ms-ssim-rgb'][i]:8.4f} |         {at}"
            f"             | {gaps[i] * 100:+.2f}%"
        )
    tables = {
        method: bd_table(summaries, baselines, "bpp", "psnr-rgb", bd_rate, method)
        for method in ("cubic", "pchip")
    }
    msssim = bd_table(summaries, baselines, "bpp", "ms-ssim-rgb", bd_rate, "pchip")
    for method, table in tables.items():
        print(
            f"BD-rate of {ours['name']} ({method}, PSNR-RGB): "
            + ", ".join(
                f"vs {k} {v:+.1f}%" for k, v in table[ours["name"]].items() if v is not None
            )
        )
    print(
        f"BD-rate of {ours['name']} (pchip, MS-SSIM dB): "
        + ", ".join(f"vs {k} {v:+.1f}%" for k, v in msssim[ours["name"]].items() if v is not None)
    )
    write_json(
        "rd_images",
        {
            "model": ours["name"],
            "images": sorted(images),
            "bd_rate_percent": tables,
            "bd_rate_ms_ssim_percent": msssim,
            "size_vs_estimate": dict(zip(r["quality"], gaps)),
            "curves": {s["name"]: s["results"] for s in summaries},
            "problems": problems,
        },
    )


if __name__ == "__main__":
    main()
