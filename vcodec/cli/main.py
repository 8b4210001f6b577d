"""The ``vcodec`` command line: encode, decode, info, models, eval, train.

Every user error becomes one line on stderr and exit status 1; outputs are written atomically, so an
error or Ctrl-C never leaves a partial file. Modules imported here stay light (no torch): ``--help``,
``info`` and ``models`` answer at once, and the models load when a command codes something.
"""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from vcodec import registry, zoo
from vcodec.cli.errors import echo, friendly_errors
from vcodec.cli.evaluate import evaluate
from vcodec.cli.generate import complete, sample
from vcodec.cli.options import threads_option
from vcodec.cli.tokenize import tokenize
from vcodec.cli.training import data, export, train
from vcodec.cli.video import (
    decode_video,
    encode_video,
    is_video_stream,
    stream_model_name,
    video_info,
)
from vcodec.defaults import (
    DEFAULT_INTRA_BOOST,
    DEFAULT_INTRA_PERIOD,
    EFFORT_ITERATIONS,
    MAX_EFFORT,
)
from vcodec.entropy.container import Container, Kind
from vcodec.errors import BitstreamError, VcodecError
from vcodec.io.images import IMAGE_SUFFIXES, LOSSY_QUALITY, OUTPUT_FORMATS, save_image, write_atomic
from vcodec.io.video import VIDEO_SUFFIXES

STREAM_SUFFIX = ".vcd"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vcodec")
def main() -> None:
    """vcodec: learned image and video codecs and visual tokenizers that write real bitstreams.

    \b
    vcodec encode clip.mp4 clip.vcd        compress a video with the default video codec
    vcodec decode clip.vcd clip.mkv        decode it (lossless FFV1; --crf N for a small H.264 copy)
    vcodec encode photo.png photo.vcd      compress with the default model
    vcodec decode photo.vcd photo-out.png  decode back to PNG
    vcodec info photo.vcd                  show what a stream holds
    vcodec models                          list shipped models and their measured rate–distortion
    vcodec eval images [DIR]               RD curves and BD-rates against JPEG/WebP/AVIF/x265/AV1
    vcodec tokenize photo.png -m TOKENIZER token ids for generation code

    Architectures of your own: name the modules that register them in VCODEC_PLUGINS (comma-separated).
    """
    try:
        registry.load_plugins()
    except VcodecError as err:
        raise click.ClickException(str(err)) from None


