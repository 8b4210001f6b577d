"""The learned video codec: packets, exact streaming decode, skipping, video files and the CLI."""

from __future__ import annotations

import io
import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_video_codec

from vcodec import zoo
from vcodec.cli.main import main
from vcodec.entropy.container import FrameType, Packet, VideoInfo, read_header, read_packets
from vcodec.entropy.flags import decode_flags, encode_flags
from vcodec.errors import BitstreamError, VcodecError
from vcodec.io.video import VideoReader, VideoWriter


def moving_pattern(
    frames: int = 6, height: int = 40, width: int = 56, static_from: int | None = None
) -> list[np.ndarray]:
    """A textured pattern drifting right by 2 pixels a frame (static from ``static_from`` on)."""
    rng = np.random.default_rng(0)
    canvas = rng.integers(0, 256, (height, width + 2 * frames, 3), dtype=np.uint8)
    canvas = np.asarray(
        torch.nn.functional.avg_pool2d(
            torch.from_numpy(canvas).permute(2, 0, 1).float()[None], 3, 1, 1
        )[0]
        .permute(1, 2, 0)
        .round()
        .byte()
    )
    shifts = [2 * min(t, static_from if static_from is not None else t) for t in range(frames)]
    return [np.ascontiguousarray(canvas[:, s : s + width]) for s in shifts]


def as_tensors(frames: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in frames]


def write_clip(path: Path, frames: list[np.ndarray], fps=Fraction(24)) -> Path:
    with VideoWriter(path, fps, frames[0].shape[1], frames[0].shape[0]) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def codec():
    return tiny_video_codec()


# --- packets and the stream header ----------------------------------------------------------------------


def test_packet_round_trip_and_damage():
    packet = Packet(FrameType.PREDICTED, 7, [b"\x01", b"", b"abc", b"defg"])
    data = packet.to_bytes()
    assert len(data) == 1 + 3 + 4 + 8 + 4  # varint lengths: 1 byte each here
    back = Packet.from_body(data[1:-4])
    assert (back.frame_type, back.index, back.sections) == (FrameType.PREDICTED, 7, packet.sections)
    from vcodec.entropy.container import read_packet

    assert read_packet(io.BytesIO(data), 1 << 20).sections == packet.sections
    assert read_packet(io.BytesIO(b""), 1 << 20) is None
    damaged = bytearray(data)
    damaged[8] ^= 1
    with pytest.raises(BitstreamError, match="CRC32"):
        read_packet(io.BytesIO(bytes(damaged)), 1 << 20)
    with pytest.raises(BitstreamError, match="truncated"):
        read_packet(io.BytesIO(data[:-3]), 1 << 20)
    with pytest.raises(BitstreamError, match="more than a frame"):
        read_packet(io.BytesIO(data), 4)


@pytest.mark.parametrize("version", [1, 2])
def test_packets_of_both_format_versions_read_back(version):
    from vcodec.entropy.container import find_packet, read_packet

    rng = np.random.default_rng(version)
    packets = [
        Packet(FrameType.INTRA, 0, [b"\x03", rng.bytes(300), b""]),
        Packet(FrameType.PREDICTED, 200, [rng.bytes(n) for n in (0, 1, 127, 128, 20_000)]),
    ]
    data = b"".join(p.to_bytes(version) for p in packets)
    stream = io.BytesIO(data)
    for packet in packets:
        assert read_packet(stream, 1 << 20, version) == packet
    assert read_packet(stream, 1 << 20, version) is None
    # a damaged first packet: the scan finds the second whole one
    damaged = io.BytesIO(b"\xff\x01" + data[2:])
    assert find_packet(damaged, 1 << 20, version=version) == packets[1]


