"""Images in and out through Pillow, as float tensors in [0, 1], with atomic writes."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from vcodec.errors import VcodecError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".ppm", ".pgm"})
MAX_PIXELS = 40_000_000  # refuse larger images instead of exhausting memory (codecs share the limit)

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise VcodecError(f"{path}: no such file")
    if path.is_dir():
        raise VcodecError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise VcodecError(f"{path}: empty file (0 bytes)")
    try:
        image = Image.open(path)
        if image.width * image.height > MAX_PIXELS:
            raise Image.DecompressionBombError
        image.load()
    except Image.DecompressionBombError:
        raise VcodecError(f"{path}: image larger than the {MAX_PIXELS:,}-pixel limit") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise VcodecError(f"{path}: not a readable image ({err})") from None
    return ImageOps.exif_transpose(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB for every mode: greyscale is replicated, alpha is composited on white, 16-bit is scaled."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(np.round(array / peak * 255.0), 0, 255).astype(np.uint8), "L")
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
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).float().div(255.0), image.mode


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """A 3×H×W (or 1×3×H×W) float tensor in [0, 1] as an H×W×3 uint8 array, rounded."""
    if x.dim() == 4:
        x = x[0]
    return x.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def write_atomic(path: str | os.PathLike, data: bytes, force: bool = False) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it, so no partial file remains."""
    path = Path(path)
    if path.exists() and not force:
        raise VcodecError(f"{path}: exists (use --force to overwrite)")
    if not path.parent.is_dir():
        raise VcodecError(f"{path.parent}: output folder does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as err:
        raise VcodecError(f"{path.parent}: cannot write there ({err.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_image(x: torch.Tensor, path: str | os.PathLike, force: bool = False, grey: bool = False) -> None:
    """Save an image tensor as PNG (or the format the suffix names), atomically."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    image = Image.fromarray(to_uint8(x))
    if grey:
        image = image.convert("L")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    write_atomic(path, buffer.getvalue(), force=force)
