"""Classical video encoders (x264, x265, SVT-AV1) through PyAV: RGB frames in, real packets and decoded
RGB frames out.

Colour conversion is ours (BT.709 full range, :mod:`vcodec.io.colour`), so every encoder sees the same
Y'CbCr planes and the decoded planes come back through the same inverse. Packet bytes are the codec's
elementary stream with its in-band headers, not a file container around it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from vcodec.errors import VcodecError
from vcodec.io.colour import rgb_to_ycbcr, subsample_chroma, upsample_chroma, ycbcr_to_rgb

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration at info level

PIXEL_FORMATS = {"444": "yuv444p", "420": "yuv420p"}


def encoder_available(name: str) -> bool:
    """Whether this FFmpeg build (the one inside PyAV) has the encoder ``name``."""
    import av

    try:
        av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        return False
    return True


def _pad_even(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _planes(rgb: np.ndarray, chroma: str) -> list[np.ndarray]:
    """H×W×3 RGB → the Y', Cb, Cr planes the encoder takes (chroma halved both ways for 4:2:0)."""
    planes = rgb_to_ycbcr(rgb)
    return list(planes) if chroma == "444" else list(subsample_chroma(planes))


def _frame(planes: list[np.ndarray], pix_fmt: str):
    """A PyAV frame holding ``planes``, copied row by row into its (possibly padded) lines."""
    import av

    frame = av.VideoFrame(planes[0].shape[1], planes[0].shape[0], pix_fmt)
    for plane, data in zip(frame.planes, planes):
        lines = np.zeros((plane.height, plane.line_size), dtype=np.uint8)
        lines[:, : plane.width] = data
        plane.update(lines.tobytes())
    return frame


def _rgb(frame, chroma: str, height: int, width: int) -> np.ndarray:
    """A decoded PyAV frame → H×W×3 RGB through our inverse colour conversion."""
    planes = [
        np.frombuffer(p, dtype=np.uint8).reshape(p.height, p.line_size)[:, : p.width]
        for p in frame.planes
    ]
    ycbcr = np.stack(planes) if chroma == "444" else upsample_chroma(*planes)
    return ycbcr_to_rgb(ycbcr)[:height, :width]


def encode_frames(
    encoder: str,
    frames: Sequence[np.ndarray],
    chroma: str,
    fps: Fraction,
    options: dict[str, str],
    gop: int | None = None,
) -> list[bytes]:
    """Encode RGB frames (H×W×3 uint8 each) and return the encoder's packets, in decode order."""
    import av

    rgb_frames = [_pad_even(f) for f in frames]  # x265 and SVT-AV1 refuse odd sides
    height, width = rgb_frames[0].shape[:2]
    context = av.CodecContext.create(encoder, "w")
    context.width, context.height, context.pix_fmt = width, height, PIXEL_FORMATS[chroma]
    context.time_base = Fraction(1) / Fraction(fps)
    context.framerate = Fraction(fps)
    if gop is not None:
        context.gop_size = gop
    context.options = options
    packets = []
    try:
        for index, rgb in enumerate(rgb_frames):
            frame = _frame(_planes(rgb, chroma), PIXEL_FORMATS[chroma])
            frame.pts = index
            packets += [bytes(p) for p in context.encode(frame)]
        packets += [bytes(p) for p in context.encode(None)]
    except av.error.FFmpegError as err:
        raise VcodecError(f"{encoder} failed on a {width}×{height} picture ({err})") from None
    return packets


def decode_packets(
    decoder: str, packets: Sequence[bytes], chroma: str, height: int, width: int
) -> list[np.ndarray]:
    """Decode packets from :func:`encode_frames` back to H×W×3 uint8 RGB frames."""
    import av

    context = av.CodecContext.create(decoder, "r")
    arrays = []
    try:
        for data in [*packets, None]:
            for frame in context.decode(None if data is None else av.Packet(data)):
                arrays.append(_rgb(frame, chroma, height, width))
    except av.error.FFmpegError as err:
        raise VcodecError(f"{decoder} could not decode its own encoder's packets ({err})") from None
    return arrays
