import struct
import zlib

import pytest

from vcodec.entropy.container import MAX_SIDE, Container, Kind
from vcodec.errors import BitstreamError


def sample() -> bytes:
    return Container(
        Kind.IMAGE,
        "some-model",
        b"\x01" * 8,
        640,
        480,
        quality=3,
        sections=[b"abcd" * 5, b"", b"xyz"],
    ).to_bytes()


def test_round_trip():
    c = Container.from_bytes(sample())
    assert (c.kind, c.model, c.width, c.height, c.quality, c.grey) == (
        Kind.IMAGE,
        "some-model",
        640,
        480,
        3,
        False,
    )
    assert c.sections == [b"abcd" * 5, b"", b"xyz"]


@pytest.mark.parametrize("cut", range(len(sample())))
def test_every_truncation_raises(cut):
    with pytest.raises(BitstreamError):
        Container.from_bytes(sample()[:cut])


def test_every_single_byte_corruption_raises():
    data = sample()
    for pos in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[pos] ^= flip
            with pytest.raises(BitstreamError):
                Container.from_bytes(bytes(bad))


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.parametrize("width,height", [(0, 10), (MAX_SIDE + 1, 10), (MAX_SIDE, MAX_SIDE)])
def test_absurd_dimensions_are_refused_even_with_a_valid_crc(width, height):
    body = (
        b"VCDC" + bytes([1, 1, 0, 1, 1]) + b"m" + b"\0" * 8 + struct.pack(">IIB", width, height, 0)
    )
    with pytest.raises(BitstreamError, match="beyond the limits"):
        Container.from_bytes(_with_crc(body))


def test_section_longer_than_stream_is_refused():
    body = (
        b"VCDC"
        + bytes([1, 1, 0, 1, 1])
        + b"m"
        + b"\0" * 8
        + struct.pack(">IIB", 8, 8, 1)
        + struct.pack(">I", 2**31)
    )
    with pytest.raises(BitstreamError, match="truncated"):
        Container.from_bytes(_with_crc(body))


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty"),
        (b"PNG\x89" + b"\0" * 40, "bad magic"),
        (b"VCDC" + bytes([9]) + b"\0" * 40, "version 9"),
    ],
)
def test_foreign_streams_name_the_problem(data, message):
    with pytest.raises(BitstreamError, match=message):
        Container.from_bytes(data)


def test_version_1_streams_with_u32_lengths_still_read():
    sections = [b"abcd" * 40, b"", b"xyz"]
    body = (
        b"VCDC"
        + bytes([1, 1, 0, 3, 1])
        + b"m"
        + b"\x02" * 8
        + struct.pack(">IIB", 64, 48, len(sections))
        + b"".join(struct.pack(">I", len(s)) + s for s in sections)
    )
    c = Container.from_bytes(_with_crc(body))
    assert (c.version, c.width, c.height, c.quality, c.sections) == (1, 64, 48, 3, sections)
    assert c.to_bytes() == _with_crc(body)
    c.version = 2
    assert len(c.to_bytes()) == len(_with_crc(body)) - 2 - 3 - 3  # 160 bytes: a 2-byte varint


def test_version_2_spends_a_byte_on_a_short_section_length():
    short = Container(Kind.IMAGE, "m", b"\0" * 8, 8, 8, sections=[b"a" * 127, b"b" * 128])
    data = short.to_bytes()
    assert len(data) == 4 + 4 + 1 + 1 + 8 + 9 + (1 + 127) + (2 + 128) + 4
