"""What ``vcodec encode`` / ``decode`` / ``info`` do with videos: stream frames through the video codec,
one packet per frame, with a progress bar, atomic outputs and one-line errors."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from vcodec import zoo
from vcodec.cli.errors import echo
from vcodec.defaults import DEFAULT_INTRA_BOOST
from vcodec.entropy.container import MAGIC, FrameType, Kind, read_packets, read_video_header
from vcodec.errors import BitstreamError, VcodecError
from vcodec.io.images import atomic_path, save_image, to_uint8
from vcodec.io.video import VideoReader, VideoWriter

if TYPE_CHECKING:  # the codec (and torch) load when a video is coded, not when the command starts
    from vcodec.codecs.video_base import VideoCodec

PNG_NAME = "frame_{:06d}.png"


def is_video_stream(path: Path) -> bool:
    """Whether a file starts like a vcodec video stream (its kind byte says so); an unreadable file is
    left to the image path, which reports it."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return False
    return len(head) == 6 and head[:4] == MAGIC and head[5] == Kind.VIDEO


def stream_model_name(stream_model: str, model: str | None) -> str:
    """Which model decodes a stream: ``--model`` when given, else the shipped model its header names (a
    name read from a stream is never treated as a path)."""
    if model is None and stream_model not in zoo.list_models():
        raise BitstreamError(
            f"stream was made by model '{stream_model}', which is not installed here (give --model)"
        )
    return model or stream_model


def load_video_codec(name: str) -> VideoCodec:
    return zoo.load(name, kinds=("video-codec",))


def encode_video(
    src: Path,
    dst: Path,
    model: str,
    quality: int | None,
    intra_period: int,
    start: float,
    max_frames: int | None,
    force: bool,
    intra_boost: int = DEFAULT_INTRA_BOOST,
    effort: int = 0,
    scene_cuts: bool = True,
) -> None:
    import torch

    codec = load_video_codec(model)
    quality = codec.check_quality(codec.default_quality if quality is None else quality)
    if intra_period < 1:
        raise VcodecError(f"--gop must be at least 1, got {intra_period}")
    if dst.exists() and not force:
        raise VcodecError(f"{dst}: exists (use --force to overwrite)")
    with VideoReader(src) as video:
        info = video.info
        total = _expected_frames(info.frame_count, info.fps, start, max_frames)
        # the progress bar exists before the output does, so an interruption that leaves no output
        # never lands inside its constructor (a half-made bar prints a traceback when collected)
        with (
            tqdm(total=total, unit="frame", desc="encode") as bar,
            atomic_path(dst, force) as tmp,
            open(tmp, "wb") as out,
        ):
            frames = (
                torch.from_numpy(f).permute(2, 0, 1)[None].float().div_(255.0)
                for f in video.frames(start, max_frames)
            )
            started = time.time()
            stream = codec.encode_stream(
                frames,
                info.width,
                info.height,
                info.fps,
                quality,
                intra_period,
                intra_boost=intra_boost,
                effort=effort,
                scene_cuts=scene_cuts,
            )
            out.write(next(stream))  # the header, rewritten with the frame count at the end
            count = 0
            for packet in stream:
                out.write(packet)
                count += 1
                bar.update()
            size = out.tell()
            out.seek(0)
            out.write(codec.header(info.width, info.height, info.fps, quality, intra_period, count))
    seconds = count / float(info.fps)
    if video.variable_rate:
        echo(
            f"warning: {src} has a variable frame rate; it was coded at a constant {float(info.fps):g} fps "
            f"(its timestamps are not kept)",
            err=True,
        )
    echo(
        f"{dst}: {count} frames, {info.width}×{info.height} at {float(info.fps):g} fps, {size:,} bytes, "
        f"{size * 8 / seconds / 1000:.1f} kbps (quality {quality}, intra period {intra_period}; "
        f"{count / max(time.time() - started, 1e-9):.1f} frames/s)"
    )


def _expected_frames(declared: int | None, fps, start: float, max_frames: int | None) -> int | None:
    """How many frames the progress bar should expect (None when the container does not say)."""
    left = None if declared is None else max(0, declared - round(start * fps))
    known = [n for n in (left, max_frames) if n is not None]
    return min(known) if known else None


