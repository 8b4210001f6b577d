"""Training photos: fetched from Debian packages, downscaled once, cropped at random while training.

The photos are already JPEG-compressed wallpapers; downscaling them by about two hides most of their
blocking artefacts, which a codec would otherwise spend bits learning to reproduce.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from PIL import Image

from vcodec.errors import VcodecError
from vcodec.io.images import IMAGE_SUFFIXES, load_rgb_uint8


@dataclass(frozen=True)
class PhotoSource:
    """One Debian package and which of its files are training photos."""

    package: str
    folder: str
    include: tuple[str, ...] = ()  # empty: every image in the folder
    exclude: tuple[str, ...] = ()
    licence: str = ""


PLASMA_PICKS = (
    "BytheWater",
    "ColdRipple",
    "ColorfulCups",
    "DarkestHour",
    "EveningGlow",
    "FallenLeaf",
    "Grey",
    "OneStandsOut",
    "Path",
    "summer_1am",
)

PHOTO_SOURCES = (
    PhotoSource(
        "mate-backgrounds",
        "usr/share/backgrounds/mate/nature",
        licence="GPL-2+ / CC (see package copyright)",
    ),
    PhotoSource(
        "lomiri-wallpapers-16.04",
        "usr/share/backgrounds",
        exclude=("umang_by_Abhishek_Mudgal.jpg",),
        licence="CC-BY-SA (see package copyright)",
    ),
    PhotoSource(
        "plasma-workspace-wallpapers",
        "usr/share/wallpapers",
        include=tuple(f"{name}/contents/images/2560x1600.jpg" for name in PLASMA_PICKS),
        licence="LGPL-3 / CC-BY-SA (see package copyright)",
    ),
)


def _source_files(root: Path, source: PhotoSource) -> list[Path]:
    folder = root / source.folder
    if source.include:
        return [folder / name for name in source.include]
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.name not in source.exclude
    )


def download_photos(work_dir: Path) -> list[tuple[Path, str]]:
    """Fetch the Debian packages of PHOTO_SOURCES with apt-get; the training photos with their sources
    (package and licence)."""
    debs, tree = work_dir / "debs", work_dir / "tree"
    debs.mkdir(parents=True, exist_ok=True)
    tree.mkdir(parents=True, exist_ok=True)
    photos: list[tuple[Path, str]] = []
    for source in PHOTO_SOURCES:
        if not list(debs.glob(f"{source.package}_*.deb")):
            try:
                subprocess.run(
                    ["apt-get", "download", source.package],
                    cwd=debs,
                    check=True,
                    capture_output=True,
                )
            except (OSError, subprocess.CalledProcessError) as err:
                raise VcodecError(
                    f"cannot download the Debian package {source.package} ({_reason(err)}); "
                    f"give your own photos with --from FOLDER"
                ) from None
        for deb in debs.glob(f"{source.package}_*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
        photos += [
            (p, f"Debian package {source.package}, {source.licence}")
            for p in _source_files(tree, source)
        ]
    missing = [p for p, _ in photos if not p.is_file()]
    if missing:
        raise VcodecError(
            f"training photos missing after extraction: {', '.join(map(str, missing[:3]))}"
        )
    return photos


def _reason(err: Exception) -> str:
    if isinstance(err, subprocess.CalledProcessError):
        return (
            (err.stderr or b"").decode(errors="replace").strip().splitlines()[-1:][0]
            if err.stderr
            else f"exit {err.returncode}"
        )
    return str(err)


def folder_media(folder: Path, frame_step: int = 30) -> Iterator[tuple[str, np.ndarray | None]]:
    """Every image of a folder (recursively), and every ``frame_step``-th frame of its videos, as
    (name, H×W×3 uint8), or (name, None) for a file that cannot be read."""
    from vcodec.io.video import VIDEO_SUFFIXES, VideoReader

    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        suffix, name = path.suffix.lower(), str(path.relative_to(folder))
        if suffix in IMAGE_SUFFIXES:
            try:
                yield name, load_rgb_uint8(path)
            except (VcodecError, OSError, ValueError):
                yield name, None
        elif suffix in VIDEO_SUFFIXES:
            try:
                with VideoReader(path) as reader:
                    for i, frame in enumerate(reader.frames()):
                        if i % frame_step == 0:
                            yield f"{name}#{i}", frame
            except (VcodecError, OSError, ValueError):
                yield name, None


def downscale(image: np.ndarray, factor: float) -> np.ndarray:
    """Area-style (Lanczos) downscale of an H×W×3 uint8 image by ``factor`` ≥ 1."""
    h, w = image.shape[:2]
    size = (max(1, round(w / factor)), max(1, round(h / factor)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def _png(image: np.ndarray) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def prepare_photos(
    out_file: Path, photos: list[Path | tuple[Path, str]] | None = None, factor: float = 2.0
) -> Path:
    """Write the downscaled training photos to one ``.npz`` cache, each photo as lossless PNG bytes
    (keys ``png0``, ``png1``…): a third of the raw size, small enough to carry to a lent GPU machine.
    ``photos`` are files or (file, source) pairs; by default the Debian photos of PHOTO_SOURCES."""
    if photos is None:
        with tempfile.TemporaryDirectory() as tmp:
            return prepare_photos(out_file, download_photos(Path(tmp)), factor)
    pairs = [item if isinstance(item, tuple) else (item, "user-supplied") for item in photos]
    return write_cache(
        out_file, ((p.name, load_rgb_uint8(p), source) for p, source in pairs), factor
    )


MIN_SIDE = 64  # smaller photos cannot give a training crop


def write_cache(
    out_file: Path,
    photos: Iterable[tuple[str, np.ndarray, str]],
    factor: float = 1.0,
    skipped: list[str] | None = None,
) -> Path:
    """The training cache of (name, image, source) triples, downscaled by ``factor``, written atomically;
    a JSON sidecar lists every photo with its source and licence. Photos that end up smaller than
    64² are left out (and named in ``skipped``)."""
    from tqdm import tqdm

    arrays, records = {}, []
    for name, image, source in tqdm(photos, desc="photos", unit="photo", leave=False):
        small = downscale(image, factor) if factor != 1 else image
        if min(small.shape[:2]) < MIN_SIDE:
            if skipped is not None:
                skipped.append(name)
            continue
        arrays[f"png{len(arrays)}"] = _png(small)
        records.append({"file": name, "source": source, "size": [small.shape[1], small.shape[0]]})
    if not arrays:
        raise VcodecError(
            f"no usable training images (each must be at least {MIN_SIDE}×{MIN_SIDE} after downscaling)"
        )
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = out_file.with_suffix(".tmp.npz")
    np.savez(tmp_file, **arrays)
    tmp_file.replace(out_file)
    out_file.with_suffix(".json").write_text(
        json.dumps({"photos": records, "factor": factor}, indent=1)
    )
    return out_file


def load_photos(path: Path) -> list[np.ndarray]:
    """The H×W×3 uint8 photos of a training cache."""
    try:
        with np.load(path) as data:
            return [
                np.asarray(Image.open(io.BytesIO(data[k].tobytes())).convert("RGB"))
                if k.startswith("png")
                else data[k]
                for k in data.files
            ]
    except (OSError, ValueError, KeyError) as err:
        raise VcodecError(
            f"{path}: not a training-photo cache from `vcodec data prepare` ({err})"
        ) from None


class RandomCrops:
    """Endless random crops (with flips) from a set of images held in memory as uint8.

    With ``scales=(lo, hi)`` each crop first takes a window ``s`` times larger (``s`` log-uniform in
    [lo, hi]) and shrinks it to the crop size: the same photos then show the dense detail of small
    photos (the development images are 300–740 px wide), which a codec trained only at one scale
    never learns to code.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        crop: int,
        seed: int = 0,
        scales: tuple[float, float] = (1.0, 1.0),
    ):
        if not 1.0 <= scales[0] <= scales[1]:
            raise VcodecError(f"crop scales must satisfy 1 ≤ low ≤ high, got {tuple(scales)}")
        usable = [im for im in images if min(im.shape[:2]) >= crop]
        if not usable:
            raise VcodecError(f"no training image is at least {crop}×{crop} pixels")
        self.images, self.crop, self.scales = usable, crop, (float(scales[0]), float(scales[1]))
        self.rng = np.random.default_rng(seed)

    @classmethod
    def from_npz(
        cls, path: Path, crop: int, seed: int = 0, scales: tuple[float, float] = (1.0, 1.0)
    ) -> "RandomCrops":
        """Crops from a cache of :func:`prepare_photos` (PNG-encoded photos, or raw arrays ``img*``)."""
        return cls(load_photos(path), crop, seed, scales)

    def _window(self, image: np.ndarray) -> int:
        """The side of the window to cut (the crop itself unless scales are drawn)."""
        low, high = self.scales
        if high == 1.0:  # draws nothing, so runs without scales keep their crop sequence
            return self.crop
        scale = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        return max(self.crop, min(round(self.crop * scale), *image.shape[:2]))

    def batch(self, size: int) -> torch.Tensor:
        """A B×3×crop×crop float batch in [0, 1]."""
        out = np.empty((size, self.crop, self.crop, 3), dtype=np.uint8)
        for i in range(size):
            image = self.images[self.rng.integers(len(self.images))]
            side = self._window(image)
            y = self.rng.integers(image.shape[0] - side + 1)
            x = self.rng.integers(image.shape[1] - side + 1)
            patch = image[y : y + side, x : x + side]
            if side != self.crop:
                patch = np.asarray(
                    Image.fromarray(patch).resize((self.crop, self.crop), Image.Resampling.LANCZOS)
                )
            if self.rng.random() < 0.5:
                patch = patch[:, ::-1]
            out[i] = patch
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


