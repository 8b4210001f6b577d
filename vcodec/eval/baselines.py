"""Classical codecs on the RD plane: JPEG, WebP, AVIF (Pillow), HEVC and AV1 intra (x265, SVT-AV1) for
images; x264, x265 and SVT-AV1 for video. Bits are always the real encoded size.

Each baseline is a small picklable object, so the evaluator can run it in worker processes.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from PIL import Image, features

from vcodec.defaults import DEFAULT_GOP
from vcodec.eval.ffmpeg import decode_packets, encode_frames, encoder_available


@dataclass(frozen=True)
class Coded:
    """One picture or clip through a codec: its bytes, what decodes from them, and how long each took."""

    num_bytes: int
    decoded: np.ndarray
    encode_seconds: float
    decode_seconds: float
    payload_bytes: int | None = (
        None  # entropy-coded bytes without headers, where a codec has the notion
    )


@dataclass(frozen=True)
class PillowCodec:
    """JPEG (4:2:0), WebP (method 6) or AVIF through Pillow over its 0–100 quality scale."""

    name: str
    points: tuple[int, ...]
    parameter: str = "quality"
    parallel: bool = True
    min_side: int = 1

    FORMATS = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}

    @property
    def description(self) -> str:
        return {
            "jpeg": "JPEG (Pillow/libjpeg, 4:2:0)",
            "webp": "WebP (Pillow/libwebp, method 6)",
            "avif": "AVIF (Pillow/libavif, 4:2:0)",
        }[self.name]

    def missing(self) -> str | None:
        """Why this codec cannot run here, or None."""
        if self.name != "jpeg" and not features.check(self.name):
            return f"this Pillow build has no {self.name.upper()} support"
        return None

    def code(self, image: np.ndarray, point: int) -> Coded:
        options = {"quality": point}
        if self.name == "jpeg":
            options["subsampling"] = "4:2:0"
        elif self.name == "webp":
            options["method"] = 6
        start = time.perf_counter()
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format=self.FORMATS[self.name], **options)
        middle = time.perf_counter()
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        return Coded(buffer.tell(), decoded, middle - start, time.perf_counter() - middle)


@dataclass(frozen=True)
class FFmpegSpec:
    """How one FFmpeg encoder is driven: its decoder, chroma format and rate-control options per point."""

    encoder: str
    decoder: str
    chroma: str
    label: str
    min_side: int  # smaller pictures make the encoder refuse to open

    def options(self, point: int, gop: int | None) -> dict[str, str]:
        low_delay = "" if gop is None else f":bframes=0:keyint={gop}:min-keyint={gop}:scenecut=0"
        if self.encoder == "libx265":
            rate = f"qp={point}" if gop is None else f"crf={point}"
            return {"preset": "medium", "x265-params": f"{rate}{low_delay}:info=0:log-level=error"}
        if self.encoder == "libx264":
            return {"preset": "medium", "crf": str(point), "x264-params": low_delay.lstrip(":")}
        if self.encoder == "libsvtav1":
            if gop is None:
                return {"preset": "8", "qp": str(point), "svtav1-params": "rc=0"}
            return {
                "preset": "8",
                "crf": str(point),
                "svtav1-params": f"pred-struct=1:keyint={gop}:scd=0",
            }
        raise ValueError(f"no settings for encoder {self.encoder}")


FFMPEG = {
    "x264": FFmpegSpec("libx264", "h264", "444", "H.264 (x264 medium, 4:4:4)", 16),
    "x265": FFmpegSpec("libx265", "hevc", "444", "HEVC (x265 medium, 4:4:4)", 16),
    "av1": FFmpegSpec(
        "libsvtav1", "libdav1d", "420", "AV1 (SVT-AV1 preset 8, 4:2:0: SVT-AV1 codes no 4:4:4)", 4
    ),
}


def _missing_encoder(name: str) -> str | None:
    encoder = FFMPEG[name].encoder
    return None if encoder_available(encoder) else f"this FFmpeg build has no {encoder} encoder"


@dataclass(frozen=True)
class FFmpegImageCodec:
    """HEVC or AV1 intra: one picture as a one-frame stream, swept over QP."""

    name: str
    points: tuple[int, ...]
    parameter: str = "qp"
    parallel: bool = True

    @property
    def description(self) -> str:
        return FFMPEG[self.name].label.replace("(", "intra (", 1)

    @property
    def min_side(self) -> int:
        return FFMPEG[self.name].min_side

    def missing(self) -> str | None:
        return _missing_encoder(self.name)

    def code(self, image: np.ndarray, point: int) -> Coded:
        spec = FFMPEG[self.name]
        start = time.perf_counter()
        packets = encode_frames(
            spec.encoder, [image], spec.chroma, Fraction(25), spec.options(point, None)
        )
        middle = time.perf_counter()
        (decoded,) = decode_packets(spec.decoder, packets, spec.chroma, *image.shape[:2])
        return Coded(sum(map(len, packets)), decoded, middle - start, time.perf_counter() - middle)


@dataclass(frozen=True)
class FFmpegVideoCodec:
    """x264, x265 or SVT-AV1 over a clip: low delay (no B-frames), fixed intra period, swept over CRF."""

    name: str
    points: tuple[int, ...]
    gop: int = DEFAULT_GOP
    parameter: str = "crf"
    parallel: bool = True

    @property
    def description(self) -> str:
        return f"{FFMPEG[self.name].label}, low delay, intra period {self.gop}"

    def missing(self) -> str | None:
        return _missing_encoder(self.name)

    def code(self, frames: np.ndarray, fps: Fraction, point: int) -> Coded:
        spec = FFMPEG[self.name]
        start = time.perf_counter()
        packets = encode_frames(
            spec.encoder, list(frames), spec.chroma, fps, spec.options(point, self.gop), self.gop
        )
        middle = time.perf_counter()
        decoded = decode_packets(spec.decoder, packets, spec.chroma, *frames.shape[1:3])
        return Coded(
            sum(map(len, packets)), np.stack(decoded), middle - start, time.perf_counter() - middle
        )


IMAGE_BASELINES = {
    "jpeg": PillowCodec("jpeg", tuple(range(5, 100, 5))),
    "webp": PillowCodec("webp", tuple(range(0, 101, 5))),
    "avif": PillowCodec("avif", tuple(range(10, 100, 8))),
    "x265": FFmpegImageCodec("x265", tuple(range(12, 52, 5))),
    "av1": FFmpegImageCodec("av1", tuple(range(18, 64, 5))),
}
VIDEO_BASELINES = {
    "x264": FFmpegVideoCodec("x264", (18, 23, 28, 33, 38, 43)),
    "x265": FFmpegVideoCodec("x265", (18, 23, 28, 33, 38, 43)),
    "av1": FFmpegVideoCodec("av1", (23, 31, 39, 47, 55, 63)),
}
