"""The pixel codec's learned coders against a classical DCT coder (WebP) on the same inputs.

Where does a pixel-domain video codec lose to x264: in its motion, its residual coder or its intra
coder? For each clip and quality this codes, with the real encoder (``pixel-residual``):
- the prediction error of every predicted frame (from the decoded previous frame, the encoder's own
  motion), once by the learned residual codec with every block coded, and at a sweep of WebP qualities
  as an 8-bit image (128 + error); both reconstructions are the prediction plus the decoded error;
- the first frame, by the intra codec at the stream's intra quality and by WebP.
WebP's bits at the learned coder's PSNR are interpolated on its sweep (log rate, linear in PSNR), so
the ratio says how many times a DCT coder's bits the learned coder spends for the same picture quality
(≥ when even WebP's lowest quality beats it). The "unquantized" PSNR is what the learned transforms give
back with no quantization at all (the latent passed through at the quality's gains): a ceiling that
no rate can pass, so it tells the transforms' limit from the entropy model's.

    python benchmarks/residual_coders.py CLIPS_FOLDER [--model NAME] [--frames 6] [--qualities 1,3,5,6]
"""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path

import numpy as np
import torch
from _common import write_json
from PIL import Image

import vcodec
from vcodec.codecs.pixel_video import MOTION_END, residual_levels, to_levels
from vcodec.eval.datasets import media_files
from vcodec.eval.metrics import psnr_rgb as psnr
from vcodec.io.video import VIDEO_SUFFIXES, read_video

WEBP_QUALITIES = (0, 1, 3, 6, 10, 15, 22, 30, 40, 50, 60, 70, 80, 90)


def webp(image: np.ndarray, quality: int) -> tuple[int, np.ndarray]:
    """Bytes and decoded pixels of an H×W×3 uint8 image as a lossy WebP."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "WEBP", quality=quality)
    return len(buffer.getvalue()), np.asarray(
        Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    )


def webp_bits_at(psnr_target: float, sweep: list[tuple[float, float]]) -> tuple[float, bool]:
    """WebP's bits at ``psnr_target`` on its sweep of (bits, PSNR) points, and whether that is an
    interpolation (True) or, below the sweep, the bits of its lowest point, which reaches a higher
    PSNR: an upper bound (False). NaN above the sweep."""
    points = sorted(sweep, key=lambda p: p[1])
    if psnr_target < points[0][1]:
        return points[0][0], False
    for (bits_a, psnr_a), (bits_b, psnr_b) in zip(points, points[1:]):
        if psnr_a <= psnr_target <= psnr_b and psnr_b > psnr_a:
            t = (psnr_target - psnr_a) / (psnr_b - psnr_a)
            return math.exp((1 - t) * math.log(bits_a) + t * math.log(bits_b)), True
    return math.nan, False


def residual_sweep(current: np.ndarray, prediction: np.ndarray) -> list[tuple[float, float]]:
    """(bits, PSNR of prediction + decoded error) of the prediction error coded by WebP at each quality."""
    error = residual_levels(
        torch.from_numpy(current).permute(2, 0, 1), torch.from_numpy(prediction).permute(2, 0, 1)
    )
    image = error.permute(1, 2, 0).numpy()
    points = []
    for quality in WEBP_QUALITIES:
        size, decoded = webp(image, quality)
        picture = np.clip(prediction.astype(np.int32) + decoded - 128, 0, 255)
        points.append((8.0 * size, psnr(current, picture)))
    return points


def image_sweep(image: np.ndarray) -> list[tuple[float, float]]:
    points = []
    for quality in WEBP_QUALITIES:
        size, decoded = webp(image, quality)
        points.append((8.0 * size, psnr(image, decoded)))
    return points


@torch.inference_mode()
def unquantized(codec, image: torch.Tensor, quality: int) -> torch.Tensor:
    """What an image codec's transforms give back (1×3×H×W in [0, 1]) when its latent is not
    quantized at all, at ``quality``'s gains: the ceiling no rate can pass."""
    q = torch.tensor([quality - 1])
    gain = codec.y_gain.gain(q).reshape(1, -1, 1, 1)
    inverse = codec.y_gain.inverse_gain(q).reshape(1, -1, 1, 1)
    height, width = image.shape[-2:]
    y = codec.g_a(codec.pad(image))
    return codec.g_s(y * gain * inverse)[..., :height, :width].clamp(0, 1)


def as_hwc(levels: torch.Tensor) -> np.ndarray:
    return levels.permute(1, 2, 0).numpy()


