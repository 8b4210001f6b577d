"""Turn a training run into a shipped checkpoint: weights, config with measured RD, model card."""

from __future__ import annotations

import platform
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vcodec.errors import VcodecError
from vcodec.eval.datasets import development_clips, development_images
from vcodec.eval.methods import (VIDEO_TOKEN_CHUNK, LearnedImageMethod, LearnedIntraVideoMethod, LearnedVideoMethod,
                                 TokenizerMethod, VideoTokenizerMethod, token_bytes)
from vcodec.eval.rd import evaluate_images, evaluate_videos
from vcodec.models import build_model, is_token_prior, is_tokenizer, is_video_codec, is_video_tokenizer
from vcodec.train.data import RandomCrops, SyntheticMotion
from vcodec.train.loop import TrainConfig, load_training_state, wall_seconds
from vcodec.zoo import prepare_for_shipping, save_checkpoint

DATA_NOTE = (
    "36 photos from the Debian packages mate-backgrounds (nature/), lomiri-wallpapers-16.04 and "
    "plasma-workspace-wallpapers (10 named 2560x1600 wallpapers), downscaled 2x"
)


def data_note(config: TrainConfig) -> str:
    """The training data of a run in one line: the photos and how crops were cut from them."""
    low, high = config.crop_scales
    scales = f", each cut from a window {low:g}–{high:g}× larger and shrunk" if high > 1 else ""
    return f"{DATA_NOTE}; random {config.crop}x{config.crop} crops{scales}"


DESCRIPTIONS = {"mean-scale-checkerboard": "Variable-rate mean-scale hyperprior with checkerboard context.",
                "transformer-1d": "1D transformer tokenizer trained with nested tail dropout: any prefix of its "
                                  "tokens decodes.",
                "conv-2d": "2D convolutional VQ tokenizer (VQGAN-style): one token per cell of its grid.",
                "temporal-checkerboard": "Learned video codec: intra frames from the image codec, predicted frames "
                                         "under a temporal entropy model with block skipping.",
                "token-prior": "Autoregressive transformer over a tokenizer's ids: a generator (vcodec sample "
                               "--prior) and a likelihood model.",
                "causal-3d": "Causal video tokenizer (MAGVIT-v2 / Cosmos style): the first frame alone, then every "
                             "4 frames, to an 8×-downsampled grid of FSQ tokens."}


def extra_terms(config: TrainConfig) -> str:
    """A tokenizer's loss terms besides MSE and the quantizer's, as the card lists them."""
    loss = config.loss
    terms = [f" + {loss.ms_ssim:g}·(1 − MS-SSIM)"] if loss.ms_ssim else []
    if loss.adversarial:
        terms.append(f" + {loss.adversarial:g}·PatchGAN hinge loss from step {loss.adversarial_start}")
    return "".join(terms)


def load_run(run_dir: Path, name: str, token_prior: str | None = None):
    """The model of ``run_dir/last.pt`` and the run's config and step count (a tokenizer with the
    ``token_prior`` kind of prior, when given)."""
    ckpt = torch.load(Path(run_dir) / "last.pt", map_location="cpu", weights_only=False)
    config = TrainConfig.from_dict(ckpt["config"])
    if token_prior is not None:
        if not is_tokenizer(config.model):
            raise VcodecError("--token-prior applies to tokenizers only")
        config.model = replace(config.model, prior=token_prior)
    model = build_model(config.model, name)
    load_training_state(model, ckpt["model"])
    return model.eval(), config, ckpt


def _hyper_width(model) -> str:
    """", hyper path N=…" when the hyper transforms are narrower or wider than the image transforms."""
    hyper_n = getattr(model, "hyper_n", None)
    return "" if hyper_n is None or hyper_n == model.n else f", hyper path N={hyper_n}"


def _motion_note(model) -> str:
    if not model.motion_search:
        return ""
    return (f"\n  Coded blocks carry integer motion vectors (±{model.motion_search} pixels per 32×32), and a latent "
            f"motion\n  predictor of width {model.motion_width} moves the previous latent by them before the prior "
            f"sees it.")


