"""Speed and memory of the learned video codec at 640×360 on this machine.

Frames per second of ``encode`` and ``decode`` (the codec alone, synthesis included in decode), and the
peak memory of ``vcodec encode`` + ``vcodec decode`` on clips of two lengths, each in a fresh process,
to show that memory does not grow with the length of the video.

The clip is a slow pan over sklearn's china.jpg (640×427) cut to 640×360 and looped, with per-frame
noise (σ = 1 in 8-bit steps), written losslessly with FFV1.

    python benchmarks/video_speed.py [--model NAME (default: the default video codec)] [--quality 4] [--frames 60]
        [--lengths 10,60] [--fps 10] [--out benchmarks/results/video_speed.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

import vcodec
from vcodec.io.video import VideoWriter

WIDTH, HEIGHT = 640, 360


def pan_frames(count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """``count`` 640×360 frames of a vertical pan over china.jpg, back and forth, with fresh noise each."""
    from sklearn.datasets import load_sample_images

    image = load_sample_images().images[0].astype(np.float32)  # 427×640
    travel = image.shape[0] - HEIGHT
    rng = np.random.default_rng(seed)
    for t in range(count):
        top = t % (2 * travel)
        top = top if top <= travel else 2 * travel - top
        frame = image[top : top + HEIGHT, :WIDTH] + rng.standard_normal((HEIGHT, WIDTH, 3)).astype(
            np.float32
        )
        yield np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def codec_speed(model: str, quality: int, count: int) -> dict:
    codec = vcodec.load(model)
    frames = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in pan_frames(count)]
    start = time.perf_counter()
    packets = list(codec.encode(frames, quality))
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = sum(1 for _ in codec.decode(packets, WIDTH, HEIGHT, quality))
    decode_s = time.perf_counter() - start
    assert decoded == count
    return {
        "frames": count,
        "encode_fps": count / encode_s,
        "decode_fps": count / decode_s,
        "kbps_at_25fps": sum(len(p.to_bytes()) for p in packets) * 8 / (count / 25) / 1000,
    }


def peak_memory(model: str, quality: int, seconds: int, fps: int, folder: Path) -> dict:
    """Peak RSS of encoding and of decoding a clip of ``seconds`` seconds, each in its own process (VmHWM,
    which starts afresh at exec, unlike getrusage's maximum, which a child inherits from its parent)."""
    clip, stream, out = (
        folder / f"clip{seconds}.mkv",
        folder / f"clip{seconds}.vcd",
        folder / f"out{seconds}.mkv",
    )
    with VideoWriter(clip, Fraction(fps), WIDTH, HEIGHT) as writer:
        for frame in pan_frames(seconds * fps):
            writer.write(frame)
    result = {"seconds": seconds, "frames": seconds * fps}
    for step, args in (
        ("encode", [clip, stream, "-m", model, "-q", str(quality)]),
        ("decode", [stream, out]),
    ):
        started = time.perf_counter()
        code = (
            f"from vcodec.cli.main import main\n"
            f"try: main({[step, *map(str, args), '--force']!r})\n"
            f"except SystemExit as e: assert not e.code, e.code\n"
            f"print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        result[f"{step}_peak_mib"] = int(done.stdout.strip().splitlines()[-1]) / 1024
        result[f"{step}_seconds"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=vcodec.zoo.DEFAULT_VIDEO_MODEL)
    parser.add_argument("--quality", type=int, default=4)
    parser.add_argument("--frames", type=int, default=60, help="frames for the speed measurement")
    parser.add_argument(
        "--lengths", default="10,60", help="clip lengths (seconds) for the memory measurement"
    )
    parser.add_argument("--fps", type=int, default=10, help="frame rate of the memory clips")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/video_speed.json"))
    args = parser.parse_args()

    speed = codec_speed(args.model, args.quality, args.frames)
    print(
        f"{args.model} q{args.quality} at {WIDTH}×{HEIGHT}, {torch.get_num_threads()} threads: "
        f"encode {speed['encode_fps']:.2f} fps, decode {speed['decode_fps']:.2f} fps"
    )
    memory = []
    with tempfile.TemporaryDirectory() as folder:
        for seconds in (int(s) for s in args.lengths.split(",")):
            memory.append(peak_memory(args.model, args.quality, seconds, args.fps, Path(folder)))
            m = memory[-1]
            print(
                f"{seconds} s clip ({m['frames']} frames): peak memory encode {m['encode_peak_mib']:.0f} MiB, "
                f"decode {m['decode_peak_mib']:.0f} MiB ({m['encode_seconds']:.0f} s / {m['decode_seconds']:.0f} s "
                f"for the whole commands)"
            )
    record = {
        "model": args.model,
        "quality": args.quality,
        "size": [WIDTH, HEIGHT],
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "speed": speed,
        "memory": memory,
        "clip": "vertical pan over sklearn china.jpg, 640×360, per-frame noise σ=1, FFV1",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
