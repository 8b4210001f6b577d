"""The vcodec bitstream container: one format for every model.

Layout (fixed-width integers big-endian)::

    magic "VCDC" | version u8 | kind u8 | flags u8 | quality u8
    model-name length u8 | model name (UTF-8) | weights hash (8 bytes)
    width u32 | height u32 | section count u8
    section count × (length varint | bytes)
    CRC32 u32 of everything before it

Lengths are unsigned LEB128 varints (version 2: a section of under 128 bytes spends one byte on its
length, which matters for video, where every frame is a packet of several small sections). Version 1
streams, whose lengths are u32, still read.

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
VERSION = 2  # what this vcodec writes
READABLE_VERSIONS = (1, 2)  # 1: u32 lengths
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
    version: int = VERSION  # of the format: what a parsed stream was written in, or is to be

    def to_bytes(self) -> bytes:
        name = self.model.encode("utf-8")
        if self.version not in READABLE_VERSIONS:
            raise ValueError(f"format version {self.version} is not one vcodec writes")
        if len(name) > 255 or len(self.weights_hash) != 8 or len(self.sections) > MAX_SECTIONS:
            raise ValueError(
                "model name ≤ 255 bytes, an 8-byte hash and ≤ 64 sections are required"
            )
        parts = [
            _FIXED.pack(
                MAGIC, self.version, int(self.kind), _FLAG_GREY if self.grey else 0, self.quality
            ),
            bytes([len(name)]),
            name,
            self.weights_hash,
            _SIZE.pack(self.width, self.height, len(self.sections)),
        ]
        parts += _section_table(self.sections, self.version)
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

    def length(self, version: int, what: str) -> int:
        """A length field: u32 in version 1, a varint after."""
        if version == 1:
            return _U32.unpack(self.take(4, what))[0]
        return _parse_varint(lambda: self.take(1, what)[0], what)

    def sections(self, count: int, version: int) -> list[bytes]:
        """``count`` length-prefixed sections."""
        return [self.take(self.length(version, "section table"), "section") for _ in range(count)]

    def container(self) -> Container:
        if len(self.data) < 4 or self.data[:4] != MAGIC:
            raise BitstreamError(
                "not a vcodec stream (bad magic bytes)" if self.data else "stream is empty"
            )
        magic, version, kind, flags, quality = _FIXED.unpack(self.take(_FIXED.size, "header"))
        if version not in READABLE_VERSIONS:
            raise BitstreamError(
                f"unsupported format version {version} (this vcodec reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))})"
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
        sections = self.sections(count, version)
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
            version,
        )


MAX_VARINT_BYTES = 5  # 35 bits: more than any length or frame number a stream may declare


def _varint(value: int) -> bytes:
    """``value`` (≥ 0) as an unsigned LEB128 varint: 7 bits per byte, low bits first, the top bit set
    on every byte but the last."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _parse_varint(next_byte, what: str) -> int:
    """The varint whose bytes ``next_byte()`` gives one at a time; BitstreamError past 5 bytes."""
    value = 0
    for shift in range(0, 7 * MAX_VARINT_BYTES, 7):
        byte = next_byte()
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
    raise BitstreamError(f"{what} holds an overlong number")


def _length_field(length: int, version: int) -> bytes:
    return _U32.pack(length) if version == 1 else _varint(length)


def _section_table(sections: list[bytes], version: int) -> list[bytes]:
    """Each section as its length field and its bytes."""
    return [part for s in sections for part in (_length_field(len(s), version), s)]


def _check_size(width: int, height: int) -> None:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise BitstreamError(
            f"stream declares an image of {width}×{height} pixels, beyond the limits"
        )


# --- video: a header container, then one packet per frame ---------------------------------------------
#
#     header container (kind VIDEO; one section: fps numerator u32 | fps denominator u32 |
#                       frame count u32 | intra period u16)
#     packet × frame count:  body length varint | body | CRC32 u32 of the body
#     packet body:           frame type u8 | frame index varint | section count u8 |
#                            section count × (length varint | bytes)
#
# (Version 1: body length, frame index and section lengths are u32.) A predicted frame of a still scene
# is a few bytes of payload, so its framing matters: about 17 bytes in version 2, 42 in version 1.
#
# Each packet checks itself and names its frame, so a decoder streams frame by frame, can start at any
# intra packet, knows which frame a damaged stream breaks at, and can find the next whole packet after
# damage (a CRC-checked scan) and tell how many frames it lost.

