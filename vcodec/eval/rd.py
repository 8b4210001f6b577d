"""The RD runner: every method × every picture or clip × every rate point, measured the same way.

Bits are the real size of what each method wrote (bpp for images; kbps and bpp for video). Metrics are
computed on the decoded 8-bit RGB. Each method's mean over the items at each rate point is returned
in CompressAI's results layout, with the per-item rows kept for tracing a regression to a picture.
Methods marked ``parallel`` (the classical codecs) can run in worker processes (``jobs``).
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from vcodec.errors import VcodecError
from vcodec.eval.metrics import bits_per_pixel, ms_ssim_rgb, psnr_rgb, psnr_y
from vcodec.io.video import read_video

IMAGE_METRICS = ("bpp", "payload-bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time")
VIDEO_METRICS = ("kbps", "bpp", "psnr-rgb", "psnr-y", "encoding_time", "decoding_time")


@dataclass(frozen=True)
class VideoSource:
    """A clip to evaluate, read in whichever process needs it (workers read their own copy)."""

    path: str
    max_frames: int | None

    def load(self):
        return _read_cached(self.path, self.max_frames)


@functools.lru_cache(maxsize=2)
def _read_cached(path: str, max_frames: int | None):
    return read_video(path, max_frames)


def image_row(method, name: str, image: np.ndarray, point: int) -> dict:
    """One image through one method at one rate point: bits, quality and time."""
    coded = method.code(image, point)
    h, w = image.shape[:2]
    payload = coded.num_bytes if coded.payload_bytes is None else coded.payload_bytes
    return {
        "image": name,
        method.parameter: point,
        "bytes": coded.num_bytes,
        "bpp": bits_per_pixel(coded.num_bytes, h, w),
        "payload-bpp": bits_per_pixel(payload, h, w),
        "psnr-rgb": psnr_rgb(image, coded.decoded),
        "ms-ssim-rgb": ms_ssim_rgb(image, coded.decoded),
        "encoding_time": coded.encode_seconds,
        "decoding_time": coded.decode_seconds,
    }


def video_row(method, name: str, source: VideoSource, point: int) -> dict:
    """One clip through one method at one rate point: kbps from the real size, per-frame PSNR."""
    clip = source.load()
    coded = method.code(clip.frames, clip.fps, point)
    if coded.decoded.shape != clip.frames.shape:
        raise VcodecError(
            f"{method.name} decoded {coded.decoded.shape[0]} frames of {clip.num_frames}"
        )
    t, h, w = clip.frames.shape[:3]
    psnr = [psnr_rgb(a, b) for a, b in zip(clip.frames, coded.decoded)]
    psnr_luma = [psnr_y(a, b) for a, b in zip(clip.frames, coded.decoded)]
    return {
        "video": name,
        method.parameter: point,
        "frames": t,
        "fps": float(clip.fps),
        "bytes": coded.num_bytes,
        "kbps": coded.num_bytes * 8 / clip.duration / 1000,
        "bpp": bits_per_pixel(coded.num_bytes, t * h, w),
        "psnr-rgb": float(np.mean(psnr)),
        "psnr-y": float(np.mean(psnr_luma)),
        "frame_psnr_rgb": psnr,
        "frame_psnr_y": psnr_luma,
        "encoding_time": coded.encode_seconds,
        "decoding_time": coded.decode_seconds,
    }


def _mean(values: list[float]) -> float:
    """Mean over the items where the metric is defined (MS-SSIM is not on images under 161 px)."""
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def _summary(method, rows: list[dict], metrics: tuple[str, ...], item_key: str) -> dict:
    """Per-point means over the items, in CompressAI's layout (NaN where a metric was undefined)."""
    results = {method.parameter: list(method.points)}
    for key in metrics:
        results[key] = [
            _mean([r[key] for r in rows if r[method.parameter] == p]) for p in method.points
        ]
    items = sorted({r[item_key] for r in rows})
    return {
        "name": method.name,
        "description": f"{method.description}; mean over {len(items)} {item_key}s",
        "results": results,
        item_key + "s": items,
        "per_" + item_key: rows,
    }


def _worker_init() -> None:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=FutureWarning)


def run(
    methods: list,
    items: dict,
    row: Callable,
    metrics: tuple[str, ...],
    item_key: str,
    jobs: int = 1,
    progress: bool = True,
    strict: bool = False,
) -> tuple[list[dict], list[str]]:
    """Evaluate every method on every item at every point; returns (summaries, warnings).

    A method that fails on any item is dropped with a warning (its curve would not be comparable),
    or, with ``strict``, the whole run stops with that error.
    """
    tasks = [(m, name, item, p) for m in methods for p in m.points for name, item in items.items()]
    rows: dict[str, list[dict]] = {m.name: [] for m in methods}
    failed: dict[str, str] = {}
    bar = tqdm(total=len(tasks), desc="evaluate", unit="run", disable=not progress)

    def record(method, name, outcome) -> None:
        if isinstance(outcome, Exception):
            message = f"{method.name} failed on {name}: {outcome}"
            if strict:
                raise VcodecError(message)
            failed.setdefault(method.name, message)
        else:
            rows[method.name].append(outcome)
        bar.update(1)

    serial = [t for t in tasks if jobs <= 1 or not t[0].parallel]
    pooled = [t for t in tasks if t not in serial]
    try:
        for method, name, item, point in serial:
            if method.name not in failed:
                bar.set_postfix_str(f"{method.name} {method.parameter} {point}")
                record(method, name, _attempt(row, method, name, item, point))
        if pooled:
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init)
            try:
                futures = {pool.submit(_attempt, row, *t): t for t in pooled}
                for future in as_completed(futures):
                    method, name = futures[future][:2]
                    record(method, name, future.result())
            except BrokenProcessPool as err:
                raise VcodecError(f"a worker process died ({err}); try --jobs 1") from None
            finally:
                pool.shutdown(
                    wait=True, cancel_futures=True
                )  # after an error: drop the queued runs
    finally:
        bar.close()
    summaries = [
        _summary(m, rows[m.name], metrics, item_key) for m in methods if m.name not in failed
    ]
    return summaries, list(failed.values())


def _attempt(row: Callable, method, name: str, item, point: int):
    """The row, or the exception a codec raised (returned, so one failure does not end a long run)."""
    try:
        return row(method, name, item, point)
    except (VcodecError, RuntimeError, ValueError, OSError, MemoryError) as err:
        return VcodecError(str(err).splitlines()[0] if str(err) else type(err).__name__)


def evaluate_images(
    methods: list, images: dict[str, np.ndarray], **options
) -> tuple[list[dict], list[str]]:
    """RD curves of ``methods`` over images (name → H×W×3 uint8): bpp, PSNR-RGB, MS-SSIM-RGB, times."""
    return run(methods, images, image_row, IMAGE_METRICS, "image", **options)


def evaluate_videos(
    methods: list, videos: dict[str, VideoSource], **options
) -> tuple[list[dict], list[str]]:
    """RD curves of ``methods`` over clips: kbps, bpp, mean per-frame PSNR in RGB and Y', times."""
    return run(methods, videos, video_row, VIDEO_METRICS, "video", **options)


def psnr_at_rate(curve: dict, bpp: float) -> float:
    """PSNR of an RD curve at a given rate, by linear interpolation in log-rate (NaN outside it)."""
    rates, psnrs = np.log(curve["bpp"]), np.asarray(curve["psnr-rgb"])
    order = np.argsort(rates)
    if not rates.min() <= math.log(bpp) <= rates.max():
        return float("nan")
    return float(np.interp(math.log(bpp), rates[order], psnrs[order]))
