"""Causal video tokenizers: trained on reconstruction of short synthetic clips, shipped with a
categorical token prior, measured on the synthetic development clips."""

from __future__ import annotations

from typing import Any

from vcodec.kinds.base import FuzzSeeds, ModelKind
from vcodec.kinds.tokenizer import CodecLatentDependency, fsq_levels, in_latent_space

PRIOR_CLIPS = 512
START_CLIPS = 256  # training clips a latent-space video tokenizer's transforms are fitted to


class VideoTokenizerKind(CodecLatentDependency, ModelKind):
    name = "video-tokenizer"
    noun = "a video tokenizer"
    media = "video"
    eval_method_type = "vcodec.eval.methods:VideoTokenizerMethod"
    fitted_at_export = "prior."  # the token prior, fitted on the shipped weights' tokens

    # --- training ------------------------------------------------------------------------------------------
    def objective(self, config: Any) -> type:
        from vcodec.train.objectives import Reconstruction

        return Reconstruction

    def training_data(self, config, model) -> Any:
        from pathlib import Path

        from vcodec.train.data import SyntheticMotion

        source = SyntheticMotion.from_npz(
            Path(config.data),
            config.crop,
            config.seed,
            frames=config.frames,
            channels_first=True,
            deform=config.deform,
            change=config.change,
        )
        if in_latent_space(config.model):  # its transform code is fitted here, once
            _fit_start(model, config)
        return source

    def check_training(self, config, model) -> None:
        space, time = model.config.spatial_factor, model.config.temporal_factor
        if config.crop % space or config.frames < 1 + time or (config.frames - 1) % time:
            raise ValueError(
                f"a {config.model.architecture} tokenizer trains on crops that are a multiple of {space} "
                f"and clips of 1 + k·{time} frames (k ≥ 1), got --crop {config.crop} --frames {config.frames}"
            )

    def config_from_flags(self, architecture: str, flags: dict, run_dir) -> Any:
        from vcodec import registry

        return registry.architecture(architecture).config_type(
            channels=flags["n"], levels=fsq_levels(flags["codebook_size"])
        )

    def usage(self, name: str) -> str:
        return (
            f"; `vcodec tokenize CLIP -m {name}` gives its token ids, and its token streams decode in "
            f"Python (tok.decompress)"
        )

    def clip_frames(self, model: dict, token_frames: int) -> int:
        """1 + temporal_factor · (token frames − 1), from config.json alone (no torch)."""
        return 1 + 2 ** int(model["temporal_downsamples"]) * (token_frames - 1)

    # --- export and evaluation ---------------------------------------------------------------------------------
    def prepare_export(self, model, config) -> None:
        """Fit the categorical prior on the tokens of the weights as shipped."""
        from vcodec.zoo import prepare_for_shipping

        fit_video_token_prior(model, config)
        prepare_for_shipping(model)

    def measure(self, model, name: str, description: str, config, steps: int, hardware: str):
        """PSNR and coded bits on the synthetic development clips (17 frames each)."""
        import numpy as np

        from vcodec.eval.datasets import development_clips
        from vcodec.eval.methods import VIDEO_TOKEN_CHUNK, VideoTokenizerMethod
        from vcodec.eval.rd import evaluate_videos

        clips = development_clips(VIDEO_TOKEN_CHUNK)
        (dev,), _ = evaluate_videos([VideoTokenizerMethod(name, model)], clips, strict=True)
        dev = dev["results"]
        c, size = model.config, next(iter(clips.values())).size
        per_clip = (1 + (VIDEO_TOKEN_CHUNK - 1) // c.temporal_factor) * np.prod(
            [-(-s // c.spatial_factor) for s in size]
        )
        dev["bits_per_token"] = [
            bpp * VIDEO_TOKEN_CHUNK * np.prod(size) / per_clip for bpp in dev["bpp"]
        ]
        return dev, _card(name, description, config, steps, hardware, dev, model, clips)

    def fuzz_seeds(self, model, generator) -> FuzzSeeds:
        import torch

        from vcodec.testing.fuzz import clip_output

        return FuzzSeeds(
            model.compress(torch.rand(2, 3, 5, 32, 32, generator=generator)),
            model.decompress,
            declared=clip_output(model),
        )


def _fit_start(model, config, batch: int = 16) -> None:
    """Fit a latent-space video tokenizer's transforms to START_CLIPS clips of the training photos (own
    seed, so the training clips are the same with or without it)."""
    from pathlib import Path

    import torch

    from vcodec.train.data import SyntheticMotion

    if bool(model.linear_fitted):
        return
    source = SyntheticMotion.from_npz(
        Path(config.data),
        config.crop,
        seed=config.seed + 1,
        frames=config.frames,
        channels_first=True,
    )
    model.fit_start(torch.cat([source.batch(batch) for _ in range(START_CLIPS // batch)]))


def fit_video_token_prior(tokenizer, config, clips: int = PRIOR_CLIPS, batch: int = 8) -> None:
    """Fit the video tokenizer's categorical prior to the tokens of ``clips`` training clips (fixed seed)."""
    from pathlib import Path

    import torch

    from vcodec.train.data import SyntheticMotion

    source = SyntheticMotion.from_npz(
        Path(config.data), config.crop, seed=12345, frames=config.frames, channels_first=True
    )
    with torch.no_grad():
        tokenizer.fit_prior(
            torch.cat(
                [tokenizer.encode(source.batch(batch)) for _ in range(max(1, clips // batch))]
            )
        )


def _prior_tables(tokenizer) -> str:
    """What a video tokenizer's card says of its prior's tables."""
    if tokenizer.prior.positions == 1:
        return "one categorical per vocabulary"
    return "two categoricals per vocabulary, for the first token frame and for the later ones"


def _vocabulary(vocab_sizes: tuple[int, ...]) -> str:
    if len(vocab_sizes) == 1:
        return f"a vocabulary of {vocab_sizes[0]}"
    return (
        f"{len(vocab_sizes)} sub-tokens of vocabularies {', '.join(f'{v:,}' for v in vocab_sizes)}"
    )


def _card(
    name: str,
    description: str,
    config,
    steps: int,
    hardware: str,
    dev: dict,
    tokenizer,
    clips: dict,
) -> str:
    from vcodec.kinds.tokenizer import codec_line
    from vcodec.train.export import DATA_NOTE, extra_terms

    model = config.model
    s, t = model.spatial_factor, model.temporal_factor
    start = (
        f"its transforms fitted to the latents of {START_CLIPS} training clips"
        if in_latent_space(model)
        else ""
    )
    if steps:
        training = (
            f"{start}{'; then ' if start else ''}{steps} steps of batch {config.batch} "
            f"({config.frames}×{config.crop}² clips), Adam lr {config.lr} (cosine to\n  "
            f"{config.final_lr}), loss MSE{extra_terms(config)} (FSQ has no codebook loss)"
        )
    elif start:
        training = f"{start}; no training steps: the fitted transform code is the model"
    else:
        training = "no training steps"
    return f"""# {name}

{description}

- Architecture: `{model.architecture}`: {model.summary()}; {_vocabulary(tokenizer.vocab_sizes)}.
  A clip of 1 + {t}k frames of H×W gives 1 + k token frames of (H/{s})×(W/{s}); the first frame is tokenized
  alone and a clip's first tokens do not change when frames are appended.{codec_line(config)}
- Training data: clips of {config.frames} frames with known motion (pans, zooms, static shots, moving patches,
  per-frame noise) cut from {DATA_NOTE}.
- Training: {training}.
- Token prior: {_prior_tables(tokenizer)} (counts of the tokens of {PRIOR_CLIPS} training clips).
- Hardware: {hardware}.
- Rebuild: `vcodec data prepare`, then `vcodec train configs/{name}.toml --export checkpoints/{name}` (the
  run's own config is `RUN/config.toml`).

## Measured on the synthetic development clips

{", ".join(f"{n} ({c.frames} frames, {c.size[1]}×{c.size[0]}, shift {c.shift}, noise σ {c.noise})" for n, c in clips.items())};
one token container per clip (every byte counted), mean per-frame PSNR on uint8 RGB.

| bpp | bits/token | PSNR-RGB (dB) |
|---|---|---|
| {dev["bpp"][0]:.4f} | {dev["bits_per_token"][0]:.2f} | {dev["psnr-rgb"][0]:.2f} |
"""