def test_varint_lengths_round_trip_and_refuse_overlong_numbers():
    from vcodec.entropy.container import _parse_varint, _varint

    for value in (0, 1, 127, 128, 300, 16_383, 16_384, 2**31, 2**35 - 1):
        data = iter(_varint(value))
        assert _parse_varint(lambda: next(data), "a length") == value
    overlong = iter(b"\x80" * 5 + b"\x01")
    with pytest.raises(BitstreamError, match="overlong"):
        _parse_varint(lambda: next(overlong), "a length")


def test_block_flags_round_trip():
    rng = np.random.default_rng(1)
    for share in (0.0, 0.1, 0.7, 1.0):
        blocks = torch.from_numpy(rng.random((5, 7)) < share)
        assert torch.equal(decode_flags(encode_flags(blocks), (5, 7)), blocks)
    with pytest.raises(BitstreamError):
        decode_flags(b"", (2, 2))
    with pytest.raises(BitstreamError):
        decode_flags(b"\x00junk", (2, 2))


# --- the codec ----------------------------------------------------------------------------------------


def half_static(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The left half of every frame frozen at frame 0, the right half moving."""
    for frame in frames[1:]:
        frame[:, : frame.shape[1] // 2] = frames[0][:, : frame.shape[1] // 2]
    return frames


def test_decode_equals_the_encoders_reconstruction(codec):
    frames = as_tensors(half_static(moving_pattern(7, 96, 128)))
    # the tiny codec's λ is far too low to code anything; a large weight makes it code the moving half
    coded = list(codec.encode_and_reconstruct(frames, quality=3, intra_period=4, skip_weight=1000))
    assert [p.frame_type for p, _ in coded] == [FrameType.INTRA] + [FrameType.PREDICTED] * 3 + [
        FrameType.INTRA
    ] + [FrameType.PREDICTED] * 2
    shares = [p.sections[0][0] for p, _ in coded if p.frame_type == FrameType.PREDICTED]
    assert all(0 < share < 255 for share in shares)  # some blocks skipped, the others coded
    decoded = list(codec.decode([p for p, _ in coded], 128, 96, 3))
    assert len(decoded) == 7
    for frame, (_, reconstruction) in zip(decoded, coded):
        assert frame.shape == (1, 3, 96, 128)
        assert torch.equal(frame, reconstruction)
    # decoding can start at the second intra frame
    tail = list(codec.decode([p for p, _ in coded[4:]], 128, 96, 3))
    assert all(torch.equal(a, b) for a, b in zip(tail, decoded[4:]))


def test_streams_decode_exactly_with_another_thread_count(codec):
    frames = as_tensors(half_static(moving_pattern(4, 96, 128)))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        coded = list(
            codec.encode_and_reconstruct(frames, quality=2, intra_period=4, skip_weight=1000)
        )
        torch.set_num_threads(1)
        decoded = list(codec.decode([p for p, _ in coded], 128, 96, 2))
    finally:
        torch.set_num_threads(threads)
    # the latents are exact; the float synthesis may round differently with other threads
    assert all(torch.allclose(a, r, atol=1e-4) for a, (_, r) in zip(decoded, coded))


def test_static_predicted_frames_cost_far_less_than_intra(codec):
    frames = as_tensors(moving_pattern(4, 96, 128, static_from=0))
    packets = list(codec.encode(frames, quality=3, intra_period=4))
    intra, predicted = len(packets[0].to_bytes()), max(len(p.to_bytes()) for p in packets[1:])
    assert predicted * 10 < intra


def test_the_skip_weight_trades_bits_for_distortion(codec):
    frames = as_tensors(moving_pattern(3, 96, 128))
    sizes = [
        sum(len(p.to_bytes()) for p in codec.encode(frames, 3, 3, weight))
        for weight in (0, 1000, math.inf)
    ]
    assert sizes[0] < sizes[1] <= sizes[2]


def test_encoder_refuses_bad_input(codec):
    with pytest.raises(VcodecError, match="intra period"):
        list(codec.encode(as_tensors(moving_pattern(2)), intra_period=0))
    frames = as_tensors(moving_pattern(2)) + [torch.rand(1, 3, 20, 20)]
    with pytest.raises(VcodecError, match="frame 2 is 20×20"):
        list(codec.encode(frames))
    with pytest.raises(BitstreamError, match="no intra frame"):
        list(codec.decode([Packet(FrameType.PREDICTED, 0, [b"\x00", b"", b"", b""])], 56, 40, 3))


def test_stream_reading_names_the_broken_frame(codec):
    frames = as_tensors(moving_pattern(4))
    packets = [p.to_bytes() for p in codec.encode(frames, quality=2, intra_period=2)]
    data = codec.header(56, 40, Fraction(24), 2, 2, 4) + b"".join(packets)
    stream = io.BytesIO(data)
    header = read_header(stream)
    info = VideoInfo.from_container(header)
    assert (info.frame_count, info.intra_period, Fraction(info.fps_num, info.fps_den)) == (4, 2, 24)
    assert len(list(read_packets(stream, header, info))) == 4
    cut = len(data) - len(packets[-1]) // 2
    stream = io.BytesIO(data[:cut])
    header = read_header(stream)
    with pytest.raises(BitstreamError, match="frame 3"):
        list(read_packets(stream, header, info))


# --- video files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_video_writer_is_lossless_and_atomic(tmp_path, suffix):
    frames = moving_pattern(3, 21, 33)  # odd sizes
    path = write_clip(tmp_path / f"clip{suffix}", frames, Fraction(30000, 1001))
    with VideoReader(path) as video:
        assert (video.info.width, video.info.height, video.info.fps) == (
            33,
            21,
            Fraction(30000, 1001),
        )
        assert all(np.array_equal(a, b) for a, b in zip(video.frames(), frames))
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "broken.mkv", Fraction(24), 33, 21) as writer:
            writer.write(frames[0])
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"clip{suffix}"]


def clip_with_key_frames(path: Path, frames: list[np.ndarray], gop: int) -> Path:
    """An H.264 clip with a key frame every ``gop`` frames (what a seek can land on)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(
            "libx264", rate=24, options={"g": str(gop), "keyint_min": str(gop)}
        )
        stream.width, stream.height, stream.pix_fmt = (
            frames[0].shape[1],
            frames[0].shape[0],
            "yuv420p",
        )
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("start", [0.0, 0.5, 17 / 24, 1.5])
def test_a_later_start_seeks_and_gives_the_same_frames_as_decoding_from_the_beginning(
    tmp_path, start
):
    clip = clip_with_key_frames(tmp_path / "keyed.mp4", moving_pattern(48, 32, 48), gop=8)
    with VideoReader(clip) as video:
        everything = list(video.frames())
    with VideoReader(clip) as video:
        sliced = list(video.frames(start=start, max_frames=5))
        seeked_to = video.seeked_to
    first = round(start * 24)
    assert len(sliced) == 5 and all(
        np.array_equal(a, b) for a, b in zip(sliced, everything[first:])
    )
    assert seeked_to == (None if start == 0 else first)


def test_video_reader_errors(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(VcodecError, match="not a readable video"):
        VideoReader(tmp_path / "notes.mp4")
    audio = tmp_path / "tone.mka"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    with pytest.raises(VcodecError, match="no video stream"):
        VideoReader(audio)


# --- the command line -----------------------------------------------------------------------------------


def test_cli_video_round_trip(tiny_zoo, tmp_path):
    frames = moving_pattern(5)
    clip = write_clip(tmp_path / "clip.mkv", frames)
    stream, out = tmp_path / "clip.vcd", tmp_path / "out.mkv"
    result = run("encode", clip, stream, "-m", "tiny-video", "-q", "2", "--gop", "3")
    assert result.exit_code == 0, result.output
    assert "5 frames, 56×40 at 24 fps" in result.output and "kbps" in result.output
    info = run("info", stream)
    assert info.exit_code == 0 and "2 intra" in info.output and "3 predicted" in info.output, (
        info.output
    )
    result = run("decode", stream, out, "--frames-dir", tmp_path / "pngs")
    assert result.exit_code == 0, result.output
    with VideoReader(out) as video:
        decoded = list(video.frames())
        assert (video.info.width, video.info.height, video.info.fps) == (56, 40, 24)
    assert len(decoded) == 5 and len(list((tmp_path / "pngs").glob("frame_*.png"))) == 5
    # the file holds exactly what the codec reconstructs
    codec = zoo.load("tiny-video")
    expected = [r for _, r in codec.encode_and_reconstruct(as_tensors(frames), 2, 3)]
    from vcodec.io.images import to_uint8

    assert all(np.array_equal(to_uint8(e), d) for e, d in zip(expected, decoded))
    # a slice
    result = run(
        "encode",
        clip,
        tmp_path / "slice.vcd",
        "-m",
        "tiny-video",
        "--start",
        "0.05",
        "--frames",
        "2",
    )
    assert result.exit_code == 0 and "2 frames" in result.output, result.output


def test_cli_video_errors_leave_nothing(tiny_zoo, tmp_path):
    clip = write_clip(tmp_path / "clip.mkv", moving_pattern(3))
    stream = tmp_path / "clip.vcd"
    result = run("encode", clip, stream, "-m", "tiny")
    assert result.exit_code == 1 and "not a video codec" in result.output
    assert run("encode", clip, stream, "-m", "tiny-video").exit_code == 0
    data = stream.read_bytes()
    (tmp_path / "cut.vcd").write_bytes(data[: len(data) - 5])  # inside the last CRC
    result = run("decode", tmp_path / "cut.vcd", tmp_path / "cut.mkv")
    assert result.exit_code == 1 and "frame 2" in result.output and "Traceback" not in result.output
    photo = tmp_path / "photo.vcd"
    assert (
        run(
            "encode", Path(__file__).parent.parent / "docs" / "astronaut.png", photo, "-m", "tiny"
        ).exit_code
        == 0
    )
    result = run("decode", photo, tmp_path / "photo.mp4")
    assert result.exit_code == 1 and "holds an image stream, not a video" in result.output
    photo.unlink()
    result = run("decode", stream, tmp_path / "out.webm")
    assert result.exit_code == 1 and "cannot write .webm" in result.output
    result = run("encode", clip, stream, "-m", "tiny-video")
    assert result.exit_code == 1 and "exists" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "clip.vcd", "cut.vcd"]


def test_keep_going_decodes_around_a_damaged_packet(tiny_zoo, tmp_path):
    clip = write_clip(tmp_path / "clip.mkv", moving_pattern(6))
    stream = tmp_path / "clip.vcd"
    assert run("encode", clip, stream, "-m", "tiny-video", "--gop", "3").exit_code == 0
    data = bytearray(stream.read_bytes())
    from vcodec.entropy.container import read_packet

    reader = io.BytesIO(bytes(data))
    read_header(reader)
    start = reader.tell()
    read_packet(reader, 1 << 20)
    first = reader.tell() - start  # frame 0's packet
    read_packet(reader, 1 << 20)
    second = reader.tell() - start - first
    del data[start + first + 2 : start + first + second - 3]  # frame 1 cut in the middle
    (tmp_path / "damaged.vcd").write_bytes(bytes(data))
    result = run("decode", tmp_path / "damaged.vcd", tmp_path / "strict.mkv")
    assert (
        result.exit_code == 1
        and "frame 1" in result.output
        and not (tmp_path / "strict.mkv").exists()
    )
    result = run("decode", tmp_path / "damaged.vcd", tmp_path / "out.mkv", "--keep-going")
    assert result.exit_code == 0, result.output
    assert "frame 1: packet is corrupt" in result.output and "(frame 1 lost)" in result.output
    with VideoReader(tmp_path / "out.mkv") as video:
        damaged = list(video.frames())
    assert run("decode", stream, tmp_path / "good.mkv").exit_code == 0
    with VideoReader(tmp_path / "good.mkv") as video:
        good = list(video.frames())
    assert len(damaged) == 6
    assert all(
        np.array_equal(damaged[i], good[0]) for i in (0, 1, 2)
    )  # frame 0 stands in for the lost ones
    assert all(
        np.array_equal(damaged[i], good[i]) for i in (3, 4, 5)
    )  # decoding resumes at the intra frame


def test_a_variable_frame_rate_is_coded_at_a_constant_rate_with_a_warning(tiny_zoo, tmp_path):
    clip = tmp_path / "vfr.mkv"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = 56, 40, "bgr0"
        stream.time_base = Fraction(1, 1000)
        for frame, pts in zip(moving_pattern(4), (0, 40, 80, 300)):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="bgr0")
            video_frame.pts, video_frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    result = run("encode", clip, tmp_path / "vfr.vcd", "-m", "tiny-video")
    assert (
        result.exit_code == 0
        and "variable frame rate" in result.output
        and "4 frames" in result.output
    )
    result = run(
        "encode",
        write_clip(tmp_path / "cfr.mkv", moving_pattern(4)),
        tmp_path / "cfr.vcd",
        "-m",
        "tiny-video",
    )
    assert result.exit_code == 0 and "warning" not in result.output