def _data_note(config: TrainConfig) -> str:
    turning = f" {config.deform:.0%} of the clips also turn and change brightness." if config.deform else ""
    changing = (f" {config.change:.0%} of the moving objects change what they show or enter the shot part-way."
                if config.change else "")
    return turning + changing


def _proxy_note(model) -> str:
    return ", plus a rate proxy for the motion predictor's error" if model.motion_search else ""


def _card(name: str, description: str, config: TrainConfig, steps: int, hardware: str, dev: dict) -> str:
    rows = "\n".join(
        f"| {q} | {lam} | {bpp:.3f} | {psnr:.2f} | {msssim:.4f} |"
        for q, lam, bpp, psnr, msssim in zip(
            dev["quality"], config.model.lambdas, dev["bpp"], dev["psnr-rgb"], dev["ms-ssim-rgb"]
        )
    )
    return f"""# {name}

{description}

- Architecture: `{config.model.architecture}`, N={config.model.n}, M={config.model.m}{_hyper_width(config.model)}; one variable-rate
  model (gain units), {len(config.model.lambdas)} qualities.
- Training data: {data_note(config)}.
- Training: {steps} steps of batch {config.batch}, Adam lr {config.lr} (cosine to {config.final_lr}),
  loss {"λ·1250·(1 − MS-SSIM)" if config.loss.distortion == "ms-ssim" else "λ·255²·MSE"} + bpp with λ drawn per sample
  from the quality levels.
- Hardware: {hardware}.
- Rebuild: `vcodec data prepare`, then `vcodec train configs/{name}.toml --export checkpoints/{name}` (the
  run's own config is `RUN/config.toml`).

## Measured rate–distortion (development images, whole-container bpp, PSNR on uint8 RGB)

Images: skimage astronaut, coffee, chelsea, rocket, motorcycle (left), hubble crop 512²; sklearn china,
flower. All are lossy sources: these are development numbers, not Kodak numbers.

| quality | λ | bpp | PSNR-RGB (dB) | MS-SSIM-RGB |
|---|---|---|---|---|
{rows}
"""


def export_run(run_dir: Path, out_dir: Path, name: str, description: str | None, hardware: str | None = None,
               force: bool = False, token_prior: str | None = None) -> dict:
    """Evaluate the run's model on the development images and write the checkpoint folder."""
    if Path(out_dir).exists() and not force:
        raise VcodecError(f"{out_dir}: exists (use --force to replace it)")
    model, config, ckpt = load_run(run_dir, name, token_prior)
    prepare_for_shipping(model)
    tokenizer = is_tokenizer(config.model)
    description = description or DESCRIPTIONS.get(config.model.architecture, config.model.architecture)
    hardware = hardware or f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    if wall_seconds(ckpt):
        hardware += f"; {_duration(wall_seconds(ckpt))} of training"
    if is_token_prior(config.model):
        dev, card = _token_prior_results(model, name, description, config, ckpt["step"], hardware)
        record = {**_record(description, config, ckpt, hardware, dev),
                  "tokenizer": {"name": model.tokenizer.name, "tokens_hash": model.tokenizer.tokens_hash}}
        save_checkpoint(model, Path(out_dir), record, _with_lineage(card, run_dir), force)
        return dev
    if is_video_codec(config.model) or is_video_tokenizer(config.model):
        if is_video_tokenizer(config.model):  # tokens of the rounded weights, then the prior as shipped
            fit_video_token_prior(model, config)
            prepare_for_shipping(model)
        results = _video_results if is_video_codec(config.model) else _video_tokenizer_results
        dev, card = results(model, name, description, config, ckpt["step"], hardware)
        save_checkpoint(model, Path(out_dir), _record(description, config, ckpt, hardware, dev),
                        _with_lineage(card, run_dir), force)
        return dev
    if tokenizer:  # tokens of the rounded weights; then the prior's own weights are rounded as shipped
        fit_token_prior(model, Path(config.data))
        prepare_for_shipping(model)
    method = TokenizerMethod(name, model) if tokenizer else LearnedImageMethod(name, model)
    images = development_images()
    (dev,), _ = evaluate_images([method], images, strict=True)
    if tokenizer:
        dev["results"]["bits_per_token"] = [token_bytes(model, images, k)[0] * 8 / k for k in dev["results"]["tokens"]]
        card = _tokenizer_card(name, description, config, ckpt["step"], hardware, dev["results"], model.vocab_sizes)
    else:
        card = _card(name, description, config, ckpt["step"], hardware, dev["results"])
    save_checkpoint(model, Path(out_dir), _record(description, config, ckpt, hardware, dev["results"]),
                    _with_lineage(card, run_dir), force)
    return dev["results"]


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
    return card.replace("\n- Hardware:", f"\n- Started from: `{init}`.\n- Hardware:", 1) if init else card


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _record(description: str, config: TrainConfig, ckpt: dict, hardware: str, dev: dict) -> dict:
    """What config.json says besides the architecture: the training run and the measured results."""
    return {"description": description,
            "training": {"steps": ckpt["step"], "batch": config.batch, "crop": config.crop, "lr": config.lr,
                         "data": data_note(config), "hardware": hardware,
                         "wall_seconds": round(wall_seconds(ckpt))},
            "results": {"dev": dev}}


