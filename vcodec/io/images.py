"""Images in and out through Pillow, as float tensors in [0, 1], with atomic writes."""

from __future__ import annotations

import contextlib
import io
import os
import struct
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vcodec.errors import VcodecError

if TYPE_CHECKING:
    import torch

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".ppm", ".pgm"}
)
MAX_PIXELS = (
    40_000_000  # refuse larger images instead of exhausting memory (codecs share the limit)
)
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".ppm": "PPM",
    ".pgm": "PPM",
}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}  # Pillow modes coded as greyscale
LOSSY_QUALITY = {
    "JPEG": 95,
    "WEBP": 95,
}  # formats that compress the decoded image again, at this quality


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise VcodecError(f"{path}: no such file")
    if path.is_dir():
        raise VcodecError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise VcodecError(f"{path}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
            image = Image.open(path)
            if image.width * image.height > MAX_PIXELS:
                raise Image.DecompressionBombError
            image.load()
            return ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise VcodecError(f"{path}: image larger than the {MAX_PIXELS:,}-pixel limit") from None
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        TypeError,
        struct.error,
    ) as err:
        detail = (
            str(err).replace(f" {str(path)!r}", "").replace(str(path), "the file")
        )  # Pillow may name it again
        raise VcodecError(f"{path}: not a readable image ({detail})") from None


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB for every mode: greyscale is replicated, alpha is composited on white, 16-bit is scaled."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        sixteen_bit = (
            image.mode.startswith("I;16") or image.format == "PNG"
        )  # PNG has no 32-bit integers
        peak = 65535.0 if sixteen_bit or array.max() > 255 else 255.0
        image = Image.fromarray(
            np.clip(np.round(array / peak * 255.0), 0, 255).astype(np.uint8), "L"
        )
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_rgb_uint8(path: str | os.PathLike) -> np.ndarray:
    """An image file as an H×W×3 uint8 array (any Pillow mode converted to RGB)."""
    return np.asarray(_to_rgb(_open(Path(path))))


def load_image(path: str | os.PathLike) -> tuple[torch.Tensor, str]:
    """An image file as a 1×3×H×W float tensor in [0, 1], plus its original mode ("RGB", "L", "RGBA"…)."""
    image = _open(Path(path))
    array = np.asarray(_to_rgb(image))
    return _to_tensor(array), image.mode


FITS = ("crop", "resize", "refuse")


def load_square(path: str | os.PathLike, size: int, fit: str = "crop") -> torch.Tensor:
    """An image as a 1×3×size×size float tensor for a fixed-size model.

    ``fit``: "crop" scales the shorter side to ``size`` and keeps the centre; "resize" scales both sides
    (changing the aspect ratio); "refuse" accepts only images that already are size×size.
    """
    image = _to_rgb(_open(Path(path)))
    if image.size != (size, size):
        if fit == "refuse":
            raise VcodecError(
                f"{path}: {image.width}×{image.height}, but this model takes {size}×{size} "
                f"(use --fit crop or --fit resize)"
            )
        if fit == "crop":
            image = ImageOps.fit(image, (size, size), method=Image.Resampling.BICUBIC)
        else:
            image = image.resize((size, size), Image.Resampling.BICUBIC)
    return _to_tensor(np.asarray(image))


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 → 1×3×H×W float in [0, 1] (torch is imported here, not with the module: start-up)."""
    import torch

    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).float().div(255.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """A C×H×W (or 1×C×H×W) float tensor in [0, 1] as a rounded uint8 array: H×W×3, or H×W if C = 1."""
    if x.dim() == 4:
        x = x[0]
    array = x.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """A temporary file beside ``path`` (same suffix, so writers can tell the format) that replaces
    ``path`` when the block succeeds and is removed when it fails or is interrupted."""
    path = Path(path)
    if path.is_dir():
        raise VcodecError(f"{path}: is a folder")
    if path.exists() and not force:
        raise VcodecError(f"{path}: exists (use --force to overwrite)")
    if not path.parent.is_dir():
        raise VcodecError(f"{path.parent}: output folder does not exist")
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent
        )
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.close(fd)
    except OSError as err:
        raise VcodecError(f"{path.parent}: cannot write there ({err.strerror})") from None
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise VcodecError(f"{path}: cannot write ({err.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes, force: bool = False) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it, so no partial file remains."""
    with atomic_path(path, force) as tmp:
        tmp.write_bytes(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_image(x: torch.Tensor, path: str | os.PathLike, force: bool = False) -> None:
    """Save a 1- or 3-channel image tensor, atomically, as the suffix says (PNG, JPEG, WebP, TIFF…)."""
    path = Path(path)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise VcodecError(
            f"{path}: cannot write '{path.suffix}' images (use {', '.join(sorted(OUTPUT_FORMATS))})"
        )
    buffer = io.BytesIO()
    options = {"quality": LOSSY_QUALITY[fmt]} if fmt in LOSSY_QUALITY else {}
    Image.fromarray(to_uint8(x)).save(buffer, format=fmt, **options)
    write_atomic(path, buffer.getvalue(), force=force)