def clip_rows(codec, clip: np.ndarray, quality: int) -> dict:
    """One clip (T×H×W×3 uint8) at one quality: the learned coders' bits and PSNR, WebP's bits at
    that PSNR, for the intra frame and the predicted frames' residuals (summed over frames)."""
    frames = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in clip]
    coded = list(codec.encode_and_reconstruct(frames, quality, intra_period=len(frames) + 1))
    decoded = [to_levels(picture) for _, picture in coded]
    intra_bits = 8.0 * sum(map(len, coded[0][0].sections))
    intra_quality = coded[0][0].sections[0][0]
    intra_psnr = psnr(clip[0], as_hwc(decoded[0]))
    intra_top = psnr(clip[0], as_hwc(to_levels(unquantized(codec.intra, frames[0], intra_quality))))
    learned_bits, webp_bits, errors, tops, exact = 0.0, 0.0, [], [], True
    for t in range(1, len(frames)):
        sections, picture = codec._encode_predicted(
            frames[t], frames[t - 1], decoded[t - 1], quality, skip_weight=float("inf")
        )
        current = to_levels(frames[t])
        _, prediction = codec.search(current, decoded[t - 1], codec._mode_cost(quality))
        frame_psnr = psnr(clip[t], as_hwc(picture))
        bits, interpolated = webp_bits_at(frame_psnr, residual_sweep(clip[t], as_hwc(prediction)))
        learned_bits += 8.0 * sum(map(len, sections[MOTION_END:]))
        webp_bits += bits
        errors.append(frame_psnr)
        exact = exact and interpolated
        residual = unquantized(codec.residual, codec._residual_image(current, prediction), quality)
        top = prediction.float() + residual[0, :, : clip.shape[1], : clip.shape[2]] * 255 - 128
        tops.append(psnr(clip[t], as_hwc(top.round().clamp(0, 255).to(torch.uint8))))
    pixels = clip.shape[1] * clip.shape[2]
    intra_webp, intra_exact = webp_bits_at(intra_psnr, image_sweep(clip[0]))
    return {
        "quality": quality,
        "intra_bpp": intra_bits / pixels,
        "intra_psnr": intra_psnr,
        "intra_ceiling_psnr": intra_top,
        "intra_webp_bpp": intra_webp / pixels,
        "intra_webp_interpolated": intra_exact,
        "residual_bpp": learned_bits / pixels / (len(frames) - 1),
        "residual_psnr": float(np.mean(errors)),
        "residual_ceiling_psnr": float(np.mean(tops)),
        "residual_webp_bpp": webp_bits / pixels / (len(frames) - 1),
        "residual_webp_interpolated": exact,
    }


def ratio(learned: float, classical: float, interpolated: bool) -> str:
    """How many times WebP's bits the learned coder spends ("≥": WebP's lowest point already beats it)."""
    if math.isnan(classical):
        return "  n/a"
    return f"{'' if interpolated else '≥'}{learned / classical:.2f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, help="a video clip or a folder of them")
    parser.add_argument(
        "--model", default="pixel-residual-medium", help="a pixel-domain video codec"
    )
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--qualities", default="1,3,5,6")
    args = parser.parse_args()
    codec = vcodec.load(args.model)
    qualities = [int(q) for q in args.qualities.split(",")]
    results = {}
    for path in media_files(args.clips, VIDEO_SUFFIXES, "video"):
        clip = read_video(path, args.frames).frames
        rows = []
        for quality in qualities:
            row = clip_rows(codec, clip, quality)
            rows.append(row)
            print(
                f"{path.stem:>8} q{quality}: intra {row['intra_bpp']:.3f} bpp at {row['intra_psnr']:.2f} dB "
                f"({ratio(row['intra_bpp'], row['intra_webp_bpp'], row['intra_webp_interpolated'])} "
                f"WebP's bits; unquantized {row['intra_ceiling_psnr']:.2f} dB); residual "
                f"{row['residual_bpp']:.3f} bpp per P-frame at {row['residual_psnr']:.2f} dB "
                f"({ratio(row['residual_bpp'], row['residual_webp_bpp'], row['residual_webp_interpolated'])}"
                f" WebP's; unquantized {row['residual_ceiling_psnr']:.2f} dB)",
                flush=True,
            )
        results[path.stem] = rows
    write_json(
        f"residual_coders-{args.model}",
        {
            "model": args.model,
            "frames": args.frames,
            "clips": str(args.clips),
            "webp_qualities": WEBP_QUALITIES,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
