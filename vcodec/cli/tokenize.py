"""``vcodec tokenize``: token ids of one image or video (printed or saved) or of a whole folder of images
(shards), the input of generator training. A folder run is resumable and splits across ``torchrun`` ranks."""

from __future__ import annotations

import io
import os
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from vcodec import registry
from vcodec.cli.errors import echo, friendly_errors
from vcodec.cli.options import threads_option
from vcodec.errors import VcodecError
from vcodec.io.images import FITS, IMAGE_SUFFIXES, load_square, write_atomic

SHARD_SIZE = 1024


def _tokenizer(model: str, num_tokens: int | None):
    from vcodec import zoo

    tokenizer = zoo.load(model, kinds=("tokenizer", "video-tokenizer"))
    try:
        tokenizer.check_num_tokens(num_tokens)
    except ValueError as err:
        raise VcodecError(str(err)) from None
    return tokenizer


def _rank() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when run alone."""
    try:
        rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError:
        raise VcodecError("RANK and WORLD_SIZE must be integers") from None
    if not 0 <= rank < world:
        raise VcodecError(f"RANK {rank} is outside WORLD_SIZE {world}")
    return rank, world


def _done(out: Path, rank: int) -> tuple[set[str], int]:
    """Files already in any rank's shards (so a rerun with another world size adds no duplicates), and
    this rank's next shard number: what makes a run resumable."""
    done = set()
    for shard in sorted(out.glob("shard-r*-*.npz")):
        try:
            with np.load(shard) as data:
                done.update(data["files"].tolist())
        except (OSError, ValueError, KeyError) as err:
            raise VcodecError(
                f"{shard}: not a token shard ({err}); move it away to continue"
            ) from None
    return done, len(list(out.glob(f"shard-r{rank:03d}-*.npz")))


def _write_shard(path: Path, tokens: list[np.ndarray], files: list[str]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, tokens=np.stack(tokens).astype(np.int32), files=np.array(files))
    write_atomic(path, buffer.getvalue())


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option(
    "--model", "-m", required=True, help="Tokenizer: a shipped name or a checkpoint folder."
)
@click.option(
    "--num-tokens", "-k", type=int, default=None, help="Keep the first K tokens (default: all)."
)
@click.option(
    "--fit",
    type=click.Choice(FITS),
    default="crop",
    show_default=True,
    help="How an image of another size is brought to the tokenizer's input size.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="One image: a .npy file for the ids (else they are printed). A folder: the shard folder.",
)
@click.option("--shard-size", type=click.IntRange(1), default=SHARD_SIZE, show_default=True)
@click.option(
    "--chunk",
    type=click.IntRange(1),
    default=17,
    show_default=True,
    help="Video tokenizers: frames tokenized together (1 + 4k); each chunk starts afresh.",
)
@click.option(
    "--frames",
    "max_frames",
    type=click.IntRange(1),
    default=None,
    help="Video tokenizers: tokenize only the first N frames.",
)
@click.option("--force", "-f", is_flag=True, help="Overwrite an existing .npy output.")
@threads_option
@friendly_errors
def tokenize(
    src: Path,
    model: str,
    num_tokens: int | None,
    fit: str,
    out: Path | None,
    shard_size: int,
    chunk: int,
    max_frames: int | None,
    force: bool,
) -> None:
    """Token ids of an image, of every image in the folder SRC, or of a video (with a video tokenizer).

    \b
    vcodec tokenize photo.png -m NAME -k 32             print the first 32 ids
    vcodec tokenize photos/ -m NAME --out tokens/       shards tokens/shard-r000-00000.npz, …
    torchrun --nproc-per-node 8 -m vcodec.cli.main tokenize photos/ -m NAME --out tokens/
    vcodec tokenize clip.mp4 -m VIDEO_TOKENIZER --out clip.npy   T'×h×w ids, int32

    A folder run skips images already in its shards, so an interrupted run continues where it
    stopped; under torchrun each rank takes every WORLD_SIZE-th file and writes its own shards.
    """
    tokenizer = _tokenizer(model, num_tokens)
    if not src.exists():
        raise VcodecError(f"{src}: no such file or folder")
    if registry.kind_of(tokenizer).media == "video":
        _tokenize_video(tokenizer, src, out, chunk, max_frames, force)
        return
    if src.is_dir():
        if out is None:
            raise VcodecError("a folder needs --out SHARD_FOLDER")
        _tokenize_folder(tokenizer, src, out, num_tokens, fit, shard_size)
        return
    ids = tokenizer.encode(load_square(src, tokenizer.image_size, fit), num_tokens)[0].numpy()
    if out is None:
        echo(" ".join(map(str, ids.reshape(-1).tolist())) if ids.ndim == 1 else str(ids.tolist()))
        return
    _save_ids(ids, out, force)
    echo(f"{out}: {'×'.join(map(str, ids.shape[: len(tokenizer.token_grid)]))} tokens")  # k, or h×w


