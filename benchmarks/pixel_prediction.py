"""What pixel-domain motion compensation buys before any training (issue 23's feasibility check).

For each clip: a centre crop of its first frames; frame 0 coded intra by an image codec, each later
frame predicted from the previous decoded one (block motion search, quarter-pel, :mod:`vcodec.inter`)
and its residual coded by the same, unchanged image codec as the image 0.5 + (x − prediction). Prints
per frame: the frame coded intra (bpp, PSNR-RGB), the prediction alone (PSNR), the vectors' bpp, and
the P-frame (vectors + residual bpp, PSNR of the reconstruction).

    python benchmarks/pixel_prediction.py CLIPS_FOLDER [--model checkerboard-medium] [--quality 3]
        [--frames 6] [--crop 384x256] [--block 16] [--search 16]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _common import write_json

import vcodec
from vcodec.eval.datasets import media_files
from vcodec.eval.metrics import psnr_rgb
from vcodec.inter import SubpelReference, block_motion, encode_vectors, predict
from vcodec.inter.interpolation import block_field
from vcodec.io.video import VIDEO_SUFFIXES, read_video


def centre(frame: np.ndarray, height: int, width: int) -> torch.Tensor:
    """A C×H×W uint8 centre crop (the whole frame where it is smaller)."""
    top, left = max(0, (frame.shape[0] - height) // 2), max(0, (frame.shape[1] - width) // 2)
    crop = frame[top : top + height, left : left + width]
    crop = crop[: crop.shape[0] // 16 * 16, : crop.shape[1] // 16 * 16]
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)


def code(codec, image: torch.Tensor, quality: int) -> tuple[int, torch.Tensor]:
    """Bytes and the decoded image (float, C×H×W in [0, 1]) of a float image in [0, 1]."""
    data = codec.compress(image[None], quality=quality)
    return len(data), codec.decompress(data)[0]


def levels(image: torch.Tensor) -> torch.Tensor:
    """Float pixel values (0–255 scale) rounded to uint8."""
    return image.round().clamp(0, 255).to(torch.uint8)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(psnr_rgb(a.permute(1, 2, 0).numpy(), b.permute(1, 2, 0).numpy()))


def clip_rows(codec, frames: list[torch.Tensor], args) -> list[dict]:
    pixels = frames[0].shape[-1] * frames[0].shape[-2]
    _, first = code(codec, frames[0].float() / 255, args.quality)
    reference = levels(255 * first)
    rows = []
    for index, frame in enumerate(frames[1:], start=1):
        intra_bytes, intra = code(codec, frame.float() / 255, args.quality)
        vectors = block_motion(frame, reference, args.block, args.search)
        motion = encode_vectors(vectors, args.search)
        field = block_field(vectors, args.block, *frame.shape[-2:])
        prediction = predict(SubpelReference(reference, args.search + 1), field)
        residual = (frame.float() - prediction.float()) / 255
        residual_bytes, decoded = code(codec, (0.5 + residual).clamp(0, 1), args.quality)
        reference = levels(prediction.float() + 255 * (decoded - 0.5))
        rows.append(
            {
                "frame": index,
                "intra_bpp": 8 * intra_bytes / pixels,
                "intra_psnr": psnr(levels(255 * intra), frame),
                "prediction_psnr": psnr(prediction, frame),
                "vector_bpp": 8 * len(motion) / pixels,
                "p_bpp": 8 * (len(motion) + residual_bytes) / pixels,
                "p_psnr": psnr(reference, frame),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clips", type=Path)
    parser.add_argument("--model", default="checkerboard-medium")
    parser.add_argument("--quality", type=int, default=3)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--crop", default="384x256", help="W×H centre crop")
    parser.add_argument("--block", type=int, default=16)
    parser.add_argument("--search", type=int, default=16)
    args = parser.parse_args()
    codec = vcodec.load(args.model)
    width, height = (int(v) for v in args.crop.lower().split("x"))
    results = {}
    for path in media_files(args.clips, VIDEO_SUFFIXES, "clips"):
        clip = read_video(path, max_frames=args.frames)
        frames = [centre(f, height, width) for f in clip.frames]
        results[path.name] = clip_rows(codec, frames, args)
        for r in results[path.name]:
            print(
                f"{path.name} f{r['frame']}: intra {r['intra_bpp']:.3f} bpp {r['intra_psnr']:.2f} dB"
                f" | prediction {r['prediction_psnr']:.2f} dB, vectors {r['vector_bpp']:.4f} bpp"
                f" | P {r['p_bpp']:.3f} bpp {r['p_psnr']:.2f} dB",
                flush=True,
            )
    write_json(
        "pixel_prediction",
        {"model": args.model, "quality": args.quality, "crop": args.crop, "clips": results},
    )


if __name__ == "__main__":
    main()
