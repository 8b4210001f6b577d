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
from dataclasses import dataclass, field

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
            raise ValueError("model name ≤ 255 bytes, an 8-byte hash and ≤ 64 sections are required")
        parts = [
            _FIXED.pack(MAGIC, VERSION, int(self.kind), _FLAG_GREY if self.grey else 0, self.quality),
            bytes([len(name)]), name, self.weights_hash,
            _SIZE.pack(self.width, self.height, len(self.sections)),
        ]
        for section in self.sections:
            parts += [_U32.pack(len(section)), section]
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

    def container(self) -> Container:
        if len(self.data) < 4 or self.data[:4] != MAGIC:
            raise BitstreamError("not a vcodec stream (bad magic bytes)" if self.data else "stream is empty")
        magic, version, kind, flags, quality = _FIXED.unpack(self.take(_FIXED.size, "header"))
        if version != VERSION:
            raise BitstreamError(f"unsupported format version {version} (this vcodec reads version {VERSION})")
        body_end = len(self.data) - _U32.size
        if body_end < self.pos or zlib.crc32(self.data[:body_end]) != _U32.unpack(self.data[body_end:])[0]:
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
        sections = [self.take(_U32.unpack(self.take(4, "section table"))[0], "section") for _ in range(count)]
        if self.pos != len(self.data):
            raise BitstreamError(f"{len(self.data) - self.pos} unexpected bytes after the last section")
        return Container(Kind(kind), model, weights_hash, width, height, quality, bool(flags & _FLAG_GREY), sections)


def _check_size(width: int, height: int) -> None:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise BitstreamError(f"stream declares an image of {width}×{height} pixels, beyond the limits")
