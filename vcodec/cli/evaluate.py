"""``vcodec eval images`` and ``vcodec eval video``: a folder in; JSON per method, a BD-rate table and
RD plots out."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from vcodec.cli.errors import echo, friendly_errors
from vcodec.cli.options import shared_options, threads_option
from vcodec.defaults import DEFAULT_GOP, DEFAULT_IMAGE_METHODS, DEFAULT_VIDEO_METHODS
from vcodec.errors import VcodecError
from vcodec.eval.baselines import VIDEO_BASELINES


def _levels(value: str) -> tuple[int, ...]:
    """``--effort 0,2`` as (0, 2)."""
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise VcodecError(f"--effort takes levels like 0,1,2, got '{value}'") from None


def _sweeps(values: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """``--sweep x265=22,27,32`` → {"x265": (22, 27, 32)}."""
    sweeps = {}
    for value in values:
        name, _, points = value.partition("=")
        try:
            sweeps[name.strip()] = tuple(int(p) for p in points.split(","))
        except ValueError:
            raise VcodecError(
                f"--sweep {value!r}: expected METHOD=N,N,… with whole numbers"
            ) from None
        if not name.strip() or not points:
            raise VcodecError(f"--sweep {value!r}: expected METHOD=N,N,…")
    return sweeps


def _warn(message: str) -> None:
    echo(f"warning: {message}", err=True)


def _usable(methods: list, strict: bool) -> list:
    """Drop methods this machine cannot run (a codec missing from Pillow or FFmpeg), saying why."""
    usable = []
    for method in methods:
        reason = method.missing()
        if reason is None:
            usable.append(method)
        elif strict:
            raise VcodecError(f"{method.name}: {reason}")
        else:
            _warn(f"{method.name} skipped: {reason}")
    if not usable:
        raise VcodecError("none of the methods can run here")
    return usable


def _check_outputs(out: Path, names: list[str], kind: str, force: bool) -> None:
    from vcodec.eval.report import output_files

    if out.exists() and not out.is_dir():
        raise VcodecError(f"{out}: exists and is not a folder")
    existing = [f for f in output_files(names, kind) if (out / f).exists()]
    if existing and not force:
        raise VcodecError(
            f"{out}: would overwrite {', '.join(existing)} (use --force, or another --out)"
        )


def _finish(
    out: Path,
    summaries: list[dict],
    problems: list[str],
    kind: str,
    header: str,
    per_item: bool,
    force: bool,
) -> None:
    from vcodec.eval.baselines import IMAGE_BASELINES
    from vcodec.eval.report import markdown_report, write_report

    for problem in problems:
        _warn(problem)
    if not summaries:
        raise VcodecError("every method failed; nothing to report")
    baselines = VIDEO_BASELINES if kind == "video" else IMAGE_BASELINES
    anchors = [s["name"] for s in summaries if s["name"] in baselines]
    written = write_report(out, summaries, anchors, kind, header, per_item, force)
    echo(markdown_report(summaries, anchors, kind, header))
    echo("wrote " + ", ".join(str(p) for p in written))


def _header(kind: str, count: int, source: str) -> str:
    command = (
        "vcodec eval " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else f"vcodec eval {kind}"
    )
    return f"# RD evaluation: {count} {kind}{'s' if count != 1 else ''} from {source}\n\n`{command}` ({date.today()})"


_common_options = [
    click.option(
        "--out",
        "-o",
        type=click.Path(path_type=Path),
        default=Path("results"),
        show_default=True,
        help="Folder for METHOD.json files, bd-rate.md and the RD plots.",
    ),
    click.option(
        "--jobs",
        "-j",
        type=click.IntRange(1, 64),
        default=1,
        show_default=True,
        help="Worker processes for the classical codecs (learned models use torch's threads).",
    ),
    click.option(
        "--sweep",
        multiple=True,
        metavar="METHOD=N,N,…",
        help="Replace a method's rate points (qualities, QPs or CRFs); repeatable.",
    ),
    click.option(
        "--strict",
        is_flag=True,
        help="Stop at the first unreadable file, missing codec or failure.",
    ),
    click.option("--force", "-f", is_flag=True, help="Overwrite result files already in --out."),
    threads_option,
]
_with_common = shared_options(_common_options)


@click.group("eval")
def evaluate() -> None:
    """Rate–distortion evaluation: learned codecs and classical baselines on one plane.

    \b
    vcodec eval images                       the 8 development images, all methods
    vcodec eval images ~/kodak -j 2          Kodak numbers, if you have the set
    vcodec eval video clip.mp4 --frames 32   one clip against x264, x265 and SVT-AV1
    """


@evaluate.command(short_help="RD curves over a folder of images: JSON, BD-rate table, plots.")
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option(
    "--methods",
    "-m",
    default=",".join(DEFAULT_IMAGE_METHODS),
    show_default=True,
    help="Comma-separated: default, a shipped model, a checkpoint folder, jpeg, webp, avif, x265, av1; or all.",
)
@click.option(
    "--per-image",
    is_flag=True,
    help="Keep every image's numbers in the JSON (to trace a regression).",
)
@click.option(
    "--effort",
    "efforts",
    default="0",
    show_default=True,
    metavar="N,N,…",
    help="Encoder efforts of the learned codecs: each level above 0 is a method of its own "
    "(NAME-effortN), slower to encode.",
)
@_with_common
@friendly_errors
def images(
    source: Path | None,
    methods: str,
    per_image: bool,
    efforts: str,
    out: Path,
    jobs: int,
    sweep: tuple[str, ...],
    strict: bool,
    force: bool,
) -> None:
    """RD curves of METHODS over the images in SOURCE (a folder or one file).

    Without SOURCE, the 8 development images bundled with scikit-image and scikit-learn (astronaut,
    coffee, chelsea, rocket, motorcycle, a hubble crop, china, flower; these are not Kodak numbers).
    bpp counts every byte each codec wrote; PSNR and MS-SSIM are measured in RGB on the 8-bit output.
    """
    from vcodec.eval.datasets import development_images, load_images
    from vcodec.eval.methods import resolve_methods
    from vcodec.eval.rd import evaluate_images

    chosen = _usable(
        resolve_methods(methods, video=False, sweeps=_sweeps(sweep), efforts=_levels(efforts)),
        strict,
    )
    _check_outputs(out, [m.name for m in chosen], "image", force)
    if source is None:
        pictures, skipped = development_images(), []
    else:
        pictures, skipped = load_images(source, max(m.min_side for m in chosen), strict)
    if skipped:
        _warn(f"skipped {len(skipped)} file(s): " + "; ".join(skipped))
    summaries, problems = evaluate_images(chosen, pictures, jobs=jobs, strict=strict)
    header = _header(
        "image", len(pictures), str(source) if source else "the development set (not Kodak)"
    )
    _finish(out, summaries, problems, "image", header, per_image, force)


@evaluate.command(short_help="RD curves over video clips: kbps, PSNR-RGB and PSNR-Y per codec.")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--methods",
    "-m",
    default=",".join(DEFAULT_VIDEO_METHODS),
    show_default=True,
    help="Comma-separated: default (the default video codec), any shipped model or checkpoint folder, "
    "x264, x265, av1; or all.",
)
@click.option(
    "--frames",
    "max_frames",
    type=click.IntRange(1),
    default=96,
    show_default=True,
    help="Evaluate the first N frames of each clip.",
)
@click.option(
    "--gop",
    type=click.IntRange(1),
    default=DEFAULT_GOP,
    show_default=True,
    help="Intra period of the classical codecs (low delay, no B-frames).",
)
@click.option(
    "--per-video",
    is_flag=True,
    help="Keep every clip's numbers, per-frame PSNR included, in the JSON.",
)
@_with_common
@friendly_errors
def video(
    source: Path,
    methods: str,
    max_frames: int,
    gop: int,
    per_video: bool,
    out: Path,
    jobs: int,
    sweep: tuple[str, ...],
    strict: bool,
    force: bool,
) -> None:
    """RD curves of METHODS over the clips in SOURCE (a video file or a folder of them).

    kbps comes from each codec's real stream size and the clip's frame rate; PSNR is the mean of
    per-frame PSNR in RGB and in BT.709 luma.
    """
    from dataclasses import fields, replace

    from vcodec.eval.datasets import load_videos
    from vcodec.eval.methods import resolve_methods
    from vcodec.eval.rd import evaluate_videos

    chosen = [
        replace(m, gop=gop)
        if "gop" in {f.name for f in fields(m)}
        else m  # methods with an intra period
        for m in resolve_methods(methods, video=True, sweeps=_sweeps(sweep))
    ]
    chosen = _usable(chosen, strict)
    _check_outputs(out, [m.name for m in chosen], "video", force)
    clips, skipped = load_videos(source, max_frames, strict)
    if skipped:
        _warn(f"skipped {len(skipped)} file(s): " + "; ".join(skipped))
    summaries, problems = evaluate_videos(chosen, clips, jobs=jobs, strict=strict)
    _finish(
        out,
        summaries,
        problems,
        "video",
        _header("video", len(clips), str(source)),
        per_video,
        force,
    )