def test_a_video_checkpoint_names_its_shipped_image_codec_instead_of_copying_it(
    tmp_path, monkeypatch
):
    import json
    import shutil

    from conftest import tiny_codec

    from vcodec.zoo import save_checkpoint

    root = tmp_path / "zoo"
    save_checkpoint(tiny_codec(name="base"), root / "base", {}, "# base\n")
    monkeypatch.setenv("VCODEC_CHECKPOINTS", str(root))
    video = tiny_video_codec(name="on-base")
    video.intra.load_state_dict(zoo.load("base").state_dict())
    video.update()
    save_checkpoint(video, root / "on-base", {}, "# video\n")
    config = json.loads((root / "on-base" / "config.json").read_text())
    assert config["intra"]["name"] == "base"
    assert (root / "on-base" / "model.safetensors").stat().st_size < (
        root / "base" / "model.safetensors"
    ).stat().st_size
    loaded = zoo.load("on-base")
    assert loaded.weights_hash == video.weights_hash
    shutil.rmtree(root / "base")
    save_checkpoint(tiny_codec(name="base", seed=3), root / "base", {}, "# another base\n")
    with pytest.raises(VcodecError, match="built on base with weights"):
        zoo.load("on-base")


def test_rd_quantization_of_predicted_frames_saves_bits(codec, monkeypatch):
    import vcodec.codecs.video as video

    frames = as_tensors(moving_pattern(3, 96, 128))
    sizes = {}
    for weight in (0.0, 1.0):
        monkeypatch.setattr(video, "RDOQ_WEIGHT", weight)
        sizes[weight] = sum(
            len(p.to_bytes()) for p in codec.encode(frames, 3, 3, skip_weight=math.inf)
        )
    assert sizes[1.0] < sizes[0.0]


