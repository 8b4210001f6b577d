"""The command line, through click's runner and through a real subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from vcodec.cli.main import main


def write_png(path: Path, size=(48, 40), mode="RGB") -> Path:
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(array.squeeze(-1) if channels == 1 else array, mode).save(path)
    return path


def make_file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


@pytest.fixture()
def photo(tmp_path) -> Path:
    return write_png(tmp_path / "photo.png")


def test_encode_decode_info_round_trip(tiny_zoo, photo, tmp_path):
    stream, out = tmp_path / "photo.vcd", tmp_path / "out.png"
    result = run("encode", photo, stream, "--model", "tiny", "--quality", "2")
    assert result.exit_code == 0, result.output
    assert "bpp" in result.output and stream.stat().st_size > 0
    assert run("decode", stream, out).exit_code == 0
    assert Image.open(out).size == (48, 40)
    info = run("info", stream)
    assert info.exit_code == 0 and "model:    tiny" in info.output and "48×40" in info.output


def test_models_lists_shipped_checkpoints(tiny_zoo):
    result = run("models")
    assert result.exit_code == 0 and "tiny" in result.output


def test_greyscale_input_decodes_to_greyscale(tiny_zoo, tmp_path):
    grey = write_png(tmp_path / "grey.png", mode="L")
    assert run("encode", grey, tmp_path / "g.vcd", "-m", "tiny").exit_code == 0
    assert run("decode", tmp_path / "g.vcd", tmp_path / "g.png").exit_code == 0
    assert Image.open(tmp_path / "g.png").mode == "L"


def test_folders_in_and_out(tiny_zoo, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a", "b"):
        write_png(src / f"{name}.png")
    write_png(src / "c.png", mode="RGBA")
    (src / "notes.txt").write_text("not an image")
    assert run("encode", src, tmp_path / "streams", "-m", "tiny").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "streams").iterdir()) == ["a.vcd", "b.vcd", "c.vcd"]
    assert run("decode", tmp_path / "streams", tmp_path / "decoded").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "decoded").iterdir()) == ["a.png", "b.png", "c.png"]


def test_folder_with_a_bad_file_reports_it_and_finishes_the_rest(tiny_zoo, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_png(src / "good.png")
    (src / "broken.png").write_bytes(b"\x89PNG not really")
    result = run("encode", src, tmp_path / "streams", "-m", "tiny")
    assert result.exit_code == 1 and "broken.png" in result.output
    assert [p.name for p in (tmp_path / "streams").iterdir()] == ["good.vcd"]


@pytest.mark.parametrize(
    "make_input,message",
    [
        (lambda d: d / "missing.png", "no such file"),
        (lambda d: make_file(d / "empty.png", b""), "empty file"),
        (lambda d: make_file(d / "text.png", b"hello"), "not a readable image"),
        (lambda d: d, "files in this folder"),
    ],
)
def test_bad_images_give_one_line_errors(tiny_zoo, tmp_path, make_input, message):
    src = make_input(tmp_path)
    result = run("encode", src, tmp_path / "out.vcd", "-m", "tiny")
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.vcd").exists() and not leftovers(tmp_path)


def test_bad_streams_give_one_line_errors(tiny_zoo, photo, tmp_path):
    stream = tmp_path / "photo.vcd"
    run("encode", photo, stream, "-m", "tiny")
    data = stream.read_bytes()
    cases = {
        "truncated.vcd": (data[: len(data) // 2], "truncated"),
        "flipped.vcd": (data[:30] + bytes([data[30] ^ 1]) + data[31:], "CRC32"),
        "empty.vcd": (b"", "empty file"),
        "foreign.vcd": (b"GIF89a" + bytes(50), "not a vcodec stream"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        result = run("decode", tmp_path / name, tmp_path / "out.png")
        assert result.exit_code == 1 and message in result.output, (name, result.output)
        assert not (tmp_path / "out.png").exists() and not leftovers(tmp_path)


def test_stream_from_another_model_is_refused(tiny_zoo, photo, tmp_path):
    run("encode", photo, tmp_path / "a.vcd", "-m", "tiny")
    result = run("decode", tmp_path / "a.vcd", tmp_path / "out.png", "--model", "tiny-other")
    assert result.exit_code == 1 and "made by model 'tiny'" in result.output


def test_existing_output_needs_force(tiny_zoo, photo, tmp_path):
    out = tmp_path / "photo.vcd"
    out.write_bytes(b"precious")
    result = run("encode", photo, out, "-m", "tiny")
    assert result.exit_code == 1 and "--force" in result.output
    assert out.read_bytes() == b"precious"
    assert run("encode", photo, out, "-m", "tiny", "--force").exit_code == 0
    assert out.read_bytes()[:4] == b"VCDC"


def test_unwritable_or_missing_output_folder(tiny_zoo, photo, tmp_path):
    result = run("encode", photo, tmp_path / "nowhere" / "x.vcd", "-m", "tiny")
    assert result.exit_code == 1 and "does not exist" in result.output
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        target = (
            Path("/proc") if os.access(locked, os.W_OK) else locked
        )  # root writes anywhere but /proc
        result = run("encode", photo, target / "x.vcd", "-m", "tiny")
        assert result.exit_code == 1 and "cannot write" in result.output
    finally:
        locked.chmod(0o700)


def test_bad_quality_and_unknown_model(tiny_zoo, photo, tmp_path):
    result = run("encode", photo, tmp_path / "x.vcd", "-m", "tiny", "-q", "9")
    assert result.exit_code == 1 and "qualities 1–8" in result.output
    result = run("encode", photo, tmp_path / "x.vcd", "-m", "nope")
    assert result.exit_code == 1 and "unknown model 'nope'" in result.output


def test_real_subprocess_round_trip_and_error(tiny_zoo, photo, tmp_path):
    env = {**os.environ, "VCODEC_CHECKPOINTS": str(tiny_zoo)}
    cli = [sys.executable, "-m", "vcodec.cli.main"]
    done = subprocess.run(
        [*cli, "encode", photo, tmp_path / "p.vcd", "-m", "tiny"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [*cli, "decode", tmp_path / "p.vcd", tmp_path / "p.png"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and (tmp_path / "p.png").exists()
    done = subprocess.run(
        [*cli, "decode", photo, tmp_path / "q.png"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert (
        done.stderr.strip().splitlines()[-1].startswith("error:") and "Traceback" not in done.stderr
    )


def test_stream_naming_an_unknown_model_or_a_path_is_refused(tiny_zoo, photo, tmp_path):
    from vcodec.entropy.container import Container

    run("encode", photo, tmp_path / "a.vcd", "-m", "tiny")
    container = Container.from_bytes((tmp_path / "a.vcd").read_bytes())
    for name in ("not-installed", str(tiny_zoo / "tiny"), ""):
        container.model = name
        (tmp_path / "b.vcd").write_bytes(container.to_bytes())
        result = run("decode", tmp_path / "b.vcd", tmp_path / "out.png")
        assert result.exit_code == 1 and "not installed here" in result.output, name


def test_unwritable_output_format_is_refused(tiny_zoo, photo, tmp_path):
    run("encode", photo, tmp_path / "a.vcd", "-m", "tiny")
    result = run("decode", tmp_path / "a.vcd", tmp_path / "out.psd")
    assert result.exit_code == 1 and "cannot write '.psd'" in result.output
    assert not list(tmp_path.glob("out*"))


def test_outputs_get_normal_file_permissions(tiny_zoo, photo, tmp_path):
    run("encode", photo, tmp_path / "a.vcd", "-m", "tiny")
    assert (tmp_path / "a.vcd").stat().st_mode & 0o044 == 0o044  # group/other can read (umask 022)


def test_threads_option_sets_torchs_thread_count(tiny_zoo, photo, tmp_path):
    import torch

    caller = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert run("encode", photo, tmp_path / "a.vcd", "-m", "tiny").exit_code == 0
        assert torch.get_num_threads() == 2  # without the option, the count is left alone
        result = run("encode", photo, tmp_path / "b.vcd", "-m", "tiny", "--threads", "1")
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(caller)
    assert (tmp_path / "a.vcd").read_bytes() == (tmp_path / "b.vcd").read_bytes()


@pytest.mark.parametrize("name", ["out.webp", "out.png", "out.mp4"])
def test_encode_refuses_an_output_named_as_an_image_or_video(tiny_zoo, photo, tmp_path, name):
    result = run("encode", photo, tmp_path / name, "-m", "tiny")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "out.vcd" in result.output, (
        result.output
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_decode_says_when_the_output_format_recompresses_lossily(tiny_zoo, photo, tmp_path):
    assert run("encode", photo, tmp_path / "a.vcd", "-m", "tiny").exit_code == 0
    jpeg = run("decode", tmp_path / "a.vcd", tmp_path / "out.jpg")
    assert jpeg.exit_code == 0 and "JPEG" in jpeg.output and "lossily" in jpeg.output, jpeg.output
    png = run("decode", tmp_path / "a.vcd", tmp_path / "out.png")
    assert png.exit_code == 0 and "48×40" in png.output
    assert "JPEG" not in png.output and "loss" not in png.output, png.output


def test_folder_errors_name_each_broken_file_once(tiny_zoo, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_png(src / "good.png")
    make_file(src / "empty.png", b"")
    make_file(src / "text.png", b"hello")
    result = run("encode", src, tmp_path / "streams", "-m", "tiny")
    assert result.exit_code == 1 and "2 of 3 files failed" in result.output
    assert result.output.count("empty.png") == 1 and result.output.count("text.png") == 1, (
        result.output
    )
