"""Where a learned video codec's bits go on real clips, and how far P-frames alone can close its gap.

For each clip and quality: the stream's kbps and PSNR-RGB, the shares of the bytes that go to intra
frames, motion vectors, the predicted frames' residual (or latent) and their skip flags, the share of
64×64 blocks a predicted frame codes rather than skips, and what a coded block costs next to the same
area of the intra frame. Then a bound: the BD-rate against x264 that the codec would reach if
every predicted frame cost nothing (its intra frames' bits alone, at the PSNR the whole clip reached).
A negative bound says better P-frames alone could beat x264; a positive one says the intra codec must
improve first.

    python benchmarks/video_bits.py CLIPS_FOLDER [--model NAME] [--frames 32] [--gop 32]
        [--x264 benchmarks/results/rd_video/x264.json (from `vcodec eval video … --per-video`)]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from _common import write_json

import vcodec
from vcodec import zoo
from vcodec.entropy.container import FrameType
from vcodec.eval.bdrate import bd_rate
from vcodec.eval.datasets import media_files
from vcodec.eval.metrics import psnr_rgb
from vcodec.io.video import VIDEO_SUFFIXES, read_video


def clip_bits(codec, clip: np.ndarray, fps: float, quality: int, gop: int) -> dict:
    """One clip (T×H×W×3 uint8) at one quality: rate, PSNR and the split of its bytes."""
    height, width = clip.shape[1:3]
    frames = torch.from_numpy(clip).permute(0, 3, 1, 2).float() / 255
    intra, predicted, psnr = [], [], []
    split = {"flags": 0, "motion": 0, "residual": 0, "coded": 0, "blocks": 0}
    for index, (packet, decoded) in enumerate(
        codec.encode_and_reconstruct([f[None] for f in frames], quality, intra_period=gop)
    ):
        size = len(packet.to_bytes())
        if packet.frame_type == FrameType.INTRA:
            intra.append(size)
        else:
            predicted.append(size)
            for key, value in codec.breakdown(packet, height, width).items():
                split[key] += value
        decoded = decoded[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
        psnr.append(psnr_rgb(clip[index], decoded))
    seconds = len(frames) / fps
    total = sum(intra) + sum(predicted)
    blocks_per_frame = split["blocks"] // max(1, len(predicted))
    return {
        "quality": quality,
        "kbps": 8 * total / seconds / 1000,
        "intra_kbps": 8 * sum(intra) / seconds / 1000,
        "intra_frames": len(intra),
        "psnr-rgb": float(np.mean(psnr)),
        "intra_share": sum(intra) / total,
        "motion_share": split["motion"] / total,
        "residual_share": split["residual"] / total,
        "flag_share": split["flags"] / total,
        "coded_block_share": split["coded"] / max(1, split["blocks"]),
        "bytes_per_coded_block": split["residual"] / split["coded"] if split["coded"] else None,
        "intra_bytes_per_block": sum(intra) / (len(intra) * max(1, blocks_per_frame)),
    }


def x264_curve(path: Path, clip: str) -> tuple[list, list] | None:
    if not path.exists():
        return None
    points = [p for p in json.loads(path.read_text()).get("per_video", []) if p["video"] == clip]
    return (
        ([p["kbps"] for p in points], [p["psnr-rgb"] for p in points]) if len(points) >= 4 else None
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "clips", type=Path, help="a video clip or a folder of them (the RD evaluation's)"
    )
    parser.add_argument(
        "--model", default=None, help="a video codec (default: the default video codec)"
    )
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--gop", type=int, default=32)
    parser.add_argument("--qualities", default="1,2,3,4,5,6")
    parser.add_argument("--x264", type=Path, default=Path("benchmarks/results/rd_video/x264.json"))
    args = parser.parse_args()
    model = args.model or zoo.DEFAULT_VIDEO_MODEL
    codec = vcodec.load(model)
    qualities = [int(q) for q in args.qualities.split(",")]
    clips = media_files(args.clips, VIDEO_SUFFIXES, "video")
    results = {}
    for path in clips:
        clip = read_video(path, args.frames)
        rows = [clip_bits(codec, clip.frames, float(clip.fps), q, args.gop) for q in qualities]
        results[path.stem] = {"rows": rows}
        for r in rows:
            per_block = f"{r['bytes_per_coded_block']:.0f}" if r["bytes_per_coded_block"] else "–"
            print(
                f"{path.stem:>8} q{r['quality']}: {r['kbps']:7.1f} kbps {r['psnr-rgb']:.2f} dB; "
                f"{r['intra_frames']} intra frames; bytes: intra "
                f"{r['intra_share']:.0%}, motion {r['motion_share']:.0%}, residual {r['residual_share']:.0%}, "
                f"flags {r['flag_share']:.0%}; {r['coded_block_share']:.0%} of P-blocks coded at "
                f"{per_block} B each (intra: {r['intra_bytes_per_block']:.0f} B per block)",
                flush=True,
            )
        anchor = x264_curve(args.x264, path.stem)
        if anchor and len(rows) >= 4:  # a BD-rate needs four points on each curve
            psnr = [r["psnr-rgb"] for r in rows]
            results[path.stem]["bd_rate_vs_x264"] = bd_rate(
                *anchor, [r["kbps"] for r in rows], psnr
            )
            results[path.stem]["bd_rate_vs_x264_if_p_frames_were_free"] = bd_rate(
                *anchor, [r["intra_kbps"] for r in rows], psnr
            )
            print(
                f"{path.stem:>8}: BD-rate against x264 {results[path.stem]['bd_rate_vs_x264']:+.1f} %; with free "
                f"P-frames {results[path.stem]['bd_rate_vs_x264_if_p_frames_were_free']:+.1f} %"
            )
    write_json(
        f"video_bits-{model}",
        {
            "model": model,
            "frames": args.frames,
            "gop": args.gop,
            "clips": str(args.clips),
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