def _save_ids(ids: np.ndarray, out: Path, force: bool) -> None:
    buffer = io.BytesIO()
    np.save(buffer, ids.astype(np.int32))
    write_atomic(out, buffer.getvalue(), force=force)


def _tokenize_video(
    tokenizer, src: Path, out: Path | None, chunk: int, max_frames: int | None, force: bool
) -> None:
    """A clip's ids, T'×⌈H/8⌉×⌈W/8⌉: every ``chunk`` frames give 1 + (chunk − 1)/4 token frames."""
    import torch

    from vcodec.io.video import VIDEO_SUFFIXES, VideoReader
    from vcodec.tokenizers.video import tokenize_frames

    if src.is_dir() or src.suffix.lower() not in VIDEO_SUFFIXES:
        raise VcodecError(
            f"{src}: a video tokenizer takes one video file (suffix {', '.join(sorted(VIDEO_SUFFIXES))})"
        )
    if (chunk - 1) % tokenizer.config.temporal_factor:
        raise VcodecError(
            f"--chunk must be 1 + k·{tokenizer.config.temporal_factor} frames, got {chunk}"
        )
    if out is not None and out.exists() and not force:
        raise VcodecError(f"{out}: exists (use --force to overwrite)")
    parts = []
    with VideoReader(src) as video:
        total = max_frames or video.info.frame_count
        frames = video.frames(max_frames=max_frames)
        with tqdm(total=total, desc="tokenize", unit="frame") as bar:
            while batch := [frame for _, frame in zip(range(chunk), frames)]:
                parts.append(tokenize_frames(tokenizer, np.stack(batch), chunk))
                bar.update(len(batch))
    ids = torch.cat(parts).numpy()
    shape = "×".join(map(str, ids.shape))
    if out is None:
        echo(str(ids.tolist()))
        return
    _save_ids(ids, out, force)
    echo(
        f"{out}: {shape} tokens ({len(parts)} chunk{'s' * (len(parts) > 1)} of up to {chunk} frames)"
    )


def _tokenize_folder(
    tokenizer, src: Path, out: Path, num_tokens: int | None, fit: str, shard_size: int
) -> None:
    rank, world = _rank()
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise VcodecError(f"{src}: no images found")
    out.mkdir(parents=True, exist_ok=True)
    done, shard_index = _done(out, rank)
    todo = [f for f in files[rank::world] if str(f.relative_to(src)) not in done]
    tokens, names, failures = [], [], []
    for path in tqdm(todo, desc=f"tokenize (rank {rank}/{world})", unit="image"):
        try:
            image = load_square(path, tokenizer.image_size, fit)
        except VcodecError as err:
            failures.append(str(err))
            continue
        tokens.append(tokenizer.encode(image, num_tokens)[0].numpy())
        names.append(str(path.relative_to(src)))
        if len(tokens) == shard_size:
            _write_shard(out / f"shard-r{rank:03d}-{shard_index:05d}.npz", tokens, names)
            tokens, names, shard_index = [], [], shard_index + 1
    if tokens:
        _write_shard(out / f"shard-r{rank:03d}-{shard_index:05d}.npz", tokens, names)
    echo(
        f"{out}: {len(todo) - len(failures)} images tokenized, {len(done)} already there"
        + (f"; skipped {len(failures)}: " + "; ".join(failures) if failures else "")
    )
