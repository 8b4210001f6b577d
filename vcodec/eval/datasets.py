"""What an evaluation runs on: the development images (bundled with scikit-image and
scikit-learn, no download), or a user's folder of images or videos, with unreadable files reported."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vcodec.errors import VcodecError
from vcodec.io.images import IMAGE_SUFFIXES, load_rgb_uint8
from vcodec.io.video import VIDEO_SUFFIXES, VideoClip, read_video


def development_images() -> dict[str, np.ndarray]:
    """Name → H×W×3 uint8: astronaut, coffee, chelsea, rocket, motorcycle (left), hubble crop, china, flower."""
    import skimage.data as data
    from sklearn.datasets import load_sample_images

    images = {
        "astronaut": data.astronaut(),
        "coffee": data.coffee(),
        "chelsea": data.chelsea(),
        "rocket": data.rocket(),
        "motorcycle": data.stereo_motorcycle()[0],
        "hubble": data.hubble_deep_field()[:512, :512],
    }
    samples = load_sample_images()
    for path, image in zip(samples.filenames, samples.images):
        images[path.rsplit("/", 1)[-1].split(".")[0]] = image
    return {name: np.ascontiguousarray(im[..., :3]).astype(np.uint8) for name, im in images.items()}


def media_files(path: Path, suffixes: frozenset[str], what: str) -> list[Path]:
    """``path`` itself if it is a file, else the files of the folder with one of ``suffixes``."""
    if not path.exists():
        raise VcodecError(f"{path}: no such file or folder")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise VcodecError(f"{path}: no {what} files here ({', '.join(sorted(suffixes))})")
    return files


def load_images(
    path: Path, min_side: int = 1, strict: bool = False
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The readable images of a folder (or one file) as name → H×W×3 uint8, and what was skipped why.

    Unreadable images and images with a side under ``min_side`` are skipped, or with ``strict`` stop
    the run. Every method then sees exactly the same images.
    """
    images, skipped = {}, []
    for file in media_files(path, IMAGE_SUFFIXES, "image"):
        try:
            image = load_rgb_uint8(file)
            if min(image.shape[:2]) < min_side:
                raise VcodecError(
                    f"{file}: {image.shape[1]}×{image.shape[0]} is smaller than {min_side} px"
                )
        except VcodecError as err:
            if strict:
                raise
            skipped.append(str(err))
            continue
        name = file.stem if file.stem not in images else file.name
        images[name] = image
    if not images:
        raise VcodecError(f"{path}: none of the images could be used: " + "; ".join(skipped))
    return images, skipped


def load_videos(path: Path, max_frames: int | None, strict: bool = False):
    """The readable clips of a folder (or one file) as name → VideoSource, and what was skipped why.

    Each file is probed here (its first frame decoded); frames are read where they are evaluated.
    """
    from vcodec.eval.rd import VideoSource

    videos, skipped = {}, []
    for file in media_files(path, VIDEO_SUFFIXES, "video"):
        try:
            read_video(file, max_frames=1)
        except VcodecError as err:
            if strict:
                raise
            skipped.append(str(err))
            continue
        videos[file.stem if file.stem not in videos else file.name] = VideoSource(
            str(file), max_frames
        )
    if not videos:
        raise VcodecError(f"{path}: none of the videos could be used: " + "; ".join(skipped))
    return videos, skipped


@dataclass(frozen=True)
class SyntheticClip:
    """A development clip cut from a development image with known motion (a synthetic pan):
    always available, unlike real clips, so every video model can be measured at export."""

    image: str
    frames: int
    shift: tuple[int, int]  # (down, right) pixels per frame
    noise: float  # standard deviation of each frame's own noise, in 8-bit steps
    size: tuple[int, int] = (192, 256)

    def load(self) -> VideoClip:
        source = development_images()[self.image]
        h, w = self.size
        rng = np.random.default_rng(0)
        clip = []
        for t in range(self.frames):
            top, left = t * self.shift[0], t * self.shift[1]
            frame = source[top : top + h, left : left + w].astype(np.float32)
            frame += self.noise * rng.standard_normal(frame.shape).astype(np.float32)
            clip.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
        return VideoClip(np.stack(clip), Fraction(25))


def development_clips(frames: int = 16) -> dict[str, SyntheticClip]:
    """Two synthetic development clips: a static noisy shot and a diagonal pan."""
    return {
        "coffee-static": SyntheticClip("coffee", frames, (0, 0), 1.5),
        "astronaut-pan": SyntheticClip("astronaut", frames, (1, 3), 1.0),
    }
