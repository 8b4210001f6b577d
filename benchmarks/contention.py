"""How much vcodec's workloads slow down when other CPU-bound programs share the machine.

Each workload is timed idle, then again beside ``--load`` busy processes, each an ordinary two-thread
torch job (a convolution loop, as a second encode or a training run would be, in OpenMP's default
waiting mode: other people's programs do not get our settings). The slowdown is loaded / idle time.
Target (issue 20): no workload slows by more than 3× beside two such jobs on 2 cores, where a fair
share of the cores would give 2×.

Workloads: the default image codec on a 768×512 crop of hubble_deep_field (encode, decode); one token
stream of tok1d-64 and of vq2d-f8 (decode); 48 frames of a 640×360 pan with the default video codec
(encode, decode; the clip of benchmarks/video_speed.py); 20 training steps of
configs/checkerboard-small.toml on data/photos.npz (skipped without it).

    python benchmarks/contention.py [--load 2] [--repeats 3] [--only image,tokens,video,train]
        [--wait-policy passive|active|unset] [--out NAME]

``--wait-policy unset`` leaves OpenMP's default (spin a while, then sleep) to whatever vcodec does
itself: with vcodec before issue 20 (``PYTHONPATH=OLD_CHECKOUT``), that is the behaviour users had.
``active`` makes every wait spin.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# A user's own torch job: two threads, OpenMP's default waiting (this script's setting removed).
LOAD_JOB = """
import torch
torch.set_num_threads(2)
conv = torch.nn.Conv2d(64, 64, 3, padding=1)
x = torch.randn(4, 64, 96, 96)
with torch.no_grad():
    while True:
        conv(x)
"""
VIDEO_FRAMES = 48
TRAIN_STEPS = 20


def start_load(count: int) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    jobs = [subprocess.Popen([sys.executable, "-c", LOAD_JOB], env=env) for _ in range(count)]
    time.sleep(3.0)  # let them import torch and start computing
    return jobs


def stop_load(jobs: list[subprocess.Popen]) -> None:
    for job in jobs:
        job.kill()
    for job in jobs:
        job.wait()


def image_workloads() -> dict[str, Callable[[], object]]:
    import skimage.data
    import torch

    import vcodec

    image = (
        torch.from_numpy(skimage.data.hubble_deep_field()[:512, :768].copy())
        .permute(2, 0, 1)[None]
        .float()
        / 255
    )
    codec = vcodec.load()
    data = codec.compress(image)
    return {
        "image encode (768×512)": lambda: codec.compress(image),
        "image decode (768×512)": lambda: codec.decompress(data),
    }


def token_workloads() -> dict[str, Callable[[], object]]:
    import skimage.data
    import torch
    import torch.nn.functional as F

    import vcodec

    photo = torch.from_numpy(skimage.data.astronaut().copy()).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(photo, size=(128, 128), mode="area")
    out = {}
    for name in ("tok1d-64", "vq2d-f8"):
        tokenizer = vcodec.load(name)
        data = tokenizer.compress(image)[0]
        out[f"token decode ({name})"] = lambda t=tokenizer, d=data: t.decompress(d)
    return out


def video_workloads() -> dict[str, Callable[[], object]]:
    import torch
    from video_speed import HEIGHT, WIDTH, pan_frames

    import vcodec

    codec = vcodec.load(vcodec.zoo.DEFAULT_VIDEO_MODEL)
    frames = [
        torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in pan_frames(VIDEO_FRAMES)
    ]
    quality = codec.default_quality
    packets = list(codec.encode(frames, quality))
    return {
        f"video encode ({VIDEO_FRAMES} frames)": lambda: list(codec.encode(frames, quality)),
        f"video decode ({VIDEO_FRAMES} frames)": lambda: list(
            codec.decode(packets, WIDTH, HEIGHT, quality)
        ),
    }


def train_workloads(data: Path) -> dict[str, Callable[[], object]]:
    if not data.is_file():
        print(f"{data}: no training cache, training skipped (run `vcodec data prepare`)")
        return {}
    from train_throughput import CONFIGS, measure

    config = CONFIGS / "checkerboard-small.toml"
    return {
        f"training ({TRAIN_STEPS} steps)": lambda: measure(config, data, TRAIN_STEPS, 1, "cpu", 0)
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--load", type=int, default=2, help="busy two-thread torch processes beside each workload"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="image,tokens,video,train")
    parser.add_argument("--wait-policy", choices=("passive", "active", "unset"), default="passive")
    parser.add_argument("--data", type=Path, default=Path("data/photos.npz"))
    parser.add_argument(
        "--out", default=None, help="results name (default contention or contention-active)"
    )
    args = parser.parse_args()
    os.environ.pop("OMP_WAIT_POLICY", None)
    if args.wait_policy != "unset":
        os.environ["OMP_WAIT_POLICY"] = (
            args.wait_policy.upper()
        )  # before torch loads (vcodec keeps a set value)
    import vcodec

    policy = os.environ.get("OMP_WAIT_POLICY", "unset")  # what vcodec left when it was imported

    from _common import median_seconds, write_json

    builders = {
        "image": image_workloads,
        "tokens": token_workloads,
        "video": video_workloads,
        "train": lambda: train_workloads(args.data),
    }
    workloads: dict[str, Callable[[], object]] = {}
    for name in args.only.split(","):
        workloads.update(builders[name]())
    idle = {name: median_seconds(fn, args.repeats) for name, fn in workloads.items()}
    jobs = start_load(args.load)
    try:
        loaded = {name: median_seconds(fn, args.repeats) for name, fn in workloads.items()}
    finally:
        stop_load(jobs)
    rows = []
    print(
        f"vcodec from {Path(vcodec.__file__).parent}, OMP_WAIT_POLICY={policy}, {args.load} busy two-thread "
        f"torch processes beside:"
    )
    for name in workloads:
        ratio = loaded[name] / idle[name]
        rows.append(
            {
                "workload": name,
                "idle_s": round(idle[name], 4),
                "loaded_s": round(loaded[name], 4),
                "slowdown": round(ratio, 2),
            }
        )
        print(
            f"  {name:28s} idle {idle[name]:8.3f} s   loaded {loaded[name]:8.3f} s   slowdown {ratio:5.2f}×"
        )
    worst = max(r["slowdown"] for r in rows)
    print(f"worst slowdown {worst:.2f}× (target ≤ 3×: {'met' if worst <= 3 else 'NOT met'})")
    name = args.out or (
        "contention" if args.wait_policy == "passive" else f"contention-{args.wait_policy}"
    )
    write_json(
        name,
        {
            "vcodec": str(Path(vcodec.__file__).parent),
            "wait_policy": policy,
            "load_processes": args.load,
            "repeats": args.repeats,
            "target_max_slowdown": 3.0,
            "worst_slowdown": worst,
            "results": rows,
        },
    )


if __name__ == "__main__":
    main()