def _video_results(codec, name: str, description: str, config: TrainConfig, steps: int, hardware: str):
    """RD of the video codec on the synthetic development clips, next to its image codec all-intra."""
    clips = development_clips()
    (dev, intra), _ = evaluate_videos([LearnedVideoMethod(name, codec), LearnedIntraVideoMethod("intra", codec.intra)],
                                      clips, strict=True)
    dev, intra = dev["results"], intra["results"]
    dev["intra-bpp"] = intra["bpp"]
    rows = "\n".join(f"| {q} | {bpp:.4f} | {ibpp:.4f} | {bpp / ibpp:.0%} | {psnr:.2f} | {ipsnr:.2f} |"
                     for q, bpp, ibpp, psnr, ipsnr in zip(dev["quality"], dev["bpp"], intra["bpp"], dev["psnr-rgb"],
                                                          intra["psnr-rgb"]))
    card = f"""# {name}

{description}

- Architecture: `{config.model.architecture}` on the image codec's transforms (N={config.model.n},
  M={config.model.m}, {len(config.model.lambdas)} qualities, frozen); temporal prior width
  {config.model.temporal_width}. I-frames are the image codec's streams; P-frames code the latent under a
  prior conditioned on the previous decoded latent, with 64×64 blocks skipped when they barely change.{_motion_note(config.model)}
- Training data: pairs of frames with known motion (pans, zooms, static shots, moving patches, per-frame
  noise) cut from {DATA_NOTE}.{_data_note(config)}
- Training: {steps} steps of batch {config.batch} ({config.crop}² crops), Adam lr {config.lr}, loss: bits of the
  P-frame (the image codec stays fixed, so distortion does not change){_proxy_note(config.model)}.
- Hardware: {hardware}.
- Rebuild: `vcodec data prepare`, then `vcodec train configs/{name}.toml --export checkpoints/{name}` (the
  run's own config is `RUN/config.toml`).

## Measured on the synthetic development clips

{", ".join(f"{n} ({c.frames} frames, {c.size[1]}×{c.size[0]}, shift {c.shift}, noise σ {c.noise})" for n, c in clips.items())},
intra period {LearnedVideoMethod.gop}, whole-stream bpp, mean per-frame PSNR on uint8 RGB. Real clips: see
`benchmarks/RESULTS.md`.

| quality | bpp | all-intra bpp | share | PSNR-RGB (dB) | all-intra PSNR |
|---|---|---|---|---|---|
{{rows}}
""".replace("{rows}", rows)
    return dev, card


