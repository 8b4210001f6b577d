"""Video through PyAV: frames streamed in as RGB, frames written out losslessly (or as a small viewing
copy, or as PNGs), with one-line errors for files that hold no usable video."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vcodec.errors import VcodecError
from vcodec.io.images import MAX_PIXELS, atomic_path

if TYPE_CHECKING:
    import av

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mkv", ".avi", ".mov", ".webm", ".y4m", ".m4v", ".mpg", ".mpeg", ".ts"}
)
DEFAULT_FPS = Fraction(25)  # for streams that do not state a rate
LOSSLESS_CONTAINERS = {
    ".mkv": "ffv1",
    ".avi": "ffv1",
    ".mp4": "libx264rgb",
    ".mov": "libx264rgb",
    ".m4v": "libx264rgb",
}
VIEWING_CONTAINERS = (".mp4", ".mkv", ".mov", ".m4v", ".avi")


@dataclass
class VideoClip:
    """Frames as T×H×W×3 uint8 RGB and the rate they play at."""

    frames: np.ndarray
    fps: Fraction

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / float(self.fps)


@dataclass(frozen=True)
class VideoInfo:
    """A video stream's frame size and rate, and its frame count when the container states one."""

    width: int
    height: int
    fps: Fraction
    frame_count: int | None


class VideoReader:
    """Streams the RGB frames of a file's first video stream, so memory does not grow with its length.

    ``with VideoReader(path) as video: for frame in video.frames(start=2.0, max_frames=30): …``
    """

    def __init__(self, path: str | os.PathLike):
        import av

        self.path = Path(path)
        if not self.path.is_file():
            raise VcodecError(f"{self.path}: no such file")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError) as err:
            raise VcodecError(f"{self.path}: not a readable video ({_reason(err)})") from None
        if not self._container.streams.video:
            self._container.close()
            what = "audio only" if self._container.streams.audio else "no video stream"
            raise VcodecError(f"{self.path}: has no video stream ({what})")
        self._stream = self._container.streams.video[0]
        context = self._stream.codec_context
        if not context.width or not context.height:
            self._container.close()
            raise VcodecError(f"{self.path}: the video stream declares no frame size")
        if context.width * context.height > MAX_PIXELS:
            self._container.close()
            raise VcodecError(f"{self.path}: frames larger than the {MAX_PIXELS:,}-pixel limit")
        fps = self._stream.average_rate or self._stream.guessed_rate or DEFAULT_FPS
        self.info = VideoInfo(
            context.width, context.height, Fraction(fps), self._stream.frames or None
        )
        self.variable_rate = False  # set by frames() when the timestamps are not evenly spaced
        self.seeked_to: int | None = None  # set by frames(): the frame a seek let decoding begin at

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def frames(self, start: float = 0.0, max_frames: int | None = None) -> Iterator[np.ndarray]:
        """H×W×3 uint8 RGB frames from ``start`` seconds on (at most ``max_frames``).

        A later start seeks to the key frame before it, so frames before that are not decoded.
        """
        import av

        produced, previous, gaps = 0, None, set()
        first = round(start * self.info.fps)
        try:
            for index, frame in self._indexed_frames(first):
                if frame.pts is not None:
                    if previous is not None:
                        gaps.add(frame.pts - previous)
                        self.variable_rate = self.variable_rate or max(gaps) > 1.5 * max(
                            min(gaps), 1
                        )
                    previous = frame.pts
                if index < first:
                    continue
                if max_frames is not None and produced >= max_frames:
                    return
                rgb = frame.to_ndarray(format="rgb24")
                if rgb.shape[:2] != (self.info.height, self.info.width):
                    raise VcodecError(
                        f"{self.path}: frame {index} changes size to {rgb.shape[1]}×{rgb.shape[0]}"
                    )
                produced += 1
                yield rgb
        except (av.error.FFmpegError, UnicodeDecodeError) as err:
            raise VcodecError(
                f"{self.path}: decoding stopped at frame {first + produced} ({_reason(err)})"
            ) from None
        if produced == 0:
            raise VcodecError(
                f"{self.path}: no decodable frames" + (f" after {start:g} s" if start else "")
            )

    def _indexed_frames(self, first: int) -> Iterator[tuple[int, "av.VideoFrame"]]:
        """(frame number, frame), skipping what comes before frame ``first`` by a seek where it can.

        A seek lands on the key frame before ``first``; the timestamps then say where frame ``first``
        is, and frames are counted from there. Without usable timestamps (none, or out of order up to
        ``first``) the stream is decoded from its beginning and every frame counted.
        """
        self.seeked_to = None
        if first > 0 and self._seek_before(first):
            located = self._locate(first)
            if located is not None:
                index, frame, rest = located
                self.seeked_to = index
                yield index, frame
                yield from enumerate(rest, start=index + 1)
                return
            self._reopen()
        yield from enumerate(self._container.decode(self._stream))

    def _locate(self, first: int):
        """After a seek: (number, frame, the decoder) of the first frame at or after ``first``, or None."""
        decoded = self._container.decode(self._stream)
        last = None
        for frame in decoded:
            index = self._timestamp_index(frame)
            if (
                index is None
                or (last is None and index > first)
                or (last is not None and index <= last)
            ):
                decoded.close()
                return None
            if index >= first:
                return index, frame, decoded
            last = index
        return None

    def _seek_before(self, first: int) -> bool:
        import av

        base = self._stream.time_base
        if not base:
            return False
        target = (self._stream.start_time or 0) + int(Fraction(first) / self.info.fps / base)
        try:
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            self._reopen()
            return False
        return True

    def _timestamp_index(self, frame) -> int | None:
        """The frame's number from its presentation time (None without a timestamp)."""
        if frame.pts is None:
            return None
        seconds = (frame.pts - (self._stream.start_time or 0)) * self._stream.time_base
        return round(seconds * self.info.fps)

    def _reopen(self) -> None:
        import av

        self._container.close()
        self._container = av.open(str(self.path))
        self._stream = self._container.streams.video[0]


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> VideoClip:
    """The first ``max_frames`` frames (all when None) of a video file, converted to RGB, in memory."""
    with VideoReader(path) as video:
        return VideoClip(np.stack(list(video.frames(max_frames=max_frames))), video.info.fps)


