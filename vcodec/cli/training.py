"""``vcodec prepare-data``, ``vcodec train`` and ``vcodec export``: build a shipped image codec."""

from __future__ import annotations

import math
from pathlib import Path

import click

from vcodec.cli.errors import echo, friendly_errors
from vcodec.codecs import CodecConfig
from vcodec.errors import VcodecError
from vcodec.models import ARCHITECTURES, TOKENIZER_ARCHITECTURES, VIDEO_ARCHITECTURES, VIDEO_TOKENIZER_ARCHITECTURES

FSQ_LEVELS = {256: (8, 6, 5), 1024: (8, 5, 5, 5), 4096: (7, 5, 5, 5, 5), 16384: (8, 8, 8, 6, 5)}  # Mentzer 2023


def _comparable(config) -> dict:
    """A model config as JSON would store it (tuples as lists), without the token prior (fitted later)."""
    import json

    data = json.loads(json.dumps(config.to_dict()))
    data.pop("prior", None)
    return data


def _tokenizer_config(architecture: str, image_size: int, tokens: int, quantizer: str, codebook_size: int,
                      nested_dropout: str):
    """A tokenizer config from the command line's few knobs (the rest are the architecture's defaults)."""
    options = {"vq": {"codebook_size": codebook_size},
               "lfq": {"codebook_size": codebook_size},
               "factorized-vq": {"codebook_sizes": (codebook_size, codebook_size)}}
    if quantizer == "fsq":
        size = min(FSQ_LEVELS, key=lambda v: abs(v - codebook_size))
        options["fsq"] = {"levels": FSQ_LEVELS[size]}
    config_type = TOKENIZER_ARCHITECTURES[architecture][0]
    try:
        if architecture == "conv-2d":  # --tokens is the grid: (image_size / factor)² cells
            side = math.isqrt(tokens)
            if side * side != tokens or image_size % side:
                raise ValueError(f"a 2D tokenizer needs --tokens = (crop / factor)², e.g. 256 for crop 128, factor 8")
            return config_type(image_size=image_size, factor=image_size // side, quantizer=quantizer,
                               quantizer_options=options[quantizer])
        return config_type(image_size=image_size, num_tokens=tokens, quantizer=quantizer,
                           quantizer_options=options[quantizer], nested_dropout=nested_dropout)
    except ValueError as err:
        raise VcodecError(str(err)) from None


def _video_config(init_from: str | None, run_dir: Path):
    """A video codec config around the image codec ``--init`` names (None when resuming a run)."""
    from vcodec import zoo
    from vcodec.codecs import CheckerboardCodec
    from vcodec.codecs.video import VideoCodecConfig
    from vcodec.train.loop import TrainConfig

    if (run_dir / "last.pt").is_file():
        import torch

        return TrainConfig.from_dict(torch.load(run_dir / "last.pt", map_location="cpu", weights_only=False)["config"]).model, None
    if init_from is None:
        raise VcodecError("a video codec trains on an image codec's transforms: give --init IMAGE_CODEC")
    intra = zoo.load(init_from)
    if not isinstance(intra, CheckerboardCodec):
        raise VcodecError(f"{init_from} is not a mean-scale-checkerboard image codec")
    c = intra.config
    return VideoCodecConfig(n=c.n, m=c.m, lambdas=c.lambdas), intra


@click.command("prepare-data")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--from", "source", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Use your own folder of images instead of the Debian photo packages.")
@click.option("--downscale", default=2.0, show_default=True, help="Shrink photos by this factor (hides JPEG artefacts).")
@click.option("--force", "-f", is_flag=True, help="Overwrite OUT if it exists.")
@friendly_errors
def prepare_data(out: Path, source: Path | None, downscale: float, force: bool) -> None:
    """Build the training-photo cache OUT (.npz): the Debian photos of DESIGN.md, or --from FOLDER."""
    from vcodec.io.images import IMAGE_SUFFIXES
    from vcodec.train.data import prepare_photos

    if out.exists() and not force:
        raise VcodecError(f"{out}: exists (use --force to overwrite)")
    photos = None
    if source is not None:
        photos = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not photos:
            raise VcodecError(f"{source}: no images found")
    prepare_photos(out, photos, downscale)
    echo(f"{out}: written")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="Training-photo cache from `vcodec prepare-data`.")
@click.option("--architecture", type=click.Choice(ARCHITECTURES), default="mean-scale-checkerboard", show_default=True,
              help="An image codec; temporal-checkerboard (the video codec: give --init an image codec, whose "
                   "transforms it keeps); a tokenizer: transformer-1d (1D, tail-drop) or conv-2d "
                   "(VQGAN-style), for which --crop is the input size; or causal-3d, the causal video tokenizer "
                   "(FSQ, 8× in space, 4× in time), trained on --frames-long synthetic clips.")
@click.option("--n", default=64, show_default=True,
              help="Codec transform width; for causal-3d the channels of its 3D convolutions.")
@click.option("--m", default=128, show_default=True, help="Codec latent channels.")
@click.option("--tokens", default=64, show_default=True,
              help="Tokenizer: tokens per image (K); for conv-2d the grid size, e.g. 256 = 16×16 (factor 8 at 128²).")
