"""``vcodec prepare-data``, ``vcodec train`` and ``vcodec export``: build a shipped image codec."""

from __future__ import annotations

from pathlib import Path

import click

from vcodec.cli.errors import friendly_errors
from vcodec.codecs import ARCHITECTURES, CodecConfig
from vcodec.errors import VcodecError


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
    click.echo(f"{out}: written")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="Training-photo cache from `vcodec prepare-data`.")
@click.option("--architecture", type=click.Choice(sorted(ARCHITECTURES)), default="mean-scale-checkerboard", show_default=True)
@click.option("--n", default=64, show_default=True, help="Transform width.")
@click.option("--m", default=128, show_default=True, help="Latent channels.")
@click.option("--steps", default=30_000, show_default=True)
@click.option("--batch", default=8, show_default=True)
@click.option("--crop", default=128, show_default=True, help="Crop side; a multiple of 64 for hyperprior models.")
@click.option("--lr", default=5e-4, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--init", "init_from", default=None,
              help="Start a new run from a checkpoint's weights (a shipped name or folder), e.g. to keep training the default.")
@friendly_errors
def train(run_dir: Path, data: Path, architecture: str, n: int, m: int, steps: int, batch: int, crop: int,
          lr: float, seed: int, init_from: str | None) -> None:
    """Train a variable-rate image codec in RUN_DIR, resuming from RUN_DIR/last.pt if it exists."""
    from vcodec import zoo
    from vcodec.train.loop import TrainConfig, Trainer

    config = TrainConfig(CodecConfig(architecture, n=n, m=m), data=str(data), steps=steps, batch=batch,
                         crop=crop, lr=lr, seed=seed)
    try:
        trainer = Trainer(config, run_dir)
        resumed = trainer.resume()
    except ValueError as err:
        raise VcodecError(str(err)) from None
    if resumed:
        click.echo(f"resuming at step {trainer.state.step} in {run_dir}")
    elif init_from:
        source = zoo.load(init_from)
        if source.config != config.model:
            raise VcodecError(f"{init_from} is {source.config}, not the requested {config.model}")
        trainer.model.load_state_dict(source.state_dict())
        click.echo(f"starting in {run_dir} from the weights of {init_from}")
    else:
        click.echo(f"starting in {run_dir}")
    trainer.run()


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Model name (default: the output folder's name).")
@click.option("--description", default="Variable-rate mean-scale hyperprior with checkerboard context.")
@click.option("--force", "-f", is_flag=True, help="Replace OUT_DIR if it exists.")
@friendly_errors
def export(run_dir: Path, out_dir: Path, name: str | None, description: str, force: bool) -> None:
    """Evaluate RUN_DIR's model on the development images and write a checkpoint folder OUT_DIR."""
    from vcodec.train.export import export_run

    if not (run_dir / "last.pt").is_file():
        raise VcodecError(f"{run_dir}: no last.pt (is it a training run folder?)")
    dev = export_run(run_dir, out_dir, name or out_dir.name, description, force=force)["results"]
    for q, bpp, psnr in zip(dev["quality"], dev["bpp"], dev["psnr-rgb"]):
        click.echo(f"quality {q}: {bpp:.3f} bpp, {psnr:.2f} dB")
