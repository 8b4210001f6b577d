"""Turn a training run into a shipped checkpoint: weights, config with measured results, model card.

What is measured and what the card says depend on the model's kind (:meth:`vcodec.kinds.base.ModelKind.measure`);
the run record and the card's lineage are shared here."""

from __future__ import annotations

import platform
from dataclasses import fields, replace
from pathlib import Path

import torch

from vcodec import registry, zoo
from vcodec.errors import VcodecError
from vcodec.train.latents import SCALE_STEPS, STRIDE
from vcodec.train.loop import TrainConfig, load_training_state, wall_seconds, weights_to_ship
from vcodec.zoo import prepare_for_shipping, save_checkpoint

DATA_NOTE = (
    "36 photos from the Debian packages mate-backgrounds (nature/), lomiri-wallpapers-16.04 and "
    "plasma-workspace-wallpapers (10 named 2560x1600 wallpapers), downscaled 2x"
)


def data_note(config: TrainConfig, video: bool = False) -> str:
    """The training data of a run in one line: the photos and how crops (or, for a video model,
    clips) were cut from them."""
    from vcodec.kinds.tokenizer import in_latent_space

    low, high = config.crop_scales
    if video:
        return (
            f"{DATA_NOTE}; clips of {config.frames} frames with known motion cut from random "
            f"{config.crop}x{config.crop} windows"
        )
    if config.latent_rate or in_latent_space(config.model):
        side = config.crop // STRIDE
        return (
            f"{DATA_NOTE}; g_a's latents of each whole photo, shrunk {low:g}–{high:g}× "
            f"({SCALE_STEPS} scales) and mirrored, cut into random {side}x{side} windows "
            f"({config.crop} px)"
        )
    scales = f", each cut from a window {low:g}–{high:g}× larger and shrunk" if high > 1 else ""
    return f"{DATA_NOTE}; random {config.crop}x{config.crop} crops{scales}"


def schedule_notes(config: TrainConfig) -> str:
    """What a card's training line adds for frozen modules and averaged weights ("" for neither)."""
    notes = [f"; frozen: {', '.join(config.freeze)}"] if config.freeze else []
    if config.ema:
        notes.append(f"; shipped weights: their moving average (EMA, decay {config.ema:g})")
    return "".join(notes)


def extra_terms(config: TrainConfig) -> str:
    """A tokenizer's loss terms besides MSE and the quantizer's, as the card lists them."""
    loss = config.loss
    terms = [f" + {loss.ms_ssim:g}·(1 − MS-SSIM)"] if loss.ms_ssim else []
    if loss.adversarial:
        terms.append(
            f" + {loss.adversarial:g}·PatchGAN hinge loss from step {loss.adversarial_start}"
        )
    return "".join(terms)


def load_run(run_dir: Path, name: str, token_prior: str | None = None):
    """The model of ``run_dir/last.pt`` and the run's config and step count (a tokenizer with the
    ``token_prior`` kind of prior, when given)."""
    ckpt = torch.load(Path(run_dir) / "last.pt", map_location="cpu", weights_only=False)
    config = TrainConfig.from_dict(ckpt["config"])
    if token_prior is not None:
        if "prior" not in {f.name for f in fields(config.model)}:
            raise VcodecError("--token-prior applies to image tokenizers only")
        config.model = replace(config.model, prior=token_prior)
    model = zoo.build(config.model, name)
    load_training_state(model, weights_to_ship(ckpt))
    return model.eval(), config, ckpt


def export_run(
    run_dir: Path,
    out_dir: Path,
    name: str,
    description: str | None,
    hardware: str | None = None,
    force: bool = False,
    token_prior: str | None = None,
) -> dict:
    """Measure the run's model on the development data and write the checkpoint folder; returns the
    measured results."""
    if Path(out_dir).exists() and not force:
        raise VcodecError(f"{out_dir}: exists (use --force to replace it)")
    model, config, ckpt = load_run(run_dir, name, token_prior)
    kind = registry.kind_of(config.model)
    prepare_for_shipping(model)
    kind.prepare_export(model, config)  # priors fitted on the tokens of the weights as shipped
    arch = registry.architecture(config.model.architecture)
    description = description or arch.description or arch.name
    hardware = (
        hardware
        or f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    )
    if wall_seconds(ckpt):
        hardware += f"; {_duration(wall_seconds(ckpt))} of training"
    dev, card = kind.measure(model, name, description, config, ckpt["step"], hardware)
    save_checkpoint(
        model,
        Path(out_dir),
        _record(description, config, ckpt, hardware, dev),
        _with_lineage(card, run_dir),
        force,
    )
    return dev


def _started_from(run_dir: Path) -> str | None:
    """The ``init`` of the run's recorded config (None: from scratch, or a run without config.toml)."""
    from vcodec.train.config import load_config

    path = Path(run_dir) / "config.toml"
    try:
        return load_config(path).init if path.is_file() else None
    except VcodecError:
        return None


def _with_lineage(card: str, run_dir: Path) -> str:
    """The card, saying which weights the run started from, when it did not start from scratch."""
    init = _started_from(run_dir)
    return (
        card.replace("\n- Hardware:", f"\n- Started from: `{init}`.\n- Hardware:", 1)
        if init
        else card
    )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _record(description: str, config: TrainConfig, ckpt: dict, hardware: str, dev: dict) -> dict:
    """What config.json says besides the architecture: the training run and the measured results."""
    return {
        "description": description,
        "training": {
            "steps": ckpt["step"],
            "batch": config.batch,
            "crop": config.crop,
            "lr": config.lr,
            "data": data_note(config, registry.kind_of(config.model).name == "video-tokenizer"),
            "hardware": hardware,
            "wall_seconds": round(wall_seconds(ckpt)),
        },
        "results": {"dev": dev},
    }
