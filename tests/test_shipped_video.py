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


PIXEL_MODEL = "pixel-residual-medium"
needs_pixel_model = pytest.mark.skipif(
    PIXEL_MODEL not in vcodec.list_models(), reason=f"{PIXEL_MODEL} is not installed"
)


@needs_pixel_model
def test_the_pixel_codec_codes_a_pan_mostly_by_motion():
    """A pan's P-frames cost a small fraction of its intra frame (only the entering edge needs a
    residual), at the intra frame's quality."""
    import torch

    codec = vcodec.load(PIXEL_MODEL)
    frames = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in pan(4)]
    coded = list(codec.encode_and_reconstruct(frames, quality=3, intra_period=8))
    intra = len(coded[0][0].to_bytes())
    for packet, _ in coded[1:]:
        split = codec.breakdown(packet, 96, 128)
        assert split["motion"] + split["residual"] < intra / 8
    decoded = [(p[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for _, p in coded]
    psnr = [psnr_rgb(a, b) for a, b in zip(pan(4), decoded)]
    assert min(psnr[1:]) > psnr[0] - 1.5


@needs_pixel_model
def test_the_pixel_codec_round_trips_through_the_cli_and_costs_nothing_on_a_still(tmp_path):
    frames = pan(5, static=True)
    clip = tmp_path / "still.mkv"
    with VideoWriter(clip, Fraction(25), 128, 96) as writer:
        for frame in frames:
            writer.write(frame)
    runner = CliRunner()
    stream = tmp_path / "still.vcd"
    result = runner.invoke(main, ["encode", str(clip), str(stream), "-m", PIXEL_MODEL, "-q", "2"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["decode", str(stream), str(tmp_path / "out.mkv")])
    assert result.exit_code == 0, result.output
    with VideoReader(tmp_path / "out.mkv") as video:
        decoded = list(video.frames())
    assert len(decoded) == 5 and all(np.array_equal(d, decoded[0]) for d in decoded)
    import io

    from vcodec.entropy.container import read_packets, read_video_header

    data = io.BytesIO(stream.read_bytes())
    header, info = read_video_header(data)
    payloads = [sum(map(len, p.sections)) for p in read_packets(data, header, info)]
    assert max(payloads[1:]) <= 12  # skip flags and zero vectors (the packet framing adds 42 bytes)


def new_shot(before: int, after: int) -> list[np.ndarray]:
    """A pan across the astronaut that cuts to a pan across skimage's coffee after ``before`` frames."""
    from skimage.data import coffee

    image = coffee()[100:196]
    cut = [np.ascontiguousarray(image[:, 2 * t + 150 : 2 * t + 278]) for t in range(after)]
    return pan(before) + cut


@needs_pixel_model
def test_the_pixel_codec_starts_an_intra_frame_at_a_new_shot():
    """The frame after a cut costs less as an intra frame than as a prediction from the old shot: the
    encoder codes it so, the intra period restarts there, and the decoder follows from the packets."""
    import torch

    from vcodec.entropy.container import FrameType

    codec = vcodec.load(PIXEL_MODEL)
    source = new_shot(3, 6)
    frames = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in source]
    runs = {
        cuts: list(codec.encode_and_reconstruct(frames, 3, intra_period=4, scene_cuts=cuts))
        for cuts in (True, False)
    }
    kinds = {cuts: "".join(p.frame_type.name[0] for p, _ in run) for cuts, run in runs.items()}
    assert kinds == {True: "IPPIPPPIP", False: "IPPPIPPPI"}
    packets = [p for p, _ in runs[True]]
    decoded = list(codec.decode(packets, 128, 96, 3))
    assert all(torch.equal(a, b) for a, b in zip(decoded, (r for _, r in runs[True])))
    # at the cut: a far better picture than the prediction's, for about its bytes
    psnr = {cuts: psnr_rgb(source[3], _as_uint8(run[3][1])) for cuts, run in runs.items()}
    size = {cuts: len(run[3][0].to_bytes()) for cuts, run in runs.items()}
    assert psnr[True] > psnr[False] + 3 and size[True] < 1.2 * size[False]
    assert packets[3].frame_type == FrameType.INTRA


def _as_uint8(picture) -> np.ndarray:
    return (picture[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@needs_pixel_model
def test_scene_cuts_can_be_turned_off_on_the_command_line(tmp_path):
    import io

    from vcodec.entropy.container import read_packets, read_video_header

    clip = tmp_path / "cut.mkv"
    with VideoWriter(clip, Fraction(25), 128, 96) as writer:
        for frame in new_shot(2, 2):
            writer.write(frame)
    kinds = {}
    for flag in ("--scene-cuts", "--no-scene-cuts"):
        stream = tmp_path / f"{flag}.vcd"
        args = ["encode", str(clip), str(stream), "-m", PIXEL_MODEL, "-q", "3", "--gop", "8", flag]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        data = io.BytesIO(stream.read_bytes())
        header, info = read_video_header(data)
        kinds[flag] = "".join(p.frame_type.name[0] for p in read_packets(data, header, info))
    assert kinds == {"--scene-cuts": "IPIP", "--no-scene-cuts": "IPPP"}