class VideoWriter:
    """Frames to a video file, written to a temporary file that replaces ``path`` when the ``with`` block
    ends without an error (and is removed when it does not).

    By default the copy is lossless: FFV1 (RGB) in .mkv or .avi, H.264 RGB at QP 0 in .mp4/.mov. With
    ``crf`` it is a small 4:2:0 H.264 viewing copy at that constant rate factor (odd sizes padded by one
    pixel).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: Fraction,
        width: int,
        height: int,
        crf: int | None = None,
        force: bool = False,
    ):
        import av

        self.path = Path(path)
        suffix = self.path.suffix.lower()
        supported = VIEWING_CONTAINERS if crf is not None else tuple(LOSSLESS_CONTAINERS)
        if suffix not in supported:
            raise VcodecError(
                f"{self.path}: cannot write {suffix or 'files without a suffix'} video "
                f"(use {', '.join(supported)}, or --frames-dir for PNGs)"
            )
        self.crf, self.width, self.height, self.fps = crf, width, height, fps
        self._atomic = atomic_path(self.path, force)
        self._av = av

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the file written: a 4:2:0 viewing copy pads odd sides by one pixel."""
        if self.crf is None:
            return self.width, self.height
        return self.width + self.width % 2, self.height + self.height % 2

    def __enter__(self) -> "VideoWriter":
        tmp = self._atomic.__enter__()
        try:
            self._container = self._av.open(str(tmp), "w")
            self._stream = self._open_stream(self.path.suffix.lower(), self.fps)
        except BaseException:
            self._atomic.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            for packet in self._stream.encode(
                None
            ):  # flush the encoder, then move the file into place
                self._container.mux(packet)
            self._container.close()
            self._atomic.__exit__(None, None, None)
        else:
            with contextlib.suppress(Exception):
                self._container.close()
            self._atomic.__exit__(kind, error, traceback)

    def _open_stream(self, suffix: str, fps: Fraction):
        if self.crf is not None:
            stream = self._container.add_stream("libx264", rate=fps)
            stream.pix_fmt, stream.options = "yuv420p", {"crf": str(self.crf), "preset": "medium"}
            stream.width, stream.height = self.size
        else:
            codec = LOSSLESS_CONTAINERS[suffix]
            stream = self._container.add_stream(codec, rate=fps)
            stream.pix_fmt = "bgr0" if codec == "ffv1" else "rgb24"
            stream.options = (
                {"qp": "0", "preset": "medium"} if codec == "libx264rgb" else {"level": "3"}
            )
            stream.width, stream.height = self.width, self.height
        return stream

    def write(self, frame: np.ndarray) -> None:
        """One H×W×3 uint8 RGB frame."""
        if self.crf is not None and (self.width % 2 or self.height % 2):
            frame = np.pad(frame, ((0, self.height % 2), (0, self.width % 2), (0, 0)), mode="edge")
        video_frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(video_frame.reformat(format=self._stream.pix_fmt)):
            self._container.mux(packet)


def _reason(err: Exception) -> str:
    return str(getattr(err, "strerror", None) or err).strip().rstrip(".")