def test_a_fabricated_frame_count_cannot_make_keep_going_emit_millions_of_frames(codec):
    from vcodec.entropy.container import MAX_FRAMES

    frames = as_tensors(moving_pattern(2, 32, 32))
    packets = list(codec.encode(frames, 1, 2))
    data = (
        codec.header(32, 32, Fraction(24), 1, 2, MAX_FRAMES) + packets[0].to_bytes() + b"\x00" * 20
    )
    stray = Packet(packets[1].frame_type, MAX_FRAMES - 1, packets[1].sections).to_bytes()
    for tail in (b"", stray):
        _, info, decoded = codec.decode_stream(io.BytesIO(data + tail), keep_going=True)
        assert info.frame_count == MAX_FRAMES and sum(1 for _ in decoded) <= 1 + 20 + 1 + len(tail)


def test_intra_frames_are_coded_a_quality_higher_and_say_so(codec):
    frames = as_tensors(moving_pattern(3, 48, 64))
    for boost, expected in ((0, 2), (1, 3), (5, 3)):  # capped at the model's best quality
        packets = list(codec.encode(frames, quality=2, intra_period=2, intra_boost=boost))
        assert [p.sections[0] for p in packets if p.frame_type == FrameType.INTRA] == [
            bytes([expected])
        ] * 2
        decoded = list(codec.decode(packets, 64, 48, 2))
        assert all(
            torch.equal(a, b)
            for a, (_, b) in zip(
                decoded, codec.encode_and_reconstruct(frames, 2, 2, intra_boost=boost)
            )
        )
    bigger = sum(len(p.to_bytes()) for p in codec.encode(frames, 2, 2, intra_boost=1))
    assert bigger > sum(len(p.to_bytes()) for p in codec.encode(frames, 2, 2, intra_boost=0))
    for bad in (b"", b"\x00", b"\x04", b"\x02\x02"):
        packets[0].sections[0] = bad
        with pytest.raises(BitstreamError, match="intra frame declares quality"):
            list(codec.decode(packets, 64, 48, 2))
    with pytest.raises(VcodecError, match="intra boost"):
        list(codec.encode(frames, 2, 2, intra_boost=-1))
    without_quality = list(codec.encode(frames, quality=2, intra_period=2, intra_boost=0))
    without_quality[0].sections = without_quality[0].sections[1:]
    with pytest.raises(BitstreamError, match="frame 0: packet has 3 sections, expected 4"):
        list(codec.decode(without_quality, 64, 48, 2))


