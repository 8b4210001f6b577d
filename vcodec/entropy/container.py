"""The vcodec bitstream container: one format for every model.

Layout (all integers big-endian)::

    magic "VCDC" | version u8 | kind u8 | flags u8 | quality u8
    model-name length u8 | model name (UTF-8) | weights hash (8 bytes)
    width u32 | height u32 | section count u8
    section count × (length u32 | bytes)
    CRC32 u32 of everything before it

Parsing checks every length against what is left before reading it and caps the declared image
size, so any byte string either parses or raises :class:`BitstreamError` without large allocations.
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO

from vcodec.errors import BitstreamError

MAGIC = b"VCDC"
VERSION = 1
MAX_SIDE = 1 << 15
MAX_PIXELS = 1 << 28
MAX_SECTIONS = 64
_FIXED = struct.Struct(">4sBBBB")
_SIZE = struct.Struct(">IIB")
_U32 = struct.Struct(">I")
_FLAG_GREY = 1


class Kind(enum.IntEnum):
    IMAGE = 1
    VIDEO = 2
    TOKENS = 3


@dataclass
class Container:
    """A parsed (or to-be-written) stream: header fields plus opaque entropy-coded sections."""

    kind: Kind
    model: str
    weights_hash: bytes
    width: int
    height: int
    quality: int = 0
    grey: bool = False
    sections: list[bytes] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        name = self.model.encode("utf-8")
        if len(name) > 255 or len(self.weights_hash) != 8 or len(self.sections) > MAX_SECTIONS:
            raise ValueError(
                "model name ≤ 255 bytes, an 8-byte hash and ≤ 64 sections are required"
            )
        parts = [
            _FIXED.pack(
                MAGIC, VERSION, int(self.kind), _FLAG_GREY if self.grey else 0, self.quality
            ),
            bytes([len(name)]),
            name,
            self.weights_hash,
            _SIZE.pack(self.width, self.height, len(self.sections)),
        ]
        parts += _section_table(self.sections)
        body = b"".join(parts)
        return body + _U32.pack(zlib.crc32(body))

    @property
    def payload_bytes(self) -> int:
        return sum(len(s) for s in self.sections)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Container":
        return _Reader(bytes(data)).container()


class _Reader:
    """Reads a container front to back; every read is bounds-checked."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, count: int, what: str) -> bytes:
        if self.pos + count > len(self.data):
            raise BitstreamError(f"stream is truncated (ends inside the {what})")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def sections(self, count: int) -> list[bytes]:
        """``count`` length-prefixed sections."""
        return [
            self.take(_U32.unpack(self.take(4, "section table"))[0], "section")
            for _ in range(count)
        ]

    def container(self) -> Container:
        if len(self.data) < 4 or self.data[:4] != MAGIC:
            raise BitstreamError(
                "not a vcodec stream (bad magic bytes)" if self.data else "stream is empty"
            )
        magic, version, kind, flags, quality = _FIXED.unpack(self.take(_FIXED.size, "header"))
        if version != VERSION:
            raise BitstreamError(
                f"unsupported format version {version} (this vcodec reads version {VERSION})"
            )
        body_end = len(self.data) - _U32.size
        if (
            body_end < self.pos
            or zlib.crc32(self.data[:body_end]) != _U32.unpack(self.data[body_end:])[0]
        ):
            raise BitstreamError("stream is corrupt or truncated (CRC32 mismatch)")
        self.data = self.data[:body_end]
        if kind not in Kind._value2member_map_:
            raise BitstreamError(f"unknown stream kind {kind}")
        if flags & ~_FLAG_GREY:
            raise BitstreamError(f"unknown header flags {flags:#04x}")
        name = self.take(self.take(1, "header")[0], "model name")
        try:
            model = name.decode("utf-8")
        except UnicodeDecodeError:
            raise BitstreamError("model name is not valid UTF-8") from None
        weights_hash = self.take(8, "model hash")
        width, height, count = _SIZE.unpack(self.take(_SIZE.size, "header"))
        _check_size(width, height)
        if count > MAX_SECTIONS:
            raise BitstreamError(f"stream declares {count} sections (at most {MAX_SECTIONS})")
        sections = self.sections(count)
        if self.pos != len(self.data):
            raise BitstreamError(
                f"{len(self.data) - self.pos} unexpected bytes after the last section"
            )
        return Container(
            Kind(kind),
            model,
            weights_hash,
            width,
            height,
            quality,
            bool(flags & _FLAG_GREY),
            sections,
        )


def _section_table(sections: list[bytes]) -> list[bytes]:
    """Each section as its u32 length and its bytes."""
    return [part for section in sections for part in (_U32.pack(len(section)), section)]


def _check_size(width: int, height: int) -> None:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise BitstreamError(
            f"stream declares an image of {width}×{height} pixels, beyond the limits"
        )