def decode_video(
    src: Path,
    dst: Path | None,
    model: str | None,
    crf: int | None,
    frames_dir: Path | None,
    force: bool,
    keep_going: bool = False,
) -> None:
    if dst is None and frames_dir is None:
        raise VcodecError("give an output video file, or --frames-dir for PNG frames")
    with open(src, "rb") as stream:
        header, _ = read_video_header(stream)
        codec = load_video_codec(stream_model_name(header.model, model))
        stream.seek(0)
        problems: list[str] = []
        header, info, frames = codec.decode_stream(stream, keep_going, problems)
        fps = Fraction(info.fps_num, info.fps_den)
        frames = tqdm(frames, total=info.frame_count, unit="frame", desc="decode")
        size, padded = (header.width, header.height), ""
        if dst is not None:
            with VideoWriter(dst, fps, header.width, header.height, crf=crf, force=force) as writer:
                written = _write_frames(frames, writer, frames_dir, force)
            if writer.size != size:
                padded = (
                    f" (the {size[0]}×{size[1]} frames padded by one pixel: 4:2:0 needs even sides)"
                )
                size = writer.size
        else:
            written = _write_frames(frames, None, frames_dir, force)
    where = ", ".join(str(p) for p in (dst, frames_dir) if p is not None)
    missing = f" (the stream declares {info.frame_count})" if written != info.frame_count else ""
    echo(f"{where}: {written} frames{missing}, {size[0]}×{size[1]}{padded} at {float(fps):g} fps")
    for problem in problems:
        echo(
            f"warning: {problem}; the last good frame stands in until the next intra frame",
            err=True,
        )


def _write_frames(frames, writer: VideoWriter | None, frames_dir: Path | None, force: bool) -> int:
    """Every frame to the video writer and/or as numbered PNGs; returns how many there were."""
    if frames_dir is not None:
        frames_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, frame in enumerate(frames, start=1):
        if writer is not None:
            writer.write(to_uint8(frame))
        if frames_dir is not None:
            save_image(frame, frames_dir / PNG_NAME.format(count), force=force)
    return count


def video_info(src: Path) -> None:
    """The header of a video stream, then what its packets hold; a damaged stream shows what could be
    read before the error that ends it."""
    with open(src, "rb") as stream:
        header, info = read_video_header(stream)
        seconds = info.frame_count / Fraction(info.fps_num, info.fps_den)
        echo(f"file:     {src}")
        echo("kind:     video")
        echo(f"format:   version {header.version}")
        echo(f"model:    {header.model} (weights {header.weights_hash.hex()})")
        echo(f"size:     {header.width}×{header.height}")
        echo(
            f"frames:   {info.frame_count} at {info.fps_num / info.fps_den:g} fps ({float(seconds):.2f} s), "
            f"intra period {info.intra_period}"
        )
        kinds, sizes, intra_qualities, start = [], [], set(), stream.tell()
        try:
            for packet in read_packets(stream, header, info):
                kinds.append(packet.frame_type.name[0])
                if (
                    packet.frame_type == FrameType.INTRA
                    and packet.sections
                    and len(packet.sections[0]) == 1
                ):
                    intra_qualities.add(packet.sections[0][0])
                sizes.append(
                    stream.tell() - start
                )  # as stored, without writing the packet out again
                start = stream.tell()
        except BitstreamError as err:
            _packet_summary(header, kinds, sizes, intra_qualities)
            raise BitstreamError(
                f"{src}: {err} (the {len(kinds)} packets before it are summarised above)"
            ) from None
    _packet_summary(header, kinds, sizes, intra_qualities)
    total = src.stat().st_size
    if seconds:
        echo(
            f"bytes:    {total:,} ({float(total * 8 / seconds) / 1000:.1f} kbps, "
            f"{total * 8 / (header.width * header.height * info.frame_count):.4f} bpp)"
        )


def _packet_summary(header, kinds: list[str], sizes: list[int], intra_qualities: set[int]) -> None:
    intra_quality = ", ".join(map(str, sorted(intra_qualities))) or "?"
    echo(f"quality:  {header.quality} (intra frames {intra_quality})")
    intra = [s for k, s in zip(kinds, sizes) if k == "I"]
    predicted = [s for k, s in zip(kinds, sizes) if k == "P"]
    echo(
        f"packets:  {len(intra)} intra (mean {sum(intra) / max(len(intra), 1):,.0f} bytes), "
        f"{len(predicted)} predicted (mean {sum(predicted) / max(len(predicted), 1):,.0f} bytes)"
    )
