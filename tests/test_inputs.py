"""Odd but valid inputs code correctly, bad ones fail with one clear line, and nothing is ever lost:
16-bit, palette, greyscale, RGBA and CMYK images, EXIF rotation, 1×1 and very wide images, huge
images, file names that are not UTF-8, interrupted runs (issue 7)."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from vcodec.cli.main import main
from vcodec.io.images import MAX_PIXELS, load_image


@pytest.fixture(autouse=True)
def _tiny_models(tiny_zoo):
    """The tiny test codecs of conftest, as the installed models."""


def run(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def round_trip(tmp_path: Path, source: Path) -> np.ndarray:
    """Encode and decode ``source`` with the tiny codec; the decoded pixels."""
    stream, out = tmp_path / "s.vcd", tmp_path / "out.png"
    result = run("encode", source, stream, "-m", "tiny", "-f")
    assert result.exit_code == 0, result.output
    result = run("decode", stream, out, "-f")
    assert result.exit_code == 0, result.output
    return np.asarray(Image.open(out))


def gradient(width: int = 48, height: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack(
        [xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), np.full_like(xx, 128)], -1
    ).astype(np.uint8)


def test_sixteen_bit_greyscale_keeps_its_brightness(tmp_path):
    dark = (np.linspace(0, 40, 48 * 32).reshape(32, 48) * 257).astype(
        np.uint16
    )  # 16-bit, all below 255·257/6
    Image.fromarray(dark).save(tmp_path / "dark16.png")
    image, mode = load_image(tmp_path / "dark16.png")
    assert (
        mode.startswith("I") and abs(float(image.mean()) * 255 - 20) < 1
    )  # scaled by 65535, not by its peak
    decoded = round_trip(tmp_path, tmp_path / "dark16.png")
    assert decoded.ndim == 2 and decoded.shape == (32, 48)  # greyscale in, greyscale out
    Image.fromarray(np.full((8, 8), 100, dtype=np.uint16)).save(
        tmp_path / "black16.png"
    )  # 100/65535: black
    assert float(load_image(tmp_path / "black16.png")[0].max()) * 255 < 1


@pytest.mark.parametrize("mode", ["P", "P-transparent", "L", "LA", "RGBA", "CMYK", "1"])
def test_every_pillow_mode_codes_as_rgb_or_grey(tmp_path, mode):
    rgb = Image.fromarray(gradient())
    image = rgb.convert(mode.split("-")[0])
    path = tmp_path / ("img.jpg" if mode == "CMYK" else "img.png")
    image.save(path, **({"transparency": 0} if mode == "P-transparent" else {}))
    decoded = round_trip(tmp_path, path)
    assert decoded.shape[:2] == (32, 48)
    assert decoded.ndim == (2 if mode in ("L", "LA", "1") else 3)


def test_exif_rotation_is_applied(tmp_path):
    image = Image.fromarray(gradient(48, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    image.save(tmp_path / "rotated.jpg", exif=exif.tobytes())
    assert round_trip(tmp_path, tmp_path / "rotated.jpg").shape[:2] == (48, 32)


@pytest.mark.parametrize("size", [(1, 1), (1000, 2), (3, 700)])
def test_tiny_and_very_elongated_images(tmp_path, size):
    Image.fromarray(gradient(*size)).save(tmp_path / "odd.png")
    assert round_trip(tmp_path, tmp_path / "odd.png").shape[:2] == (size[1], size[0])


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares a size but holds almost no pixel data: enough for the size check, tiny on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_a_huge_image_is_refused_naming_the_limit(tmp_path):
    png_header_only(tmp_path / "huge.png", 10_000, 5_000)
    result = run("encode", tmp_path / "huge.png", tmp_path / "huge.vcd", "-m", "tiny")
    assert result.exit_code == 1 and f"{MAX_PIXELS:,}-pixel limit" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "huge.vcd").exists()


def test_file_names_that_are_not_utf8(tmp_path):
    name = os.fsdecode(b"caf\xe9-\xff.png")  # latin-1 bytes: not UTF-8
    source = tmp_path / name
    Image.fromarray(gradient()).save(source)
    assert round_trip(tmp_path, source).shape == (32, 48, 3)
    stream = tmp_path / os.fsdecode(b"out-\xe9.vcd")
    result = run("encode", source, stream, "-m", "tiny")
    assert result.exit_code == 0, result.output
    assert stream.exists()
    result = run("encode", source, stream, "-m", "tiny")  # the error message names the file
    assert result.exit_code == 1 and "exists" in result.output and "Traceback" not in result.output
    missing = run(
        "encode", tmp_path / os.fsdecode(b"no-\xe9.png"), tmp_path / "x.vcd", "-m", "tiny"
    )
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_a_folder_with_bad_files_reports_them_and_codes_the_rest(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(gradient()).save(folder / "good.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "empty.jpg").write_bytes(b"")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = run("encode", folder, tmp_path / "out", "-m", "tiny")
    assert result.exit_code == 1 and "2 of 3 files failed" in result.output
    assert "broken.png" in result.output and "empty.jpg" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.vcd"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # inputs untouched


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_video_encode_leaves_nothing(tiny_zoo, tmp_path, how):
    from test_video import moving_pattern, write_clip

    clip = write_clip(
        tmp_path / "clip.mkv", moving_pattern(frames=400, height=96, width=128), fps=Fraction(25)
    )
    out = tmp_path / "clip.vcd"
    env = {**os.environ, "VCODEC_CHECKPOINTS": str(tiny_zoo)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vcodec.cli.main",
            "encode",
            str(clip),
            str(out),
            "-m",
            "tiny-video",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # as in a terminal
    while process.poll() is None and not any(
        p.name.startswith(".clip.vcd.") for p in tmp_path.iterdir()
    ):
        time.sleep(
            0.05
        )  # wait until it is writing (or has ended: then the assertions below say why)
    process.send_signal(how)
    _, err = process.communicate()  # no time limit: 400 frames end even if the signal went unheeded
    assert process.returncode != 0
    assert b"interrupted" in err and b"Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clip.mkv"
    ]  # no output, no temporary file
