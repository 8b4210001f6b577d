"""`vcodec eval` end to end on tiny inputs, the runner's failure handling, and the JSON layout."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from test_baselines import write_clip

from vcodec.cli.main import main
from vcodec.errors import VcodecError
from vcodec.eval.baselines import Coded
from vcodec.eval.methods import resolve_methods
from vcodec.eval.rd import evaluate_images

JPEG_WEBP = [
    "--methods",
    "tiny,jpeg,webp",
    "--sweep",
    "jpeg=30,50,70,90",
    "--sweep",
    "webp=30,50,70,90",
]


def run(*args):
    return CliRunner().invoke(main, ["eval", *[str(a) for a in args]])


@pytest.fixture()
def folder(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    for name in ("one", "two"):
        smooth = np.stack([xx * 3, yy * 4, xx + yy], axis=-1) + rng.integers(0, 30, (48, 64, 3))
        Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8)).save(tmp_path / f"{name}.png")
    return tmp_path


def test_images_end_to_end(folder, tiny_zoo, tmp_path):
    out = tmp_path / "results"
    result = run("images", folder, "--out", out, "--per-image", *JPEG_WEBP)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "bd-rate.md",
        "jpeg.json",
        "rd-ms-ssim.png",
        "rd-psnr.png",
        "tiny.json",
        "webp.json",
    ]
    data = json.loads((out / "tiny.json").read_text())
    assert data["name"] == "tiny" and data["images"] == ["one", "two"]
    results = data["results"]
    for key in ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time", "payload-bpp"):
        assert len(results[key]) == 3, key
    assert results["ms-ssim-rgb"] == [None] * 3  # 48×64 is too small for five MS-SSIM scales
    assert all(
        p < b for p, b in zip(results["payload-bpp"], results["bpp"])
    )  # the header costs bytes
    assert len(data["per_image"]) == 6 and {r["image"] for r in data["per_image"]} == {"one", "two"}
    bpp = [r["bytes"] * 8 / (48 * 64) for r in data["per_image"] if r["quality"] == 1]
    assert results["bpp"][0] == pytest.approx(np.mean(bpp))
    table = (out / "bd-rate.md").read_text()
    assert "| tiny |" in table and "vs jpeg" in table and "vs webp" in table
    assert (out / "rd-psnr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_images_skips_unreadable_files_or_stops_with_strict(folder, tiny_zoo, tmp_path):
    (folder / "broken.png").write_bytes(b"not a png")
    result = run("images", folder, "--out", tmp_path / "a", *JPEG_WEBP)
    assert (
        result.exit_code == 0
        and "skipped 1 file(s)" in result.output
        and "broken.png" in result.output
    )
    result = run("images", folder, "--out", tmp_path / "b", "--strict", *JPEG_WEBP)
    assert result.exit_code == 1 and "broken.png" in result.output and not (tmp_path / "b").exists()


def test_images_bad_input_gets_one_line_errors(folder, tiny_zoo, tmp_path):
    (tmp_path / "empty").mkdir()
    for args, message in [
        (["images", tmp_path / "empty", "--methods", "jpeg"], "no image files"),
        (["images", tmp_path / "missing", "--methods", "jpeg"], "no such file"),
        (["images", folder, "--methods", "jpeg,nonsense"], "unknown method 'nonsense'"),
        (["images", folder, "--methods", "jpeg", "--sweep", "x265=22"], "not among the methods"),
        (["images", folder, "--methods", "tiny", "--sweep", "tiny=9"], "out of range"),
        (["images", folder, "--methods", "jpeg", "--sweep", "jpeg=a,b"], "whole numbers"),
    ]:
        result = run(*args, "--out", tmp_path / "out")
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_images_refuses_to_overwrite_results_without_force(folder, tiny_zoo, tmp_path):
    out = tmp_path / "results"
    assert run("images", folder, "--out", out, *JPEG_WEBP).exit_code == 0
    before = (out / "jpeg.json").read_bytes()
    result = run("images", folder, "--out", out, *JPEG_WEBP)
    assert result.exit_code == 1 and "--force" in result.output
    assert (out / "jpeg.json").read_bytes() == before
    assert run("images", folder, "--out", out, "--force", *JPEG_WEBP).exit_code == 0


def test_missing_encoder_is_skipped_with_a_message(folder, tiny_zoo, tmp_path, monkeypatch):
    monkeypatch.setattr("av.codec.Codec", _no_codec)
    args = [
        "images",
        folder,
        "--methods",
        "jpeg,webp,x265",
        "--sweep",
        "jpeg=30,50,70,90",
        "--sweep",
        "webp=30,50,70,90",
    ]
    result = run(*args, "--out", tmp_path / "a")
    assert (
        result.exit_code == 0
        and "x265 skipped: this FFmpeg build has no libx265 encoder" in result.output
    )
    result = run(*args, "--out", tmp_path / "b", "--strict")
    assert result.exit_code == 1 and "no libx265 encoder" in result.output


def _no_codec(name, mode):
    raise ValueError(f"no codec {name}")


def test_jobs_give_the_same_numbers_as_one_process(folder, tmp_path):
    images = {p.stem: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}
    methods = resolve_methods("jpeg,av1", sweeps={"jpeg": (40, 80), "av1": (30, 50)})
    serial, _ = evaluate_images(methods, images, jobs=1, progress=False)
    pooled, _ = evaluate_images(methods, images, jobs=2, progress=False)
    for a, b in zip(serial, pooled):
        for key in ("bpp", "psnr-rgb"):
            assert a["results"][key] == b["results"][key]


@dataclass(frozen=True)
class Flaky:
    """A method that fails on one image, as a broken encoder would."""

    name: str = "flaky"
    points: tuple = (1, 2)
    parameter: str = "quality"
    parallel: bool = False
    description: str = "fails on 'bad'"

    def code(self, image, point):
        if image.mean() > 100:
            raise RuntimeError("encoder crashed")
        return Coded(10, image, 0.0, 0.0)


def test_a_failing_method_is_dropped_with_a_warning_or_stops_the_run():
    images = {"ok": np.zeros((8, 8, 3), np.uint8), "bad": np.full((8, 8, 3), 200, np.uint8)}
    methods = [Flaky(), *resolve_methods("jpeg", sweeps={"jpeg": (50, 90)})]
    summaries, problems = evaluate_images(methods, images, progress=False)
    assert [s["name"] for s in summaries] == ["jpeg"]
    assert problems == ["flaky failed on bad: encoder crashed"]
    with pytest.raises(VcodecError, match="flaky failed on bad"):
        evaluate_images(methods, images, progress=False, strict=True)


def test_video_end_to_end(tmp_path, tiny_zoo):
    write_clip(tmp_path / "pan.mkv", frames=6, size=32)
    (tmp_path / "notes.mp4").write_bytes(b"not a video")
    out = tmp_path / "results"
    result = run(
        "video",
        tmp_path,
        "--methods",
        "tiny,tiny-video,x264,x265",
        "--frames",
        "4",
        "--gop",
        "2",
        "--out",
        out,
        "--per-video",
        "--sweep",
        "x264=20,28,36,44",
        "--sweep",
        "x265=20,28,36,44",
    )
    assert result.exit_code == 0, result.output
    assert "skipped 1 file(s)" in result.output and "notes.mp4" in result.output
    data = json.loads((out / "x264.json").read_text())
    assert data["videos"] == ["pan"] and "intra period 2" in data["description"]
    assert len(data["results"]["kbps"]) == 4 and len(data["per_video"][0]["frame_psnr_y"]) == 4
    assert json.loads((out / "tiny-intra.json").read_text())["results"]["quality"] == [1, 2, 3]
    video = json.loads((out / "tiny-video.json").read_text())
    assert video["results"]["quality"] == [1, 2, 3] and "intra period 2" in video["description"]
    assert "BD-rate, PSNR-Y" in (out / "bd-rate.md").read_text()
    assert (out / "rd-psnr-y.png").exists()


def test_two_methods_with_one_name_are_refused(folder, tiny_zoo, tmp_path):
    result = run(
        "images", folder, "--methods", f"tiny,{tiny_zoo / 'tiny'}", "--out", tmp_path / "out"
    )
    assert result.exit_code == 1 and "several methods would be called tiny" in result.output
