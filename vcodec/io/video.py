"""Video in through PyAV: decoded RGB frames and the frame rate, with one-line errors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vcodec.errors import VcodecError
from vcodec.io.images import MAX_PIXELS

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".y4m", ".m4v", ".mpg", ".mpeg", ".ts"})
DEFAULT_FPS = Fraction(25)  # for streams that do not state a rate


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


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> VideoClip:
    """The first ``max_frames`` frames (all when None) of a video file, converted to RGB."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VcodecError(f"{path}: no such file")
    frames = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VcodecError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            if stream.codec_context.width * stream.codec_context.height > MAX_PIXELS:
                raise VcodecError(f"{path}: frames larger than the {MAX_PIXELS:,}-pixel limit")
            fps = stream.average_rate or stream.guessed_rate or DEFAULT_FPS
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise VcodecError(f"{path}: not a readable video ({err})") from None
    if not frames:
        raise VcodecError(f"{path}: no decodable frames")
    return VideoClip(np.stack(frames), Fraction(fps))