@click.option("--quantizer", type=click.Choice(["vq", "fsq", "lfq", "factorized-vq"]), default="vq", show_default=True,
              help="Tokenizer: how tokens are quantized.")
@click.option("--nested-dropout", type=click.Choice(["slice", "mask", "none"]), default="slice", show_default=True,
              help="Tokenizer: drop the token tail at a random length per batch (slice, One-D-Piece), mask it "
                   "per sample (mask, FlexTok), or always use all tokens (none: a fixed-K baseline).")
@click.option("--codebook-size", type=click.IntRange(2, 1 << 14), default=1024, show_default=True,
              help="Tokenizer: vocabulary (per sub-codebook for factorized-vq; FSQ, and causal-3d, pick levels "
                   "near it).")
@click.option("--steps", default=30_000, show_default=True)
@click.option("--batch", default=8, show_default=True)
@click.option("--crop", default=128, show_default=True, help="Crop side; a multiple of 64 for hyperprior models.")
@click.option("--frames", default=9, show_default=True, help="causal-3d: frames per training clip (1 + 4k).")
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N, or auto (CUDA when torch sees one).")
@click.option("--amp", is_flag=True, help="bf16 autocast on CUDA (tokenizers; codecs train best in float32).")
@click.option("--init", "init_from", default=None,
              help="Start a new run from a checkpoint's weights (a shipped name or folder), e.g. to keep training the default.")
@friendly_errors
def train(run_dir: Path, data: Path, architecture: str, n: int, m: int, tokens: int, quantizer: str,
          nested_dropout: str, codebook_size: int, steps: int, batch: int, crop: int, frames: int, lr: float, seed: int,
          device: str, amp: bool, init_from: str | None) -> None:
    """Train a variable-rate image codec, a video codec or a tokenizer in RUN_DIR, resuming from
    RUN_DIR/last.pt if it exists.

    \b
    vcodec train runs/codec --data photos.npz                       image codec from scratch
    vcodec train runs/video --data photos.npz --architecture temporal-checkerboard \\
        --init checkerboard-small --steps 4000                      video codec on the default's transforms
    vcodec train runs/tok --data photos.npz --architecture transformer-1d --quantizer fsq
    vcodec train runs/vtok --data photos.npz --architecture causal-3d --n 32 --crop 64 --frames 9
    """
    from vcodec import zoo
    from vcodec.train.loop import TrainConfig, Trainer, load_training_state

    intra = None
    if architecture in TOKENIZER_ARCHITECTURES:
        model = _tokenizer_config(architecture, crop, tokens, quantizer, codebook_size, nested_dropout)
    elif architecture in VIDEO_ARCHITECTURES:
        model, intra = _video_config(init_from, run_dir)
    elif architecture in VIDEO_TOKENIZER_ARCHITECTURES:  # FSQ levels near --codebook-size
        levels = FSQ_LEVELS[min(FSQ_LEVELS, key=lambda v: abs(v - codebook_size))]
        model = VIDEO_TOKENIZER_ARCHITECTURES[architecture][0](channels=n, levels=levels)
    else:
        model = CodecConfig(architecture, n=n, m=m)
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    config = TrainConfig(model, data=str(data), steps=steps, batch=batch, crop=crop, frames=frames, lr=lr, seed=seed,
                         device=device, amp=amp)
    try:
        trainer = Trainer(config, run_dir)
        resumed = trainer.resume()
    except ValueError as err:
        raise VcodecError(str(err)) from None
    if resumed:
        echo(f"resuming at step {trainer.state.step} in {run_dir}")
    elif intra is not None:
        trainer.model.intra.load_state_dict(intra.state_dict())
        trainer.model.prior.start_from(intra)
        echo(f"starting in {run_dir} on the transforms of {init_from}")
    elif init_from:
        source = zoo.load(init_from)
        if _comparable(source.config) != _comparable(config.model):
            raise VcodecError(f"{init_from} is {source.config}, not the requested {config.model}")
        load_training_state(trainer.model, source.state_dict())
        echo(f"starting in {run_dir} from the weights of {init_from}")
    else:
        echo(f"starting in {run_dir}")
    trainer.run()


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Model name (default: the output folder's name).")
@click.option("--description", default=None, help="One line for the model card (default: by kind of model).")
@click.option("--token-prior", type=click.Choice(["static", "autoregressive"]), default=None,
              help="Tokenizers: the entropy model of the token ids (default: the run's, normally static).")
@click.option("--force", "-f", is_flag=True, help="Replace OUT_DIR if it exists.")
@friendly_errors
def export(run_dir: Path, out_dir: Path, name: str | None, description: str, token_prior: str | None,
           force: bool) -> None:
    """Evaluate RUN_DIR's model on the development images (clips, for video models) and write a checkpoint
    folder OUT_DIR."""
    from vcodec.train.export import export_run

    if not (run_dir / "last.pt").is_file():
        raise VcodecError(f"{run_dir}: no last.pt (is it a training run folder?)")
    dev = export_run(run_dir, out_dir, name or out_dir.name, description, force=force, token_prior=token_prior)
    point = next((p for p in ("tokens", "chunk") if p in dev), "quality")
    for p, bpp, psnr in zip(dev[point], dev["bpp"], dev["psnr-rgb"]):
        echo(f"{point} {p}: {bpp:.3f} bpp, {psnr:.2f} dB")
