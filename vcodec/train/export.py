"""Turn a training run into a shipped checkpoint: weights, config with measured RD, model card."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from vcodec.codecs import build_codec
from vcodec.errors import VcodecError
from vcodec.eval.datasets import development_images
from vcodec.eval.methods import LearnedImageMethod
from vcodec.eval.rd import evaluate_images
from vcodec.train.loop import TrainConfig, load_training_state
from vcodec.zoo import prepare_for_shipping, save_checkpoint

DATA_NOTE = (
    "36 photos from the Debian packages mate-backgrounds (nature/), lomiri-wallpapers-16.04 and "
    "plasma-workspace-wallpapers (10 named 2560x1600 wallpapers), downscaled 2x; random 128x128 crops"
)


def load_run(run_dir: Path, name: str):
    """The model of ``run_dir/last.pt`` and the run's config and step count."""
    ckpt = torch.load(Path(run_dir) / "last.pt", map_location="cpu", weights_only=False)
    config = TrainConfig.from_dict(ckpt["config"])
    model = build_codec(config.model, name)
    load_training_state(model, ckpt["model"])
    return model.eval(), config, ckpt


def _card(name: str, description: str, config: TrainConfig, steps: int, hardware: str, dev: dict) -> str:
    rows = "\n".join(
        f"| {q} | {lam} | {bpp:.3f} | {psnr:.2f} | {msssim:.4f} |"
        for q, lam, bpp, psnr, msssim in zip(
            dev["quality"], config.model.lambdas, dev["bpp"], dev["psnr-rgb"], dev["ms-ssim-rgb"]
        )
    )
    return f"""# {name}

{description}

- Architecture: `{config.model.architecture}`, N={config.model.n}, M={config.model.m}; one variable-rate
  model (gain units), {len(config.model.lambdas)} qualities.
- Training data: {DATA_NOTE}.
- Training: {steps} steps of batch {config.batch}, Adam lr {config.lr} (cosine to {config.final_lr}),
  loss λ·255²·MSE + bpp with λ drawn per sample from the quality levels.
- Hardware: {hardware}.
- Rebuild: `vcodec prepare-data data/photos.npz`, then
  `vcodec train RUN --data data/photos.npz --steps {config.steps} --n {config.model.n} --m {config.model.m} --lr {config.lr}`
  and `vcodec export RUN checkpoints/{name}`.

## Measured rate–distortion (development images, whole-container bpp, PSNR on uint8 RGB)

Images: skimage astronaut, coffee, chelsea, rocket, motorcycle (left), hubble crop 512²; sklearn china,
flower. All are lossy sources: these are development numbers, not Kodak numbers.

| quality | λ | bpp | PSNR-RGB (dB) | MS-SSIM-RGB |
|---|---|---|---|---|
{rows}
"""


def export_run(run_dir: Path, out_dir: Path, name: str, description: str, hardware: str | None = None,
               force: bool = False) -> dict:
    """Evaluate the run's model on the development images and write the checkpoint folder."""
    if Path(out_dir).exists() and not force:
        raise VcodecError(f"{out_dir}: exists (use --force to replace it)")
    model, config, ckpt = load_run(run_dir, name)
    prepare_for_shipping(model)
    (dev,), _ = evaluate_images([LearnedImageMethod(name, model)], development_images(), strict=True)
    hardware = hardware or f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    record = {
        "description": description,
        "training": {"steps": ckpt["step"], "batch": config.batch, "crop": config.crop, "lr": config.lr,
                     "data": DATA_NOTE, "hardware": hardware},
        "results": {"dev": dev["results"]},
    }
    save_checkpoint(model, Path(out_dir), record, _card(name, description, config, ckpt["step"], hardware, dev["results"]), force)
    return dev
