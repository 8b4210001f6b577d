"""Classical image codecs through Pillow (JPEG, WebP, AVIF): real encoded bytes, decoded pixels."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, features

PILLOW_FORMATS = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}


def available(codec: str) -> bool:
    return codec == "jpeg" or features.check(codec)


def pillow_round_trip(image: np.ndarray, codec: str, quality: int) -> tuple[int, np.ndarray]:
    """(bytes, decoded H×W×3 uint8) of one image through a Pillow codec at ``quality`` (0–100)."""
    buffer = io.BytesIO()
    options = {"quality": quality}
    if codec == "jpeg":
        options["subsampling"] = "4:2:0"
    elif codec == "webp":
        options["method"] = 6
    Image.fromarray(image).save(buffer, format=PILLOW_FORMATS[codec], **options)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return buffer.tell(), decoded