# --- video: a header container, then one packet per frame ---------------------------------------------
#
#     header container (kind VIDEO; one section: fps numerator u32 | fps denominator u32 |
#                       frame count u32 | intra period u16)
#     packet × frame count:  body length u32 | body | CRC32 u32 of the body
#     packet body:           frame type u8 | frame index u32 | section count u8 |
#                            section count × (length u32 | bytes)
#
# Each packet checks itself and names its frame, so a decoder streams frame by frame, can start at any
# intra packet, knows which frame a damaged stream breaks at, and can find the next whole packet after
# damage (a CRC-checked scan) and tell how many frames it lost.

_VIDEO_INFO = struct.Struct(">IIIH")
_PACKET_HEAD = struct.Struct(">BIB")
MAX_HEADER_BYTES = 1 << 12  # a video's header container is a few dozen bytes
MAX_FRAMES = 1 << 24


class FrameType(enum.IntEnum):
    INTRA = 1
    PREDICTED = 2


@dataclass
class VideoInfo:
    """What a video stream's header section says beyond the container's own fields."""

    fps_num: int
    fps_den: int
    frame_count: int
    intra_period: int

    def to_bytes(self) -> bytes:
        return _VIDEO_INFO.pack(self.fps_num, self.fps_den, self.frame_count, self.intra_period)

    @classmethod
    def from_container(cls, container: Container) -> "VideoInfo":
        if container.kind != Kind.VIDEO:
            raise BitstreamError(f"stream holds {container.kind.name.lower()} data, not a video")
        if len(container.sections) != 1 or len(container.sections[0]) != _VIDEO_INFO.size:
            raise BitstreamError("video header is malformed")
        info = cls(*_VIDEO_INFO.unpack(container.sections[0]))
        if (
            info.fps_num == 0
            or info.fps_den == 0
            or info.intra_period == 0
            or info.frame_count > MAX_FRAMES
        ):
            raise BitstreamError(
                "video header declares an impossible rate, intra period or frame count"
            )
        return info


@dataclass
class Packet:
    """One coded frame: its type and its entropy-coded sections."""

    frame_type: FrameType
    index: int
    sections: list[bytes]

    def to_bytes(self) -> bytes:
        if len(self.sections) > MAX_SECTIONS:
            raise ValueError(f"a packet holds at most {MAX_SECTIONS} sections")
        parts = [_PACKET_HEAD.pack(int(self.frame_type), self.index, len(self.sections))]
        parts += _section_table(self.sections)
        body = b"".join(parts)
        return _U32.pack(len(body)) + body + _U32.pack(zlib.crc32(body))

    @classmethod
    def from_body(cls, body: bytes) -> "Packet":
        reader = _Reader(body)
        frame_type, index, count = _PACKET_HEAD.unpack(
            reader.take(_PACKET_HEAD.size, "packet header")
        )
        if frame_type not in FrameType._value2member_map_:
            raise BitstreamError(f"unknown frame type {frame_type}")
        if count > MAX_SECTIONS:
            raise BitstreamError(f"packet declares {count} sections (at most {MAX_SECTIONS})")
        sections = reader.sections(count)
        if reader.pos != len(body):
            raise BitstreamError(
                f"{len(body) - reader.pos} unexpected bytes after a packet's last section"
            )
        return cls(FrameType(frame_type), index, sections)


def read_header(stream: BinaryIO) -> Container:
    """The header container at the start of a video stream (read without reading further)."""
    head = _read_exact(stream, _FIXED.size + 1, "header")
    if head[:4] != MAGIC:
        raise BitstreamError("not a vcodec stream (bad magic bytes)")
    parts = [head, _read_exact(stream, head[-1] + 8 + _SIZE.size, "header")]
    count = parts[-1][-1]
    for _ in range(min(count, MAX_SECTIONS)):
        length = _read_exact(stream, 4, "section table")
        if _U32.unpack(length)[0] > MAX_HEADER_BYTES:
            raise BitstreamError("video header section is implausibly long")
        parts += [length, _read_exact(stream, _U32.unpack(length)[0], "header section")]
    parts.append(_read_exact(stream, 4, "header CRC"))
    return Container.from_bytes(b"".join(parts))


def video_header(
    model: str,
    weights_hash: bytes,
    width: int,
    height: int,
    fps: Fraction,
    quality: int,
    intra_period: int,
    frame_count: int,
) -> bytes:
    """The header container of a video stream: the model, the frame size and the stream's quality, and
    a section with the frame rate, frame count and intra period. Its size does not depend on the
    frame count, so a writer can rewrite it with the final count once the packets are out."""
    fps = Fraction(fps).limit_denominator(1 << 16)
    info = VideoInfo(fps.numerator, fps.denominator, frame_count, intra_period)
    return Container(
        kind=Kind.VIDEO,
        model=model,
        weights_hash=weights_hash,
        width=width,
        height=height,
        quality=quality,
        sections=[info.to_bytes()],
    ).to_bytes()