def test_info_on_a_truncated_stream_shows_the_header_then_names_the_damage(tiny_zoo, tmp_path):
    clip = write_clip(tmp_path / "clip.mkv", moving_pattern(3))
    stream = tmp_path / "clip.vcd"
    assert run("encode", clip, stream, "-m", "tiny-video", "--gop", "2").exit_code == 0
    data = stream.read_bytes()
    (tmp_path / "cut.vcd").write_bytes(data[: len(data) - 10])
    result = run("info", tmp_path / "cut.vcd")
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    header = (
        "file:     ",
        "model:    tiny-video",
        "size:     56×40",
        "frames:   3 at 24 fps",
        "packets:  1 intra",
    )
    for start in header:
        assert any(line.startswith(start) for line in lines), (start, result.output)
    assert lines[-1].startswith("error:") and "cut.vcd" in lines[-1], lines[-1]
    assert "frame 2" in lines[-1] and "truncated" in lines[-1], lines[-1]
    assert "Traceback" not in result.output


def test_a_viewing_copy_of_an_odd_sized_clip_reports_the_padded_size_it_wrote(tiny_zoo, tmp_path):
    clip = write_clip(tmp_path / "odd.mkv", moving_pattern(2, height=49, width=65))
    stream, out = tmp_path / "odd.vcd", tmp_path / "odd.mp4"
    assert run("encode", clip, stream, "-m", "tiny-video").exit_code == 0
    result = run("decode", stream, out, "--crf", "20")
    assert result.exit_code == 0, result.output
    assert "66×50" in result.output and "65×49 frames padded" in result.output, result.output
    with VideoReader(out) as video:
        assert (video.info.width, video.info.height) == (66, 50) and len(list(video.frames())) == 2


def test_decode_states_rebuilds_the_encoders_latents_exactly(codec):
    frames = as_tensors(moving_pattern(4))
    coded = list(codec.encode_states(frames, 2, 2, 1.0))
    decoded = list(codec.decode_states([p for p, _, _ in coded], 56, 40, 2))
    assert len(decoded) == 4 and all(torch.equal(a, b) for (_, a, _), b in zip(coded, decoded))
    with pytest.raises(BitstreamError, match="quality 9"):
        list(codec.decode_states([coded[0][0]], 56, 40, 9))
