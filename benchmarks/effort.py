"""Encoder effort: what refining the latent at encode time saves, and what it costs.

For each development image (a centre crop of ``--crop`` W×H, or the whole image with ``--crop 0``) and
each quality, the image is coded at every effort level with the real coder and decoded with the
unchanged decoder; the script prints bpp / PSNR-RGB per level, BD-rate of each level against effort 0
(piecewise cubic, over the qualities, on the mean curves), and the encode time of each level on the
768×512 image of benchmarks/speed.py (a crop of hubble_deep_field).

    python benchmarks/effort.py [--model checkerboard-medium] [--efforts 0,1,2] [--crop 384x256]
                                [--images astronaut,coffee,…]
                                [--timing-efforts 1,2,3] [--timing-quality 4] [--baseline webp]

``--baseline`` codes the same crops with a classical image codec over its whole quality scale and
adds each level's BD-rate against it. ``--efforts ''`` with ``--reuse`` codes nothing new, and
``--timing-efforts none`` times nothing (the reused timings are kept).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch  # noqa: E402
from _common import write_json  # noqa: E402

import vcodec  # before torch: its OpenMP setting
from vcodec.defaults import EFFORT_ITERATIONS  # noqa: E402
from vcodec.eval.baselines import IMAGE_BASELINES  # noqa: E402
from vcodec.eval.bdrate import bd_rate  # noqa: E402
from vcodec.eval.datasets import development_images  # noqa: E402


def centre_crop(image: np.ndarray, size: tuple[int, int] | None) -> torch.Tensor:
    if size is not None:
        w, h = size
        top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
        image = image[max(top, 0) : max(top, 0) + h, max(left, 0) : max(left, 0) + w]
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255


def psnr(decoded: torch.Tensor, x: torch.Tensor) -> float:
    mse = ((decoded * 255).round() - (x * 255).round()).pow(2).mean().item()
    return 10 * math.log10(255**2 / max(mse, 1e-10))


def reused_rows(earlier: dict | None, args, model: str, efforts, qualities, images) -> list[dict]:
    """The rows of ``--reuse`` (``earlier``, None without it) for efforts this run does not code
    (same model, crop, qualities and images, else an error)."""
    if earlier is None:
        return []
    same = (earlier["model"], earlier["crop"], earlier["qualities"], earlier["images"])
    if same != (model, args.crop, qualities, images):
        raise SystemExit(f"{args.reuse}: another model, crop, qualities or images; not reused")
    return [r for r in earlier["rows"] if r["effort"] not in efforts]


def folder_images(folder: Path) -> dict[str, np.ndarray]:
    """The images of a folder by file stem, as H×W×3 uint8 arrays (RGB)."""
    from PIL import Image

    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    if not paths:
        raise SystemExit(f"{folder}: no PNG or JPEG images")
    return {p.stem: np.asarray(Image.open(p).convert("RGB")) for p in paths}


def baseline_curve(name: str, chosen, images, crop) -> tuple[list[float], list[float]]:
    """Mean bpp and PSNR-RGB of a classical codec over its quality points on the same crops."""
    codec = IMAGE_BASELINES[name]
    if codec.missing():
        raise SystemExit(f"{name}: {codec.missing()}")
    crops = [centre_crop(images[name], crop) for name in chosen]
    pixels = [(x[0].permute(1, 2, 0) * 255).round().byte().numpy() for x in crops]  # the uint8 crop
    bpp, quality = [], []
    for point in codec.points:
        rates, psnrs = [], []
        for x, source in zip(crops, pixels):
            coded = codec.code(source, point)
            rates.append(coded.num_bytes * 8 / (x.shape[-1] * x.shape[-2]))
            decoded = torch.from_numpy(coded.decoded.copy()).permute(2, 0, 1)[None].float() / 255
            psnrs.append(psnr(decoded, x))
        bpp.append(float(np.mean(rates)))
        quality.append(float(np.mean(psnrs)))
    return bpp, quality


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=vcodec.DEFAULT_MODEL)
    parser.add_argument("--efforts", default="0,1,2")
    parser.add_argument("--qualities", default="1,2,3,4,5,6")
    parser.add_argument("--crop", default="384x256", help="W×H centre crops; 0: whole images")
    parser.add_argument("--images", default="", help="comma-separated development images (all)")
    parser.add_argument(
        "--source",
        default="",
        help="a folder of images to code instead of the development images (held-out photos); "
        "the JSON name then ends in the folder's name",
    )
    parser.add_argument(
        "--timing-efforts", default="1,2,3", help="levels timed besides 0; none: no timing at all"
    )
    parser.add_argument("--timing-quality", type=int, default=4)
    parser.add_argument(
        "--baseline",
        default="",
        choices=["", *sorted(IMAGE_BASELINES)],
        help="a classical codec coded on the same crops: each effort's BD-rate against it",
    )
    parser.add_argument(
        "--reuse",
        default="",
        help="an earlier results JSON of the same model, crop and qualities: its rows of the efforts "
        "not coded now join the summary (an encode repeats byte for byte, so they are what coding "
        "them again would give)",
    )
    args = parser.parse_args()
    codec = vcodec.load(args.model)
    efforts = [int(e) for e in args.efforts.split(",") if e.strip()]
    qualities = [int(q) for q in args.qualities.split(",")]
    crop = None if args.crop == "0" else tuple(int(v) for v in args.crop.lower().split("x"))
    images = folder_images(Path(args.source)) if args.source else development_images()
    chosen = [n.strip() for n in args.images.split(",") if n.strip()] or list(images)
    earlier = json.loads(Path(args.reuse).read_text()) if args.reuse else None
    rows = reused_rows(earlier, args, codec.name, efforts, qualities, chosen)
    for name in chosen:
        x = centre_crop(images[name], crop)
        pixels = x.shape[-1] * x.shape[-2]
        for quality in qualities:
            for effort in efforts:
                data = codec.compress(x, quality=quality, effort=effort)
                rows.append(
                    {
                        "image": name,
                        "quality": quality,
                        "effort": effort,
                        "bpp": len(data) * 8 / pixels,
                        "psnr": psnr(codec.decompress(data), x),
                    }
                )
            if not efforts:
                continue
            print(
                f"{name} q{quality}: "
                + "  ".join(
                    f"e{r['effort']} {r['bpp']:.3f}/{r['psnr']:.2f}" for r in rows[-len(efforts) :]
                ),
                flush=True,
            )

    def mean_curve(effort: int) -> tuple[list[float], list[float]]:
        per_quality = [
            [r for r in rows if r["effort"] == effort and r["quality"] == q] for q in qualities
        ]
        return [float(np.mean([r["bpp"] for r in c])) for c in per_quality], [
            float(np.mean([r["psnr"] for r in c])) for c in per_quality
        ]

    anchor = mean_curve(0)
    baseline = baseline_curve(args.baseline, chosen, images, crop) if args.baseline else None
    summary = {}
    for effort in sorted({r["effort"] for r in rows}):
        curve = mean_curve(effort)
        summary[effort] = {
            "bpp": curve[0],
            "psnr": curve[1],
            "bd_rate_vs_effort0": None if effort == 0 else bd_rate(*anchor, *curve, method="pchip"),
        }
        bd = summary[effort]["bd_rate_vs_effort0"]
        line = f"effort {effort} ({EFFORT_ITERATIONS[effort]} steps): BD-rate vs effort 0 " + (
            "—" if bd is None else f"{bd:+.1f} %"
        )
        if baseline is not None:
            against = bd_rate(*baseline, *curve, method="pchip")
            summary[effort][f"bd_rate_vs_{args.baseline}"] = against
            line += f", vs {args.baseline} {against:+.1f} %"
        print(line)

    import skimage.data

    full = centre_crop(skimage.data.hubble_deep_field()[:512, :768], None)  # as benchmarks/speed.py
    timed = (
        []
        if args.timing_efforts == "none"
        else [0, *[int(e) for e in args.timing_efforts.split(",") if e.strip()]]
    )
    timing = {  # the reused run's timings of the levels not timed now
        int(e): t
        for e, t in (earlier or {}).get("encode_seconds_768x512", {}).items()
        if int(e) not in timed
    }
    for effort in timed:
        start = time.perf_counter()
        codec.compress(full, quality=args.timing_quality, effort=effort)
        timing[effort] = time.perf_counter() - start
        print(f"encode 768×512 at effort {effort}: {timing[effort]:.1f} s", flush=True)

    write_json(
        f"effort-{codec.name}" + (f"-{Path(args.source).name}" if args.source else ""),
        {
            "model": codec.name,
            "crop": args.crop,
            "images": chosen,
            "qualities": qualities,
            "iterations": {e: EFFORT_ITERATIONS[e] for e in summary},
            "reused_from": args.reuse or None,
            "baseline": None
            if baseline is None
            else {"name": args.baseline, "bpp": baseline[0], "psnr": baseline[1]},
            "rows": rows,
            "summary": summary,
            "encode_seconds_768x512": timing,
        },
    )


if __name__ == "__main__":
    main()