def check_model(header: Container, model: str, weights_hash: bytes) -> None:
    """BitstreamError unless a stream's header names exactly this model and these weights."""
    if header.model != model or header.weights_hash != weights_hash:
        raise BitstreamError(
            f"stream was made by model '{header.model}' ({header.weights_hash.hex()}), "
            f"not by '{model}' ({weights_hash.hex()})"
        )


def read_video_header(stream: BinaryIO) -> tuple[Container, VideoInfo]:
    """The header container at the start of a video stream and what its video section says."""
    header = read_header(stream)
    return header, VideoInfo.from_container(header)


def read_packet(stream: BinaryIO, max_bytes: int) -> Packet | None:
    """The next packet of a video stream, or None at the clean end of the stream."""
    length = stream.read(4)
    if not length:
        return None
    if len(length) < 4:
        raise BitstreamError("stream is truncated (ends inside a packet length)")
    size = _U32.unpack(length)[0]
    if size > max_bytes:
        raise BitstreamError(
            f"packet declares {size:,} bytes, more than a frame of this size can need"
        )
    body = _read_exact(stream, size, "packet")
    if zlib.crc32(body) != _U32.unpack(_read_exact(stream, 4, "packet CRC"))[0]:
        raise BitstreamError("packet is corrupt (CRC32 mismatch)")
    return Packet.from_body(body)


def find_packet(stream: BinaryIO, max_bytes: int, window: int = 1 << 22) -> Packet | None:
    """The next whole packet at or after the stream's position, skipping damaged bytes: every offset is
    tried until a plausible length is followed by a body whose CRC32 matches. None when there is none
    within ``window`` bytes."""
    start = stream.tell()
    data = stream.read(window + max_bytes + 8)
    for offset in range(min(len(data), window)):
        size = int.from_bytes(data[offset : offset + 4], "big")
        end = offset + 4 + size
        if not _PACKET_HEAD.size <= size <= max_bytes or end + 4 > len(data):
            continue
        body = data[offset + 4 : end]
        if zlib.crc32(body) == int.from_bytes(data[end : end + 4], "big"):
            try:
                packet = Packet.from_body(body)
            except BitstreamError:
                continue
            stream.seek(start + end + 4)
            return packet
    return None


def _read_exact(stream: BinaryIO, count: int, what: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise BitstreamError(f"stream is truncated (ends inside the {what})")
    return data


def read_packets(
    stream: BinaryIO,
    header: Container,
    info: VideoInfo,
    keep_going: bool = False,
    problems: list[str] | None = None,
) -> Iterator[Packet | None]:
    """The packets after a video header, in frame order, each checked. A damaged or missing one raises
    BitstreamError naming its frame; with ``keep_going`` it yields None for every frame it cannot read,
    finds the next whole packet, and notes what happened in ``problems``."""
    limit = (
        1024 + 16 * header.width * header.height
    )  # far above what any frame of this size codes to
    index = 0
    while index < info.frame_count:
        position = stream.tell()
        try:
            packet = read_packet(stream, limit)
            if packet is None:
                raise BitstreamError(f"stream ends after {index} of {info.frame_count} frames")
            if packet.index != index:
                raise BitstreamError(f"packet of frame {packet.index} where frame {index} belongs")
        except BitstreamError as err:
            message = str(err) if str(err).startswith("stream ends") else f"frame {index}: {err}"
            if not keep_going:
                raise BitstreamError(message) from None
            stream.seek(position + 1)
            packet = _next_packet(stream, limit, index, info.frame_count, position)
            if (
                packet is None
            ):  # no more frames lost than bytes left: damage, not a fabricated frame count
                found = min(info.frame_count, index + max(1, stream.seek(0, 2) - position))
            else:
                found = packet.index
            if problems is not None:
                lost = f"frame {index}" if found == index + 1 else f"frames {index}–{found - 1}"
                problems.append(f"{message} ({lost} lost)")
            yield from [None] * (found - index)
            index = found
            if packet is None:
                return
        yield packet
        index += 1
    if not keep_going and stream.read(1):
        raise BitstreamError(f"unexpected bytes after the last of {info.frame_count} frames")


def _next_packet(
    stream: BinaryIO, limit: int, after: int, count: int, damaged_from: int
) -> Packet | None:
    """The next whole packet of a later frame than ``after`` (None when the stream has none) whose frame
    number is plausible: at least one damaged byte per lost frame, so a stray packet cannot make the
    decoder emit millions of stand-in frames from a few bytes."""
    while (packet := find_packet(stream, limit)) is not None:
        start = stream.tell() - len(packet.to_bytes())
        if after < packet.index < count and packet.index - after <= start - damaged_from:
            return packet
    return None