def _video_tokenizer_results(tokenizer, name: str, description: str, config: TrainConfig, steps: int, hardware: str):
    """PSNR and coded bits of the video tokenizer on the synthetic development clips (17 frames each)."""
    clips = development_clips(VIDEO_TOKEN_CHUNK)
    (dev,), _ = evaluate_videos([VideoTokenizerMethod(name, tokenizer)], clips, strict=True)
    dev = dev["results"]
    c = tokenizer.config
    per_clip = (1 + (VIDEO_TOKEN_CHUNK - 1) // c.temporal_factor) * np.prod(
        [-(-side // c.spatial_factor) for side in next(iter(clips.values())).size])
    dev["bits_per_token"] = [bpp * VIDEO_TOKEN_CHUNK * np.prod(next(iter(clips.values())).size) / per_clip
                             for bpp in dev["bpp"]]
    model = config.model
    card = f"""# {name}

{description}

- Architecture: `{model.architecture}`: {model.summary()}; a vocabulary of {tokenizer.vocab_sizes[0]}.
  A clip of 1 + 4k frames of H×W gives 1 + k token frames of (H/8)×(W/8); the first frame is tokenized
  alone and a clip's first tokens do not change when frames are appended.
- Training data: clips of {config.frames} frames with known motion (pans, zooms, static shots, moving patches,
  per-frame noise) cut from {DATA_NOTE}.
- Training: {steps} steps of batch {config.batch} ({config.frames}×{config.crop}² clips), Adam lr {config.lr} (cosine to
  {config.final_lr}), loss MSE{extra_terms(config)} (FSQ has no codebook loss).
- Token prior: one categorical over the vocabulary (counts of the tokens of {PRIOR_CLIPS} training clips).
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
    return dev, card


PRIOR_CLIPS = 512


HELD_IN_CROPS = 1024


@torch.no_grad()
def prior_bits(tokenizer, prior, data: Path, crops: int = HELD_IN_CROPS) -> dict:
    """Bits per token of ``prior`` over ``tokenizer``'s ids: held in (``crops`` training crops, the
    export's fixed draw) and held out (every tile of the development images), next to log2 V and a
    static per-position prior fitted on the held-in ids."""
    from vcodec.entropy import StaticTokenPrior
    from vcodec.eval.methods import tiles

    size = tokenizer.image_size

    def ids(images: torch.Tensor) -> torch.Tensor:
        return torch.cat([tokenizer.as_indices(tokenizer.encode(images[i : i + 64])).clone()
                          for i in range(0, len(images), 64)])

    held_in = ids(RandomCrops.from_npz(Path(data), size, seed=12345).batch(crops))
    held_out = ids(torch.cat([tiles(im, size)[0] for im in development_images().values()]))
    static = StaticTokenPrior(tokenizer.vocab_sizes, held_in.shape[1])
    static.fit(held_in)
    return {"bits_held_in": float(prior.bits(held_in).mean()), "bits_held_out": float(prior.bits(held_out).mean()),
            "static_bits_held_in": float(static.bits(held_in).mean()),
            "static_bits_held_out": float(static.bits(held_out).mean()),
            "log2_vocabulary": float(sum(np.log2(v) for v in tokenizer.vocab_sizes)),
            "held_in_sequences": held_in.shape[0], "held_out_sequences": held_out.shape[0]}


def _token_prior_results(model, name: str, description: str, config: TrainConfig, steps: int, hardware: str):
    dev = prior_bits(model.tokenizer, model.prior, Path(config.data))
    c = config.model
    card = f"""# {name}

{description}

- Architecture: causal transformer, width {c.width}, {c.depth} layers, {c.heads} heads, over the
  {model.tokenizer.max_tokens} ids of `{model.tokenizer.name}` (vocabulary {list(model.tokenizer.vocab_sizes)}); the
  tokenizer is named with the hash of its weights (its prior aside), not stored.
- Training data: the tokenizer's ids of {data_note(config)}.
- Training: {steps} steps of batch {config.batch}, Adam lr {config.lr} (cosine to {config.final_lr}), loss: bits
  per token.
- Hardware: {hardware}.
- Use: `vcodec sample --tokenizer {model.tokenizer.name} --prior {name} -n 8 --out samples/`.

## Bits per token (log2 V = {dev['log2_vocabulary']:.2f})

| ids | this prior | static per-position prior |
|---|---|---|
| held in ({dev['held_in_sequences']} training crops) | {dev['bits_held_in']:.3f} | {dev['static_bits_held_in']:.3f} |
| held out ({dev['held_out_sequences']} tiles of the development images) | {dev['bits_held_out']:.3f} | {dev['static_bits_held_out']:.3f} |
"""
    return dev, card


def fit_video_token_prior(tokenizer, config: TrainConfig, clips: int = PRIOR_CLIPS, batch: int = 8) -> None:
    """Fit the video tokenizer's categorical prior to the tokens of ``clips`` training clips (fixed seed)."""
    source = SyntheticMotion.from_npz(Path(config.data), config.crop, seed=12345, frames=config.frames,
                                      channels_first=True)
    with torch.no_grad():
        tokenizer.fit_prior(torch.cat([tokenizer.encode(source.batch(batch)) for _ in range(max(1, clips // batch))]))


PRIOR_CROPS = 4096
PRIOR_NOTES = {"static": "per-position categorical (maximum likelihood by counting)",
               "autoregressive": "small causal transformer (coded through its fixed-point copy)"}


def fit_token_prior(tokenizer, data: Path, crops: int = PRIOR_CROPS, batch: int = 64) -> None:
    """Fit the tokenizer's prior to the tokens of ``crops`` training crops (fixed seed): counts for the
    static prior, maximum-likelihood training for the autoregressive one."""
    source = RandomCrops.from_npz(data, tokenizer.image_size, seed=12345)
    with torch.no_grad():
        indices = torch.cat([tokenizer.as_indices(tokenizer.encode(source.batch(batch)))
                             for _ in range(max(1, crops // batch))])
    tokenizer.prior.fit(indices)


def _tokenizer_card(name: str, description: str, config: TrainConfig, steps: int, hardware: str, dev: dict,
                    vocab_sizes: tuple[int, ...]) -> str:
    model = config.model
    vocab_bits = float(np.log2(np.prod(vocab_sizes)))
    rows = "\n".join(
        f"| {k} | {bpp:.4f} | {bits:.2f} | {psnr:.2f} | {msssim:.4f} |"
        for k, bpp, bits, psnr, msssim in zip(dev["tokens"], dev["bpp"], dev["bits_per_token"], dev["psnr-rgb"],
                                              dev["ms-ssim-rgb"]))
    return f"""# {name}

{description}

- Architecture: `{model.architecture}`: {model.summary()}.
- Training data: {data_note(config)}.
- Training: {steps} steps of batch {config.batch}, Adam lr {config.lr} (cosine to {config.final_lr}), loss MSE
  + quantizer loss{extra_terms(config)} (1D tokenizers: the token tail dropped at a random length).
- Token prior: {PRIOR_NOTES[model.prior]}, fitted on the tokens of {PRIOR_CROPS} training crops.
- Hardware: {hardware}.
- Rebuild: `vcodec data prepare`, then `vcodec train configs/{name}.toml --export checkpoints/{name}` (the
  run's own config is `RUN/config.toml`).

## Measured on the development images (every {model.image_size}² tile coded with its first k tokens)

Images: skimage astronaut, coffee, chelsea, rocket, motorcycle (left), hubble crop 512²; sklearn china,
flower (lossy sources: development numbers, not Kodak). bpp counts every byte of every tile's container;
bits/token: the range-coded ids per token (raw ids: {vocab_bits:.2f} bits; each tile's ids are padded to
whole 32-bit words).

| tokens k | bpp | bits/token | PSNR-RGB (dB) | MS-SSIM-RGB |
|---|---|---|---|---|
{rows}
"""

