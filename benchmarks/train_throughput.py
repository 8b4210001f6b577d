"""Training throughput of every shipped config on this machine: images (or clips) per second.

Each config in ``configs/`` is trained for a few steps in a throw-away run folder, with its own batch
and crop, from scratch; the first steps (allocation, warm-up) are not timed. Video codecs train on
frame pairs, the video tokenizer on clips of ``frames`` frames: both are counted in clips and in frames.

    python benchmarks/train_throughput.py [--steps 20] [--warmup 3] [--device cpu] [--threads 2]
        [--configs checkerboard-small,tok1d-64] [--data data/photos.npz] [--amp] [--compile]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from _common import write_json

from vcodec.train.config import load_config
from vcodec.train.launch import initialise, start_weights
from vcodec.train.loop import Trainer

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def measure(
    path: Path,
    data: Path,
    steps: int,
    warmup: int,
    device: str,
    threads: int,
    amp: bool = False,
    compile: bool = False,
) -> dict:
    recipe = load_config(path)
    recipe.train = replace(
        recipe.train,
        data=str(data),
        device=device,
        threads=threads,
        steps=warmup + steps,
        checkpoint_every=10**9,
        dev_every=0,
        amp=amp,
        compile=compile,
    )
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(recipe.train, Path(tmp))
        if (
            recipe.init
        ):  # start where the shipped run started (a video codec's image codec must be the real one)
            initialise(trainer, recipe, start_weights(recipe, print))
        for _ in range(warmup):
            trainer.step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            trainer.step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    config = recipe.train
    frames = trainer.crops.batch(1).numel() // (
        3 * config.crop**2
    )  # an image, a frame pair or a clip
    samples = steps * config.batch / seconds
    return {
        "architecture": config.model.architecture,
        "batch": config.batch,
        "crop": config.crop,
        "frames_per_sample": frames,
        "steps_per_s": round(steps / seconds, 3),
        "samples_per_s": round(samples, 2),
        "frames_per_s": round(samples * frames, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--configs", default=None, help="Comma-separated config names (default: all of configs/)."
    )
    parser.add_argument("--data", type=Path, default=Path("data/photos.npz"))
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the training forward pass"
    )
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data}: no training cache (run `vcodec data prepare {args.data}`)")
    names = (
        args.configs.split(",") if args.configs else sorted(p.stem for p in CONFIGS.glob("*.toml"))
    )
    results = {}
    for name in names:
        results[name] = measure(
            CONFIGS / f"{name}.toml",
            args.data,
            args.steps,
            args.warmup,
            args.device,
            args.threads,
            args.amp,
            args.compile,
        )
        r = results[name]
        print(
            f"{name:20s} {r['architecture']:24s} batch {r['batch']:2d} crop {r['crop']:3d}: "
            f"{r['steps_per_s']:6.2f} steps/s, {r['samples_per_s']:7.2f} samples/s, {r['frames_per_s']:7.2f} frames/s",
            flush=True,
        )
    suffix = ("" if args.device == "cpu" else f"-{args.device.split(':')[0]}") + (
        "-compiled" if args.compile else ""
    )
    write_json(
        f"train_throughput{suffix}",
        {
            "device": args.device,
            "threads": args.threads,
            "steps": args.steps,
            "amp": args.amp,
            "compile": args.compile,
            "data": args.data.name,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
