"""The shipped default video codec on a real moving picture: the CLI round trip keeps frames, size and rate,
reaches a PSNR floor, and a static scene's predicted frames cost far less than its intra frame."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

import vcodec
from vcodec.cli.main import main
from vcodec.eval.metrics import psnr_rgb
from vcodec.io.video import VideoReader, VideoWriter

VIDEO_MODEL = vcodec.zoo.DEFAULT_VIDEO_MODEL
pytestmark = pytest.mark.skipif(
    VIDEO_MODEL not in vcodec.list_models(), reason=f"{VIDEO_MODEL} is not installed"
)


def pan(frames: int, static: bool = False) -> list[np.ndarray]:
    """96×128 frames moving 2 pixels right per frame across skimage's astronaut (or standing still)."""
    from skimage.data import astronaut

    image = astronaut()[100:196]
    return [
        np.ascontiguousarray(
            image[:, (0 if static else 2 * t) + 150 : (0 if static else 2 * t) + 278]
        )
        for t in range(frames)
    ]


def test_cli_round_trip_with_the_shipped_video_codec(tmp_path):
    frames = pan(6)
    clip = tmp_path / "pan.mkv"
    with VideoWriter(clip, Fraction(25), 128, 96) as writer:
        for frame in frames:
            writer.write(frame)
    runner = CliRunner()
    result = runner.invoke(main, ["encode", str(clip), str(tmp_path / "pan.vcd"), "-q", "3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["decode", str(tmp_path / "pan.vcd"), str(tmp_path / "out.mkv")])
    assert result.exit_code == 0, result.output
    with VideoReader(tmp_path / "out.mkv") as video:
        decoded = list(video.frames())
        assert (video.info.width, video.info.height, video.info.fps) == (128, 96, 25)
    assert len(decoded) == 6
    assert min(psnr_rgb(a, b) for a, b in zip(frames, decoded)) > 24


def test_a_static_scene_costs_little_after_its_intra_frame():
    import torch

    codec = vcodec.load(VIDEO_MODEL)
    frames = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in pan(4, static=True)]
    sizes = [len(p.to_bytes()) for p in codec.encode(frames, quality=3)]
    assert max(sizes[1:]) * 20 < sizes[0]