def _pairs(
    src: Path, dst: Path, suffixes: set[str] | frozenset[str], out_suffix: str
) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one file, or every matching file of a folder into an output folder."""
    if not src.exists():
        raise VcodecError(f"{src}: no such file or folder")
    if not src.is_dir():
        return [(src, dst)]
    files = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise VcodecError(f"{src}: no {'/'.join(sorted(suffixes))} files in this folder")
    stems = [f.stem for f in files]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise VcodecError(f"{src}: several files would share an output name: {', '.join(clashes)}")
    if dst.exists() and not dst.is_dir():
        raise VcodecError(f"{dst}: exists and is not a folder")
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise VcodecError(f"{dst}: cannot create output folder ({err.strerror})") from None
    return [(f, dst / (f.stem + out_suffix)) for f in files]


def _run_batch(pairs: list[tuple[Path, Path]], job, what: str) -> None:
    """Run ``job(src, dst)`` over pairs; one file errors out plainly, a folder reports failures at the end."""
    if len(pairs) == 1:
        job(*pairs[0])
        return
    failures = []
    for src, dst in tqdm(pairs, desc=what, unit="file"):
        try:
            job(src, dst)
        except VcodecError as err:  # most messages name the file already
            failures.append(str(err) if str(src) in str(err) else f"{src.name}: {err}")
    if failures:
        raise VcodecError(f"{len(failures)} of {len(pairs)} files failed: " + "; ".join(failures))


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "-m",
    default=None,
    help=f"Shipped model name or checkpoint folder: an image codec or a tokenizer for images "
    f"(default {zoo.DEFAULT_MODEL}), a video codec for videos (default {zoo.DEFAULT_VIDEO_MODEL}).",
)
@click.option(
    "--quality",
    "-q",
    type=int,
    default=None,
    help="Codecs: 1 = smallest files … the model's best learned quality (6 for the shipped ones); the "
    "5 qualities above it add a near-lossless layer: no pixel off by more than 6, 4, 3, 2, 1 levels "
    "(about 39–50 dB). Default: the model's middle-high quality.",
)
@click.option(
    "--num-tokens",
    "-k",
    type=int,
    default=None,
    help="Tokenizers: keep the first K tokens (default: all).",
)
@click.option(
    "--gop",
    type=int,
    default=DEFAULT_INTRA_PERIOD,
    show_default=True,
    help="Video: an intra frame at least every N frames (decoding can start at any of them).",
)
@click.option(
    "--intra-boost",
    type=click.IntRange(0, 8),
    default=DEFAULT_INTRA_BOOST,
    show_default=True,
    help="Video: code intra frames this many qualities above the others (what static areas inherit).",
)
@click.option(
    "--scene-cuts/--no-scene-cuts",
    default=True,
    show_default=True,
    help="Video: code a frame as an intra frame where that costs less than predicting it (a new "
    "shot); the intra period restarts there. Pixel-domain codecs only.",
)
@click.option(
    "--effort",
    type=click.IntRange(0, MAX_EFFORT),
    default=0,
    show_default=True,
    help=f"Codecs: encoder effort. 1–{MAX_EFFORT} refine each image's (a video's intra frames') "
    "latent at encode time: smaller files at the same quality, any decoder reads them, but "
    f"{', '.join(map(str, EFFORT_ITERATIONS[1:-1]))} or {EFFORT_ITERATIONS[-1]} optimisation steps "
    "make encoding tens to hundreds of times slower. 0: the plain encode.",
)
@click.option("--start", type=float, default=0.0, help="Video: skip to this time (seconds) first.")
@click.option(
    "--frames",
    "max_frames",
    type=click.IntRange(min=1),
    default=None,
    help="Video: code at most N frames.",
)
@click.option("--force", "-f", is_flag=True, help="Overwrite existing output files.")
@threads_option
@friendly_errors
def encode(
    src: Path,
    dst: Path,
    model: str | None,
    quality: int | None,
    num_tokens: int | None,
    gop: int,
    intra_boost: int,
    scene_cuts: bool,
    effort: int,
    start: float,
    max_frames: int | None,
    force: bool,
) -> None:
    """Compress a video, an image (PNG/JPEG/WebP/TIFF) or a folder of images into vcodec streams.

    \b
    vcodec encode clip.mp4 clip.vcd --frames 60     a video: one packet per frame
    vcodec encode photo.png photo.vcd -q 2          an image
    vcodec encode photos/ streams/                  every image of a folder

    With a folder SRC, DST is a folder that receives one NAME.vcd per image. A tokenizer takes its
    fixed input size: other images are scaled and centre-cropped to it.
    """
    if src.is_file():
        _check_stream_name(dst)
    if src.is_file() and src.suffix.lower() in VIDEO_SUFFIXES:
        encode_video(
            src,
            dst,
            model or zoo.DEFAULT_VIDEO_MODEL,
            quality,
            gop,
            start,
            max_frames,
            force,
            intra_boost,
            effort,
            scene_cuts,
        )
        return
    loaded = zoo.load(model or zoo.DEFAULT_MODEL)
    compress = registry.kind_of(loaded).image_compressor(loaded, quality, num_tokens, effort)
    pairs = _pairs(src, dst, IMAGE_SUFFIXES, STREAM_SUFFIX)

    def job(image_path: Path, out: Path) -> None:
        if out.exists() and not force:
            raise VcodecError(f"{out}: exists (use --force to overwrite)")
        data, pixels, what = compress(image_path)
        write_atomic(out, data, force=force)
        if len(pairs) == 1:
            echo(f"{out}: {len(data):,} bytes, {len(data) * 8 / pixels:.4f} bpp ({what})")

    _run_batch(pairs, job, "encode")


def _check_stream_name(out: Path) -> None:
    """Refuse to write a vcodec stream under a name that promises an image or a video file (a folder's
    streams are named NAME.vcd)."""
    suffix = out.suffix.lower()
    if suffix in IMAGE_SUFFIXES or suffix in VIDEO_SUFFIXES:
        raise VcodecError(
            f"{out}: encode writes a vcodec stream, not a {suffix} file; name it "
            f"{out.stem}{STREAM_SUFFIX} (decode it to get {suffix} back)"
        )


def _decoder(stream: bytes, model: str | None, cache: dict):
    """The model that made a stream, loaded once per name: ``--model``, else the shipped model its
    header names (a name read from a stream is never treated as a path)."""
    name = stream_model_name(Container.from_bytes(stream).model, model) if model is None else model
    if name not in cache:
        cache[name] = zoo.load(name)
    return cache[name]


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "-m",
    default=None,
    help="Checkpoint folder, when the stream's model is not a shipped one.",
)
@click.option(
    "--crf",
    type=click.IntRange(0, 51),
    default=None,
    help="Video: write a small H.264 viewing copy at this CRF instead of a lossless file.",
)
@click.option(
    "--frames-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Video: also (or, with DST '-', only) write every frame as a PNG into this folder.",
)
@click.option(
    "--keep-going",
    is_flag=True,
    help="Video: decode past damaged packets (the last good frame stands in until the next intra frame).",
)
@click.option("--force", "-f", is_flag=True, help="Overwrite existing output files.")
@threads_option
@friendly_errors
def decode(
    src: Path,
    dst: Path,
    model: str | None,
    crf: int | None,
    frames_dir: Path | None,
    keep_going: bool,
    force: bool,
) -> None:
    """Decode a vcodec stream (or a folder of .vcd image streams) to PNG, or a video stream to a video.

    \b
    vcodec decode photo.vcd photo.png
    vcodec decode clip.vcd clip.mkv           lossless (FFV1); .mp4 gives lossless H.264 RGB
    vcodec decode clip.vcd clip.mp4 --crf 20  a small viewing copy
    vcodec decode clip.vcd - --frames-dir out PNG frames only
    """
    if src.is_file() and is_video_stream(src):
        decode_video(
            src, None if str(dst) == "-" else dst, model, crf, frames_dir, force, keep_going
        )
        return
    if src.is_file() and dst.suffix.lower() in VIDEO_SUFFIXES:
        raise BitstreamError(f"{src}: holds an image stream, not a video (decode it to .png)")
    pairs = _pairs(src, dst, {STREAM_SUFFIX}, ".png")
    cache: dict = {}

    def job(stream_path: Path, out: Path) -> None:
        if out.exists() and not force:
            raise VcodecError(f"{out}: exists (use --force to overwrite)")
        stream = _read_stream(stream_path)
        try:
            codec = _decoder(stream, model, cache)
            container, image = registry.kind_of(codec).decode_image(codec, stream)
        except BitstreamError as err:
            raise BitstreamError(f"{stream_path}: {err}") from None
        save_image(image, out, force=force)
        if len(pairs) == 1:
            echo(f"{out}: {container.width}×{container.height}{_lossy_note(out)}")

    _run_batch(pairs, job, "decode")


def _lossy_note(out: Path) -> str:
    """What a decode written as JPEG or WebP loses (PNG, TIFF, BMP and PPM keep the decode exactly)."""
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt in LOSSY_QUALITY:
        return (
            f" ({fmt} at quality {LOSSY_QUALITY[fmt]}: compressed again, lossily; "
            f"name the output .png for the exact decode)"
        )
    return ""


def _read_stream(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise VcodecError(f"{path}: cannot read ({err.strerror})") from None
    if not data:
        raise BitstreamError(f"{path}: empty file (0 bytes)")
    return data


def _layer_note(c: Container, shipped) -> str:
    """For an image above its model's learned qualities: what the residual layer guarantees."""
    learned = len(shipped.model.get("lambdas", ())) if shipped is not None else 0
    if c.kind != Kind.IMAGE or not learned or c.quality <= learned:
        return ""
    if not c.sections or len(c.sections[-1]) < 2:
        return ""
    return (
        f" (quality {learned} + near-lossless layer: every pixel within {c.sections[-1][1]} levels)"
    )


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@friendly_errors
def info(src: Path) -> None:
    """Print a stream's header: model, image size, quality, bytes and bits per pixel."""
    if not src.is_file():
        raise VcodecError(f"{src}: no such file")
    if is_video_stream(src):
        video_info(src)
        return
    data = _read_stream(src)
    try:
        c = Container.from_bytes(data)
    except BitstreamError as err:
        raise BitstreamError(f"{src}: {err}") from None
    pixels = c.width * c.height
    shipped = zoo.shipped_info(c.model) if c.model.isprintable() and "/" not in c.model else None
    echo(f"file:     {src}")
    echo(f"kind:     {c.kind.name.lower()}{' (greyscale source)' if c.grey else ''}")
    echo(f"format:   version {c.version}")
    echo(f"model:    {c.model} (weights {c.weights_hash.hex()})")
    echo(f"size:     {c.width}×{c.height}")
    if c.kind == Kind.TOKENS and c.sections and len(c.sections[0]) == 2:
        count = int.from_bytes(c.sections[0], "big")
        frames = (
            None
            if shipped is None
            else registry.kind(shipped.kind).clip_frames(shipped.model, count)
        )
        if frames is not None:  # the token frames of a clip
            echo(f"tokens:   {count} token frames ({frames} video frames)")
            pixels *= frames
        else:
            echo(f"tokens:   {count}")
    else:
        echo(f"quality:  {c.quality}{_layer_note(c, shipped)}")
    echo(
        f"bytes:    {len(data):,} ({c.payload_bytes:,} entropy-coded in {len(c.sections)} sections)"
    )
    echo(
        f"bpp:      {len(data) * 8 / pixels:.4f} (payload only {c.payload_bytes * 8 / pixels:.4f})"
    )