class SyntheticMotion:
    """Endless clips of consecutive frames cut from still photos, with known motion (synthetic
    pans and zooms): frame pairs for the video codec's temporal prior, longer clips for the
    causal video tokenizer.

    Each clip is one of: a static shot, a pan of up to ``max_shift`` pixels per frame, a slow zoom, or a
    static background with an object (a patch of another photo) moving across it; every frame gets its
    own sensor-like noise and is rounded to 8 bits, as real video is. Pairs pan by up to ``max_shift``
    pixels, longer clips by up to half of that per frame (so a 17-frame clip can travel 64 pixels).
    A ``deform`` share of the clips also turns (up to 2° per frame, 4° in all) and changes brightness
    (up to 6 % per frame): change that block motion does not explain, as in real video, so that a
    prior conditioned on motion vectors does not learn to trust them blindly. A ``change`` share of the
    moving objects also changes what it shows (another patch from some frame on) or enters the shot
    part-way: new content where the background stood still, which no vector predicts.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        crop: int,
        seed: int = 0,
        max_shift: int = 8,
        max_noise: float = 2.5,
        frames: int = 2,
        channels_first: bool = False,
        deform: float = 0.0,
        change: float = 0.0,
    ):
        if frames < 2:
            raise VcodecError(f"a clip needs at least 2 frames, got {frames}")
        steps = frames - 1
        self.max_shift = max_shift if steps == 1 else max(1, max_shift // 2)  # pixels per frame
        self.max_grow = max(1, crop // 16 // steps)  # zoom: pixels per frame
        margin = 2 * steps * max(self.max_shift, self.max_grow)
        usable = [im for im in images if min(im.shape[:2]) >= crop + margin]
        if not usable:
            raise VcodecError(
                f"no training image is at least {crop + margin}×{crop + margin} pixels"
            )
        self.images, self.crop, self.max_noise = usable, crop, max_noise
        self.frames, self.channels_first, self.deform, self.change = (
            frames,
            channels_first,
            deform,
            change,
        )
        self.max_turn = min(2.0, 4.0 / steps)  # degrees per frame
        self.turn_margin = (
            int(np.ceil(crop * 2 * np.sin(np.radians(self.max_turn * steps) / 2))) + 2
        )
        self.turn_side = (
            crop + margin + 2 * self.turn_margin
        )  # the smallest photo a turning clip fits in
        if deform and not any(min(im.shape[:2]) >= self.turn_side for im in usable):
            raise VcodecError(f"no training image is large enough for turning {crop}×{crop} clips")
        self.rng = np.random.default_rng(seed)

    @classmethod
    def from_npz(
        cls,
        path: Path,
        crop: int,
        seed: int = 0,
        frames: int = 2,
        channels_first: bool = False,
        deform: float = 0.0,
        change: float = 0.0,
    ) -> "SyntheticMotion":
        return cls(
            load_photos(path),
            crop,
            seed,
            frames=frames,
            channels_first=channels_first,
            deform=deform,
            change=change,
        )

    def batch(self, size: int) -> torch.Tensor:
        """A B×T×3×crop×crop float batch in [0, 1] (B×3×T×… with ``channels_first``), frames in order."""
        clips = torch.from_numpy(np.stack([self._clip() for _ in range(size)])).permute(
            0, 1, 4, 2, 3
        )
        return (clips.transpose(1, 2) if self.channels_first else clips).float().div_(255.0)

    def _window(
        self, image: np.ndarray, top: int, left: int, side: int, turn: float = 0.0
    ) -> np.ndarray:
        if (
            turn
        ):  # cut a larger window, turn it about its centre, keep the middle (no empty corners)
            m = self.turn_margin
            turned = Image.fromarray(
                image[top - m : top + side + m, left - m : left + side + m]
            ).rotate(turn, resample=Image.BICUBIC)
            patch = np.asarray(turned)[m : m + side, m : m + side]
        else:
            patch = image[top : top + side, left : left + side]
        if side != self.crop:
            patch = np.asarray(Image.fromarray(patch).resize((self.crop, self.crop), Image.BICUBIC))
        return patch.astype(np.float32)

    def _clip(self) -> np.ndarray:
        rng, crop, steps = self.rng, self.crop, self.frames - 1
        image = self.images[rng.integers(len(self.images))]
        kind = rng.choice(4, p=(0.3, 0.35, 0.1, 0.25))
        dy, dx = (
            (int(v) for v in rng.integers(-self.max_shift, self.max_shift + 1, 2))
            if kind == 1
            else (0, 0)
        )
        grow = int(rng.integers(1, self.max_grow + 1)) if kind == 2 else 0
        deforming = self.deform and rng.random() < self.deform  # (no draw at all without deform)
        deforming = deforming and min(image.shape[:2]) >= self.turn_side
        turn = float(rng.uniform(-self.max_turn, self.max_turn)) if deforming else 0.0
        brightness = float(rng.uniform(0.94, 1.06)) if deforming else 1.0
        reach = max(abs(dy), abs(dx), grow) * steps + (
            self.turn_margin if deforming else 0
        )  # the last window's distance
        top = int(rng.integers(reach, image.shape[0] - crop - reach + 1))
        left = int(rng.integers(reach, image.shape[1] - crop - reach + 1))
        clip = np.stack(
            [
                self._window(
                    image,
                    top + t * dy - t * grow // 2,
                    left + t * dx - t * grow // 2,
                    crop + t * grow,
                    t * turn,
                )
                * brightness**t
                for t in range(self.frames)
            ]
        )
        if kind == 3:  # an object moves over a static background
            self._moving_object(clip)
        noise = rng.uniform(0, self.max_noise) * rng.standard_normal(clip.shape).astype(np.float32)
        if rng.random() < 0.5:
            clip = clip[:, :, ::-1]
        return np.clip(np.rint(clip + noise), 0, 255).astype(np.uint8)

    def _moving_object(self, clip: np.ndarray) -> None:
        rng, crop = self.rng, self.crop
        source = self.images[rng.integers(len(self.images))]
        h, w = (int(v) for v in rng.integers(crop // 8, crop // 2, 2))
        patch = self._patch(source, h, w)
        y, x = int(rng.integers(crop - h + 1)), int(rng.integers(crop - w + 1))
        dy, dx = (int(v) for v in rng.integers(-self.max_shift, self.max_shift + 1, 2))
        looks, first = [patch] * len(clip), 0
        if self.change and rng.random() < self.change:  # (no draw at all without change)
            switch = int(rng.integers(1, len(clip)))
            if rng.random() < 0.5:  # the object enters the shot at frame `switch`
                first = switch
            else:  # it shows something else from frame `switch` on (it turns, opens, is replaced)
                looks[switch:] = [self._patch(source, h, w)] * (len(clip) - switch)
        for t in range(first, len(clip)):
            top, left = min(max(y + t * dy, 0), crop - h), min(max(x + t * dx, 0), crop - w)
            clip[t, top : top + h, left : left + w] = looks[t]

    def _patch(self, source: np.ndarray, h: int, w: int) -> np.ndarray:
        sy, sx = (
            int(self.rng.integers(source.shape[0] - h + 1)),
            int(self.rng.integers(source.shape[1] - w + 1)),
        )
        return source[sy : sy + h, sx : sx + w].astype(np.float32)