_VIDEO_INFO = struct.Struct(">IIIH")
_PACKET_HEAD_V1 = struct.Struct(">BIB")
MIN_PACKET_BODY = 3  # frame type, a one-byte index and a section count
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

    def to_bytes(self, version: int = VERSION) -> bytes:
        """The packet as a stream holds it: length, body, CRC32 (``version``: of the stream's format)."""
        if len(self.sections) > MAX_SECTIONS:
            raise ValueError(f"a packet holds at most {MAX_SECTIONS} sections")
        if version == 1:
            head = _PACKET_HEAD_V1.pack(int(self.frame_type), self.index, len(self.sections))
        else:
            head = bytes([int(self.frame_type)]) + _varint(self.index) + bytes([len(self.sections)])
        body = b"".join([head, *_section_table(self.sections, version)])
        return _length_field(len(body), version) + body + _U32.pack(zlib.crc32(body))

    @classmethod
    def from_body(cls, body: bytes, version: int = VERSION) -> "Packet":
        reader = _Reader(body)
        if version == 1:
            frame_type, index, count = _PACKET_HEAD_V1.unpack(
                reader.take(_PACKET_HEAD_V1.size, "packet header")
            )
        else:
            frame_type = reader.take(1, "packet header")[0]
            index = reader.length(version, "packet header")
            count = reader.take(1, "packet header")[0]
        if frame_type not in FrameType._value2member_map_:
            raise BitstreamError(f"unknown frame type {frame_type}")
        if count > MAX_SECTIONS:
            raise BitstreamError(f"packet declares {count} sections (at most {MAX_SECTIONS})")
        sections = reader.sections(count, version)
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
    version = head[4]
    if version not in READABLE_VERSIONS:  # Container.from_bytes says so
        return Container.from_bytes(head)
    parts = [head, _read_exact(stream, head[-1] + 8 + _SIZE.size, "header")]
    count = parts[-1][-1]
    for _ in range(min(count, MAX_SECTIONS)):
        field, length = _read_length(stream, version, "section table")
        if length > MAX_HEADER_BYTES:
            raise BitstreamError("video header section is implausibly long")
        parts += [field, _read_exact(stream, length, "header section")]
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


def read_packet(stream: BinaryIO, max_bytes: int, version: int = VERSION) -> Packet | None:
    """The next packet of a video stream (in format ``version``), or None at the clean end of the
    stream."""
    first = stream.read(1)
    if not first:
        return None
    stream.seek(-1, 1)
    size = _read_length(stream, version, "packet length")[1]
    if size > max_bytes:
        raise BitstreamError(
            f"packet declares {size:,} bytes, more than a frame of this size can need"
        )
    body = _read_exact(stream, size, "packet")
    if zlib.crc32(body) != _U32.unpack(_read_exact(stream, 4, "packet CRC"))[0]:
        raise BitstreamError("packet is corrupt (CRC32 mismatch)")
    return Packet.from_body(body, version)


def _read_length(stream: BinaryIO, version: int, what: str) -> tuple[bytes, int]:
    """A length field read from ``stream``: its bytes and its value."""
    if version == 1:
        field = _read_exact(stream, 4, what)
        return field, _U32.unpack(field)[0]
    field = bytearray()

    def next_byte() -> int:
        field.extend(_read_exact(stream, 1, what))
        return field[-1]

    value = _parse_varint(next_byte, what)
    return bytes(field), value


def find_packet(
    stream: BinaryIO, max_bytes: int, window: int = 1 << 22, version: int = VERSION
) -> Packet | None:
    """The next whole packet at or after the stream's position, skipping damaged bytes: every offset is
    tried until a plausible length is followed by a body whose CRC32 matches. None when there is none
    within ``window`` bytes."""
    start = stream.tell()
    data = stream.read(window + max_bytes + 2 * MAX_VARINT_BYTES + 4)
    for offset in range(min(len(data), window)):
        reader = _Reader(data[offset : offset + MAX_VARINT_BYTES])
        try:
            size = reader.length(version, "packet length")
        except BitstreamError:
            continue
        begin = offset + reader.pos
        end = begin + size
        if not MIN_PACKET_BODY <= size <= max_bytes or end + 4 > len(data):
            continue
        body = data[begin:end]
        if zlib.crc32(body) == int.from_bytes(data[end : end + 4], "big"):
            try:
                packet = Packet.from_body(body, version)
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
            packet = read_packet(stream, limit, header.version)
            if packet is None:
                raise BitstreamError(f"stream ends after {index} of {info.frame_count} frames")
            if packet.index != index:
                raise BitstreamError(f"packet of frame {packet.index} where frame {index} belongs")
        except BitstreamError as err:
            message = str(err) if str(err).startswith("stream ends") else f"frame {index}: {err}"
            if not keep_going:
                raise BitstreamError(message) from None
            stream.seek(position + 1)
            packet = _next_packet(stream, limit, index, info.frame_count, position, header.version)
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
    stream: BinaryIO, limit: int, after: int, count: int, damaged_from: int, version: int
) -> Packet | None:
    """The next whole packet of a later frame than ``after`` (None when the stream has none) whose frame
    number is plausible: at least one damaged byte per lost frame, so a stray packet cannot make the
    decoder emit millions of stand-in frames from a few bytes."""
    while (packet := find_packet(stream, limit, version=version)) is not None:
        start = stream.tell() - len(packet.to_bytes(version))
        if after < packet.index < count and packet.index - after <= start - damaged_from:
            return packet
    return None