@main.command()
@friendly_errors
def models() -> None:
    """List shipped models with their measured rate–distortion on the development images."""
    infos = zoo.model_infos()
    if not infos:
        raise VcodecError(f"no checkpoints found under {zoo.checkpoint_root()}")
    for info_ in infos:
        default = " (default)" if info_.name == zoo.DEFAULT_MODEL else ""
        span = registry.kind(info_.kind).rate_unit
        echo(
            f"{info_.name}{default}: {info_.kind}"
            + (f", {span} 1–{info_.qualities}" if info_.qualities else "")
        )
        if info_.description:
            echo(f"  {info_.description}")
        dev = info_.results.get("dev") if isinstance(info_.results.get("dev"), dict) else {}
        point = next((p for p in ("tokens", "chunk") if p in dev), "quality")
        if dev and info_.kind in ("video-codec", "video-tokenizer"):
            echo("  on the synthetic development clips (real clips: benchmarks/RESULTS.md):")
        for p, bpp, psnr in zip(dev.get(point, []), dev.get("bpp", []), dev.get("psnr-rgb", [])):
            echo(f"  {point} {p}: {bpp:.3f} bpp, {psnr:.2f} dB PSNR-RGB")
        if "bits_held_out" in dev:
            echo(
                f"  {dev['bits_held_out']:.2f} bits/token on held-out ids ({dev['bits_held_in']:.2f} held in, "
                f"log2 V {dev['log2_vocabulary']:.2f})"
            )


main.add_command(evaluate)
main.add_command(tokenize)
main.add_command(sample)
main.add_command(complete)
main.add_command(data)
main.add_command(train)
main.add_command(export)

if __name__ == "__main__":  # pragma: no cover
    main()
