"""Classical codecs through Pillow and PyAV: real bytes, plausible quality, more bits → better."""

from fractions import Fraction

import av
import numpy as np
import pytest
import skimage.data

from vcodec.eval.baselines import IMAGE_BASELINES, VIDEO_BASELINES, FFmpegVideoCodec
from vcodec.eval.metrics import psnr_rgb
from vcodec.eval.rd import VideoSource, video_row
from vcodec.io.video import read_video


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(
        skimage.data.astronaut()[40:104, 200:270]
    )  # 64×70: odd chroma widths too


def write_clip(path, frames: int = 6, size: int = 32) -> np.ndarray:
    """A lossless (FFV1) clip panning across the astronaut photo; returns its frames."""
    photo = skimage.data.astronaut()
    clip = np.stack(
        [
            photo[100 + 2 * t : 100 + 2 * t + size, 150 + 3 * t : 150 + 3 * t + size]
            for t in range(frames)
        ]
    )
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "bgr0"
        for frame in clip:
            container.mux(
                stream.encode(
                    av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                )
            )
        container.mux(stream.encode(None))
    return clip


@pytest.mark.parametrize("name", sorted(IMAGE_BASELINES))
def test_image_baseline_round_trip(name, photo):
    codec = IMAGE_BASELINES[name]
    if codec.missing():
        pytest.skip(codec.missing())
    low, high = codec.points[1], codec.points[-2]
    if codec.parameter == "qp":  # a lower QP means finer quantisation
        low, high = high, low
    coarse, fine = codec.code(photo, low), codec.code(photo, high)
    assert coarse.decoded.shape == photo.shape and coarse.decoded.dtype == np.uint8
    assert 0 < coarse.num_bytes < fine.num_bytes
    assert 20 < psnr_rgb(photo, coarse.decoded) < psnr_rgb(photo, fine.decoded) < 60


def test_video_reader_returns_the_frames_and_rate(tmp_path):
    clip = write_clip(tmp_path / "pan.mkv")
    video = read_video(tmp_path / "pan.mkv")
    assert video.fps == Fraction(25) and np.array_equal(video.frames, clip)
    assert read_video(tmp_path / "pan.mkv", max_frames=2).num_frames == 2


@pytest.mark.parametrize("name", sorted(VIDEO_BASELINES))
def test_video_baseline_round_trip(name, tmp_path):
    write_clip(tmp_path / "pan.mkv")
    codec = VIDEO_BASELINES[name]
    if codec.missing():
        pytest.skip(codec.missing())
    coarse, fine = (
        FFmpegVideoCodec(name, (p,), gop=3) for p in (codec.points[-1], codec.points[0])
    )
    source = VideoSource(str(tmp_path / "pan.mkv"), None)
    rows = [video_row(c, "pan", source, c.points[0]) for c in (coarse, fine)]
    for row in rows:
        assert row["frames"] == 6 and row["bytes"] > 0
        assert row["kbps"] == pytest.approx(row["bytes"] * 8 / (6 / 25) / 1000)
        assert len(row["frame_psnr_rgb"]) == 6
    assert rows[0]["bytes"] < rows[1]["bytes"]
    assert 20 < rows[0]["psnr-rgb"] < rows[1]["psnr-rgb"] < 60
