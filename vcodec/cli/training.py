"""``vcodec data prepare``, ``vcodec train`` and ``vcodec export``: build and ship a model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vcodec.cli.errors import echo, friendly_errors
from vcodec.cli.options import shared_options
from vcodec.errors import VcodecError


def _prepare(
    out: Path, source: Path | None, downscale: float, frame_step: int, force: bool
) -> None:
    from vcodec.train.data import folder_media, prepare_photos, write_cache

    if out.exists() and not force:
        raise VcodecError(f"{out}: exists (use --force to overwrite)")
    if out.suffix != ".npz":
        raise VcodecError(f"{out}: a training cache is an .npz file")
    if source is None:
        prepare_photos(out, None, downscale)
        echo(
            f"{out}: written from the Debian photo packages (sources and licences in {out.with_suffix('.json')})"
        )
        return
    skipped: list[str] = []
    unreadable: list[str] = []

    def photos():
        for name, image in folder_media(source, frame_step):
            if image is None:
                unreadable.append(name)
            else:
                yield name, image, f"user-supplied ({source.name})"

    try:
        write_cache(out, photos(), downscale, skipped)
    except VcodecError as err:
        raise VcodecError(f"{source}: {err}") from None
    for name in unreadable:
        echo(f"warning: {name}: not a readable image or video, left out", err=True)
    if skipped:
        echo(
            f"warning: {len(skipped)} image(s) smaller than 64² after downscaling left out",
            err=True,
        )
    echo(f"{out}: written")


_PREPARE_OPTIONS = [
    click.option(
        "--from",
        "source",
        type=click.Path(path_type=Path, exists=True, file_okay=False),
        help="Use your own folder of images and videos (CLIC, DIV2K, Vimeo-90k style) instead of the "
        "Debian photo packages.",
    ),
    click.option(
        "--downscale",
        default=2.0,
        show_default=True,
        type=click.FloatRange(1.0),
        help="Shrink photos by this factor (hides JPEG artefacts).",
    ),
    click.option(
        "--frame-step",
        default=30,
        show_default=True,
        type=click.IntRange(1),
        help="From videos in --from, keep every N-th frame.",
    ),
    click.option("--force", "-f", is_flag=True, help="Overwrite OUT if it exists."),
]


_with_prepare_options = shared_options(_PREPARE_OPTIONS)


@click.group()
def data() -> None:
    """Training data: build the photo cache that training configs read."""


@data.command("prepare")
@click.argument("out", type=click.Path(path_type=Path), default=Path("data/photos.npz"))
@_with_prepare_options
@friendly_errors
def data_prepare(
    out: Path, source: Path | None, downscale: float, frame_step: int, force: bool
) -> None:
    """Build the training cache OUT (default data/photos.npz): 36 photos from the Debian packages
    mate-backgrounds, lomiri-wallpapers-16.04 and plasma-workspace-wallpapers (fetched with apt-get,
    allow-listed, licences recorded in OUT's .json), or every image and video of --from FOLDER."""
    _prepare(out, source, downscale, frame_step, force)


FLAG_FORM = (
    "data",
    "architecture",
    "n",
    "m",
    "tokens",
    "quantizer",
    "nested_dropout",
    "codebook_size",
    "batch",
    "crop",
    "frames",
    "lr",
    "seed",
    "init_from",
)  # what a config file says instead


def _given(ctx: click.Context, names) -> list[str]:
    """The options among ``names`` typed on the command line (not defaults)."""
    return [
        n for n in names if ctx.get_parameter_source(n) == click.core.ParameterSource.COMMANDLINE
    ]


def _recipe_from_flags(p: dict, run_dir: Path):
    """The flag form (`vcodec train RUN --data … --architecture …`) as a recipe; resuming RUN takes the
    same options (a change is refused, naming it, except a larger --steps)."""
    from vcodec import registry
    from vcodec.train.config import RunRecipe
    from vcodec.train.loop import TrainConfig

    if p["data"] is None:
        raise VcodecError(
            "give a config file, or --data (and the model's options) for a run folder"
        )
    architecture = p["architecture"]
    if architecture not in registry.architectures():
        raise VcodecError(
            f"--architecture {architecture!r} is not one of {', '.join(registry.architectures())}"
        )
    model = registry.kind(registry.architecture(architecture).kind).config_from_flags(
        architecture, p, run_dir
    )
    config = TrainConfig(
        model,
        data=str(p["data"]),
        steps=p["steps"],
        batch=p["batch"],
        crop=p["crop"],
        frames=p["frames"],
        lr=p["lr"],
        seed=p["seed"],
        device=p["device"],
        amp=p["amp"],
    )
    return RunRecipe(config, init=p["init_from"])


def _is_config_file(target: Path) -> bool:
    return target.suffix.lower() in (".toml", ".yaml", ".yml") or target.is_file()


@click.command(context_settings={"max_content_width": 100})
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--run-dir",
    "run_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Config form: the run folder (default: runs/<config name>).",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="When training ends, evaluate and write the checkpoint folder EXPORT (as `vcodec export`).",
)
@click.option("--force", "-f", is_flag=True, help="With --export: replace EXPORT if it exists.")
@click.option(
    "--steps",
    default=30_000,
    show_default=True,
    help="Total steps (a resumed run may raise it: the schedule stretches).",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="cpu, cuda, cuda:N, or auto (CUDA when torch sees one).",
)
@click.option(
    "--threads", default=0, type=click.IntRange(0), help="CPU threads for torch (0: its default)."
)
@click.option(
    "--amp", is_flag=True, help="bf16 autocast on CUDA (tokenizers; codecs train best in float32)."
)
@click.option(
    "--compile", "use_compile", is_flag=True, help="torch.compile the training forward pass."
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Flag form: the training cache from `vcodec data prepare`.",
)
@click.option(
    "--architecture",
    default="mean-scale-checkerboard",
    show_default=True,
    help="Flag form: an image codec (factorized, scale-hyperprior, mean-scale-checkerboard); "
    "temporal-checkerboard (the video codec: give --init an image codec, whose transforms it "
    "keeps); a tokenizer: transformer-1d (1D, tail-drop) or conv-2d "
    "(VQGAN-style), for which --crop is the input size; or causal-3d, the causal video tokenizer "
    "(FSQ, 8× in space, 4× in time), trained on --frames-long synthetic clips.",
)
@click.option(
    "--n",
    default=64,
    show_default=True,
    help="Codec transform width; for causal-3d the channels of its 3D convolutions.",
)
@click.option("--m", default=128, show_default=True, help="Codec latent channels.")
@click.option(
    "--tokens",
    default=64,
    show_default=True,
    help="Tokenizer: tokens per image (K); for conv-2d the grid size, e.g. 256 = 16×16 (factor 8 at 128²).",
)
@click.option(
    "--quantizer",
    type=click.Choice(["vq", "fsq", "lfq", "factorized-vq"]),
    default="vq",
    show_default=True,
    help="Tokenizer: how tokens are quantized.",
)
@click.option(
    "--nested-dropout",
    type=click.Choice(["slice", "mask", "none"]),
    default="slice",
    show_default=True,
    help="Tokenizer: drop the token tail at a random length per batch (slice, One-D-Piece), mask it "
    "per sample (mask, FlexTok), or always use all tokens (none: a fixed-K baseline).",
)
@click.option(
    "--codebook-size",
    type=click.IntRange(2, 1 << 14),
    default=1024,
    show_default=True,
    help="Tokenizer: vocabulary (per sub-codebook for factorized-vq; FSQ, and causal-3d, pick levels "
    "near it).",
)
@click.option(
    "--batch", default=8, show_default=True, help="Global batch (split over torchrun's processes)."
)
@click.option(
    "--crop",
    default=128,
    show_default=True,
    help="Crop side; a multiple of 64 for hyperprior models.",
)
@click.option(
    "--frames", default=9, show_default=True, help="causal-3d: frames per training clip (1 + 4k)."
)
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--init",
    "init_from",
    default=None,
    help="Start a new run from a checkpoint's weights (a shipped name or folder), e.g. to keep training the default.",
)
@click.pass_context
@friendly_errors
def train(
    ctx: click.Context,
    target: Path,
    run_dir: Path | None,
    export_dir: Path | None,
    force: bool,
    **options,
) -> None:
    """Train a model from the config file TARGET (TOML), or in the run folder TARGET from options.
    A run resumes from its last checkpoint; configs of the shipped models are in configs/.

    \b
    vcodec train configs/checkerboard-small.toml --export checkpoints/checkerboard-small
    vcodec train configs/tok1d-64.toml --steps 20000 --device cuda      override a few settings
    torchrun --nproc_per_node 2 -m vcodec train configs/x.toml           data parallel (DDP)
    vcodec train runs/codec --data data/photos.npz                     flag form: image codec
    vcodec train runs/tok --data data/photos.npz --architecture transformer-1d --quantizer fsq
    """
    import torch

    from vcodec.train.launch import train_recipe

    if options["device"] == "auto":  # the machine decides, not the config
        options["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    if export_dir is not None and export_dir.exists() and not force:
        raise VcodecError(f"{export_dir}: exists (use --force to replace it)")
    if _is_config_file(target):
        flags = _given(ctx, FLAG_FORM)
        if flags:
            raise VcodecError(
                f"--{flags[0].replace('_', '-').replace('init-from', 'init')} belongs in the config "
                f"file when training from one"
            )
        from vcodec.train.config import load_config

        recipe = load_config(target)
        run_dir = run_dir or recipe.default_run_dir
    else:
        if run_dir is not None:
            raise VcodecError("--run-dir goes with a config file; here TARGET is the run folder")
        recipe, run_dir = _recipe_from_flags(options, target), target
    for option, key in (
        ("steps", "steps"),
        ("threads", "threads"),
        ("amp", "amp"),
        ("use_compile", "compile"),
    ):
        if _given(ctx, (option,)):
            setattr(recipe.train, key, options[option])
    recipe.train.device = options["device"]  # chosen here, not in config files
    from vcodec.train import distributed
    from vcodec.train.loop import TrainingInterrupted

    try:
        trainer = train_recipe(recipe, run_dir, echo)
    except (
        TrainingInterrupted
    ) as stop:  # Ctrl-C or SIGTERM: saved between two steps (by the main process)
        distributed.stop()
        if stop.checkpoint is not None:
            echo(
                f"interrupted at step {stop.step} of {stop.steps}: saved {stop.checkpoint}; run the same "
                f"command again to resume from it",
                err=True,
            )
        sys.exit(stop.exit_status)
    distributed.stop()  # leave the process group (torchrun) before the first process exports alone
    if export_dir is not None and trainer.shard.is_main:
        _export(
            run_dir,
            export_dir,
            recipe.export.name,
            recipe.export.description,
            recipe.export.token_prior,
            force,
        )


def _export(
    run_dir: Path,
    out_dir: Path,
    name: str | None,
    description: str | None,
    token_prior: str | None,
    force: bool,
) -> None:
    from vcodec.train.export import export_run

    dev = export_run(
        run_dir, out_dir, name or out_dir.name, description, force=force, token_prior=token_prior
    )
    if "bits_held_out" in dev:  # a token prior
        echo(
            f"{dev['bits_held_in']:.3f} bits/token held in, {dev['bits_held_out']:.3f} held out "
            f"(static prior {dev['static_bits_held_out']:.3f}, log2 V {dev['log2_vocabulary']:.2f})"
        )
        return
    point = next((p for p in ("tokens", "chunk") if p in dev), "quality")
    for p, bpp, psnr in zip(dev[point], dev["bpp"], dev["psnr-rgb"]):
        echo(f"{point} {p}: {bpp:.3f} bpp, {psnr:.2f} dB")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Model name (default: the output folder's name).")
@click.option(
    "--description", default=None, help="One line for the model card (default: by kind of model)."
)
@click.option(
    "--token-prior",
    type=click.Choice(["static", "autoregressive"]),
    default=None,
    help="Tokenizers: the entropy model of the token ids (default: the run's, normally static).",
)
@click.option("--force", "-f", is_flag=True, help="Replace OUT_DIR if it exists.")
@friendly_errors
def export(
    run_dir: Path,
    out_dir: Path,
    name: str | None,
    description: str,
    token_prior: str | None,
    force: bool,
) -> None:
    """Evaluate RUN_DIR's model on the development images (clips, for video models) and write a checkpoint
    folder OUT_DIR."""
    if not (run_dir / "last.pt").is_file():
        raise VcodecError(f"{run_dir}: no last.pt (is it a training run folder?)")
    _export(run_dir, out_dir, name, description, token_prior, force)
