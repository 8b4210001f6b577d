"""``vcodec sample`` and ``vcodec complete``: images generated from a tokenizer's token prior."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from vcodec.cli.errors import echo, friendly_errors
from vcodec.cli.options import shared_options, threads_option
from vcodec.errors import VcodecError

if TYPE_CHECKING:
    import torch

DEFAULT_TOKENIZER = "tok1d-64"


def contact_sheet(images: torch.Tensor, columns: int = 8, gap: int = 2) -> torch.Tensor:
    """One image (3×H×W) with the B×3×S×S ``images`` in rows of ``columns``, on white."""
    import torch

    count, _, side, _ = images.shape
    columns = min(columns, count)
    rows = -(-count // columns)
    sheet = torch.ones(3, rows * (side + gap) - gap, columns * (side + gap) - gap)
    for i, image in enumerate(images):
        top, left = (i // columns) * (side + gap), (i % columns) * (side + gap)
        sheet[:, top : top + side, left : left + side] = image
    return sheet


def _tokenizer_and_prior(tokenizer_name: str, prior_name: str | None):
    """The tokenizer, with the token prior of ``prior_name``'s checkpoint if given (it must have been
    fitted to this very tokenizer's tokens)."""
    from vcodec import zoo

    tokenizer = zoo.load(tokenizer_name, kinds=("tokenizer",))
    if prior_name is not None:
        source = zoo.load(prior_name, kinds=("tokenizer", "token-prior"))
        owner = getattr(source, "tokenizer", source)  # a standalone prior names its tokenizer
        if owner.tokens_hash != tokenizer.tokens_hash:
            raise VcodecError(
                f"the prior of {prior_name} models the ids of {owner.name}, not of {tokenizer.name} "
                f"(the ids of two tokenizers mean different things)"
            )
        tokenizer.prior = source.prior
    return tokenizer


def _output_folder(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise VcodecError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise VcodecError(f"{out}: folder has files in it (use --force to write into it)")
    out.mkdir(parents=True, exist_ok=True)


def _write(images: torch.Tensor, out: Path, stem: str, sheet: torch.Tensor) -> None:
    """OUT/stem-000.png … for each image, and OUT/contact-sheet.png, each written atomically."""
    from vcodec.io.images import save_image

    for i, image in enumerate(images):
        save_image(image, out / f"{stem}-{i:03d}.png", force=True)
    save_image(sheet, out / "contact-sheet.png", force=True)


_SAMPLING_OPTIONS = [
    click.option(
        "--tokenizer",
        "-m",
        "tokenizer_name",
        default=DEFAULT_TOKENIZER,
        show_default=True,
        help="A shipped image tokenizer or a checkpoint folder.",
    ),
    click.option(
        "--prior",
        "prior_name",
        default=None,
        help="Use the token prior of another checkpoint of the same tokenizer (e.g. a static one).",
    ),
    click.option(
        "--temperature",
        default=1.0,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True),
        help="Below 1: safer, blander samples; above 1: wilder ones.",
    ),
    click.option(
        "--top-k", type=click.IntRange(1), default=None, help="Draw only among the K likeliest ids."
    ),
    click.option(
        "--top-p",
        type=click.FloatRange(0, 1, min_open=True),
        default=None,
        help="Draw only among the likeliest ids that hold this much probability (nucleus).",
    ),
    click.option(
        "--seed", default=0, show_default=True, help="Same seed, same samples (on one machine)."
    ),
    click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        required=True,
        help="Folder for the PNGs and contact-sheet.png.",
    ),
    click.option("--force", "-f", is_flag=True, help="Write into a folder that already has files."),
    threads_option,
]


_with_sampling_options = shared_options(_SAMPLING_OPTIONS)


@click.command()
@click.option(
    "-n", "count", default=8, show_default=True, type=click.IntRange(1), help="How many images."
)
@click.option(
    "--num-tokens",
    "-k",
    type=int,
    default=None,
    help="Tokens per image (1D tail-drop tokenizers: fewer is coarser and faster; default all).",
)
@_with_sampling_options
@friendly_errors
def sample(
    count: int,
    num_tokens: int | None,
    tokenizer_name: str,
    prior_name: str | None,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    seed: int,
    out: Path,
    force: bool,
) -> None:
    """Generate images from a tokenizer's token prior: OUT/sample-000.png … and OUT/contact-sheet.png.

    \b
    vcodec sample -n 16 --out samples/                       the shipped tokenizer and its prior
    vcodec sample -m vq2d-f8 --temperature 0.9 --top-k 100 --out samples-2d/
    vcodec sample -k 8 --out coarse/                         only the first 8 of 64 tokens
    """
    tokenizer = _tokenizer_and_prior(tokenizer_name, prior_name)
    try:
        tokenizer.check_num_tokens(num_tokens)
    except ValueError as err:
        raise VcodecError(f"--num-tokens: {err}") from None
    _output_folder(out, force)
    ids = tokenizer.sample(count, num_tokens, temperature, top_k, top_p, seed)
    images = tokenizer.decode(ids)
    _write(images, out, "sample", contact_sheet(images))
    echo(
        f"{out}: {count} samples of {tokenizer.as_indices(ids).shape[1]} tokens from {tokenizer.name}"
    )


@click.command()
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--keep", "-k", type=int, required=True, help="Keep the image's first K tokens; draw the rest."
)
@click.option(
    "-n",
    "count",
    default=4,
    show_default=True,
    type=click.IntRange(1),
    help="How many completions.",
)
@_with_sampling_options
@friendly_errors
def complete(
    image: Path,
    keep: int,
    count: int,
    tokenizer_name: str,
    prior_name: str | None,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    seed: int,
    out: Path,
    force: bool,
) -> None:
    """Keep an image's first K tokens and sample the rest: OUT/completion-000.png …, and a contact sheet
    that starts with the image as the tokenizer sees it and what its first K tokens alone decode to."""
    import torch

    from vcodec.io.images import load_square

    tokenizer = _tokenizer_and_prior(tokenizer_name, prior_name)
    source = load_square(image, tokenizer.image_size, "crop")
    if not 0 <= keep <= tokenizer.max_tokens:
        raise VcodecError(
            f"--keep must be in 0…{tokenizer.max_tokens} for {tokenizer.name}, got {keep}"
        )
    _output_folder(out, force)
    ids = tokenizer.complete(source, keep, count, temperature, top_k, top_p, seed)
    completions = tokenizer.decode(ids)
    shown = [source, tokenizer.decode(tokenizer.encode(source))]
    if keep and len(tokenizer.token_grid) == 1:  # a 1D prefix decodes on its own
        shown.append(tokenizer.decode(tokenizer.encode(source, keep)))
    _write(
        completions,
        out,
        "completion",
        contact_sheet(torch.cat([*shown, completions]), len(shown) + count),
    )
    echo(
        f"{out}: {count} completions of {image.name} after {keep} of {tokenizer.max_tokens} tokens"
    )
