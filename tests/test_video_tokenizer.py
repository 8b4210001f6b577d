"""The causal video tokenizer end to end: synthetic training clips, `vcodec train` / `export`, the zoo,
`vcodec tokenize` on a video file, tiled tokens of any frame size, and video evaluation."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_train import smooth_photos
from test_video import moving_pattern, write_clip

from vcodec.cli.main import main
from vcodec.tokenizers.causal3d import Causal3DConfig, CausalVideoTokenizer
from vcodec.tokenizers.video import tokenize_frames
from vcodec.train.data import SyntheticMotion, load_photos


def test_synthetic_motion_gives_pairs_or_clips_of_any_length(tmp_path):
    photos = load_photos(smooth_photos(tmp_path, count=2))
    pairs = SyntheticMotion(photos, crop=32, seed=3).batch(4)
    assert pairs.shape == (4, 2, 3, 32, 32)
    clips = SyntheticMotion(photos, crop=32, seed=3, frames=9, channels_first=True).batch(4)
    assert clips.shape == (4, 3, 9, 32, 32) and 0 <= clips.min() and clips.max() <= 1
    again = SyntheticMotion(photos, crop=32, seed=3, frames=9, channels_first=True).batch(4)
    assert torch.equal(clips, again)  # seeded
    # consecutive frames are close (motion of a few pixels, small noise), frames of different clips are not
    step = (clips[:, :, 1:] - clips[:, :, :-1]).abs().mean()
    assert step < 0.5 * (clips[1:] - clips[:-1]).abs().mean()
    with pytest.raises(Exception, match="at least 2 frames"):
        SyntheticMotion(photos, crop=32, frames=1)


def test_tiled_tokens_match_whole_frame_tokens_in_shape_and_where_tiles_cover_the_frame():
    torch.manual_seed(0)
    tok = CausalVideoTokenizer(Causal3DConfig(channels=8)).eval()
    frames = (np.random.default_rng(0).random((7, 44, 60, 3)) * 255).astype(np.uint8)
    whole = tokenize_frames(tok, frames, chunk=5, tile=256)  # one tile; chunks of 5 + 2 frames
    assert whole.shape == (
        2 + 2,
        6,
        8,
    )  # ⌈44/8⌉ × ⌈60/8⌉; 5 frames → 2 token frames, 2 (padded to 5) → 2
    padded = np.pad(frames[:5], ((0, 0), (0, 4), (0, 4), (0, 0)), mode="edge")
    first = tok.encode(torch.from_numpy(padded).permute(3, 0, 1, 2)[None].float() / 255)[0]
    assert torch.equal(whole[:2], first)
    tiled = tokenize_frames(tok, frames, chunk=5, tile=16)
    assert tiled.shape == whole.shape
    with pytest.raises(ValueError, match="chunk"):
        tokenize_frames(tok, frames, chunk=4)


def test_the_video_tokenizer_trains_ships_and_tokenizes_a_video(tmp_path, monkeypatch):
    from vcodec import zoo

    data = smooth_photos(tmp_path, count=2)
    run, out = tmp_path / "run", tmp_path / "zoo" / "vtok"
    args = [
        "train",
        str(run),
        "--data",
        str(data),
        "--architecture",
        "causal-3d",
        "--n",
        "8",
        "--crop",
        "32",
        "--frames",
        "5",
        "--batch",
        "2",
        "--steps",
        "3",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    bad = CliRunner().invoke(
        main,
        [
            "train",
            str(tmp_path / "r2"),
            "--data",
            str(data),
            "--architecture",
            "causal-3d",
            "--n",
            "8",
            "--crop",
            "32",
            "--frames",
            "6",
            "--steps",
            "1",
        ],
    )
    assert bad.exit_code == 1 and "1 + k·4 frames" in bad.output
    result = CliRunner().invoke(main, ["export", str(run), str(out)])
    assert result.exit_code == 0 and "chunk 17:" in result.output, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "video-tokenizer" and config["results"]["dev"]["chunk"] == [17]
    assert "bits/token" in (out / "MODEL_CARD.md").read_text()

    monkeypatch.setenv("VCODEC_CHECKPOINTS", str(out.parent))
    tok = zoo.load("vtok")
    assert isinstance(tok, CausalVideoTokenizer) and tok.prior._cdf_length.numel() == 1
    video = torch.rand(1, 3, 5, 32, 32)
    (stream,) = tok.compress(video)
    assert torch.equal(tok.decompress_tokens(stream), tok.encode(video))
    listing = CliRunner().invoke(main, ["models"])
    assert "vtok: video-tokenizer" in listing.output and "chunk 17:" in listing.output

    clip = write_clip(tmp_path / "clip.mkv", moving_pattern(frames=7, height=40, width=56))
    ids_file = tmp_path / "ids.npy"
    result = CliRunner().invoke(
        main, ["tokenize", str(clip), "-m", "vtok", "--chunk", "5", "--out", str(ids_file)]
    )
    assert result.exit_code == 0 and "4×5×7 tokens (2 chunks" in result.output, result.output
    ids = np.load(ids_file)
    assert ids.shape == (4, 5, 7) and ids.dtype == np.int32
    assert np.array_equal(
        ids,
        tokenize_frames(tok, np.stack(moving_pattern(frames=7, height=40, width=56)), 5).numpy(),
    )
    again = CliRunner().invoke(main, ["tokenize", str(clip), "-m", "vtok", "--out", str(ids_file)])
    assert again.exit_code == 1 and "exists" in again.output
    for wrong, message in (
        (["-k", "4"], "num_tokens applies"),
        (["--chunk", "4"], "1 + k·4"),
    ):
        result = CliRunner().invoke(main, ["tokenize", str(clip), "-m", "vtok", *wrong])
        assert result.exit_code == 1 and message in result.output, result.output
    result = CliRunner().invoke(main, ["tokenize", str(tmp_path), "-m", "vtok"])
    assert result.exit_code == 1 and "one video file" in result.output
    (tmp_path / "tokens.vcd").write_bytes(stream)
    from PIL import Image

    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(tmp_path / "still.png")
    for args in (
        ["encode", str(tmp_path / "still.png"), str(tmp_path / "o.vcd"), "-m", "vtok"],
        ["decode", str(tmp_path / "tokens.vcd"), str(tmp_path / "o.png")],
        ["encode", str(clip), str(tmp_path / "o.vcd"), "-m", "vtok"],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and "vcodec tokenize CLIP -m vtok" in result.output, (
            result.output
        )
        assert not (tmp_path / "o.vcd").exists() and not (tmp_path / "o.png").exists()

    result = CliRunner().invoke(
        main,
        [
            "eval",
            "video",
            str(clip),
            "--methods",
            "vtok",
            "--per-video",
            "--out",
            str(tmp_path / "rd"),
        ],
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "rd" / "vtok.json").read_text())["per_video"]
    assert row["frames"] == 7 and row["chunk"] == 17 and row["bytes"] > 0
    result = CliRunner().invoke(main, ["eval", "images", str(tmp_path), "--methods", "vtok"])
    assert result.exit_code == 1 and "video tokenizer" in result.output


def test_info_counts_a_video_token_stream_in_frames(tmp_path):
    import vcodec

    tokenizer = vcodec.load("vtok-f8t4-v2")
    clip = torch.rand(1, 3, 5, 32, 48)
    stream = tmp_path / "clip.vcd"
    stream.write_bytes(tokenizer.compress(clip)[0])
    result = CliRunner().invoke(main, ["info", str(stream)])
    assert result.exit_code == 0, result.output
    assert "2 token frames (5 video frames)" in result.output
    bpp = float(result.output.split("bpp:")[1].split()[0])
    assert bpp == pytest.approx(stream.stat().st_size * 8 / (5 * 32 * 48), abs=1e-4)


def test_decompress_refuses_a_stream_declaring_a_clip_too_large_to_decode_at_once():
    """Found by the shipped-model fuzzer: a few bytes declaring 65,535 token frames made the decoder
    allocate tens of GB. It is refused for less work than decoding the 5-frame clip it came from (a
    meter limited to that stops a decoder that goes on, before it gets far)."""
    import vcodec
    from vcodec.errors import BitstreamError
    from vcodec.testing.fuzz import WorkMeter
    from vcodec.tokenizers.base import read_token_container, token_container

    tokenizer = vcodec.load("vtok-f8t4-v2")
    clip = torch.rand(1, 3, 5, 32, 32, generator=torch.Generator().manual_seed(0))
    stream = tokenizer.compress(clip)[0]
    payload = read_token_container(stream, tokenizer)[0].sections[1]
    with WorkMeter() as decoding_the_clip:  # tensor elements written + symbols range-decoded
        tokenizer.decompress(stream)
    with (
        WorkMeter(limit=decoding_the_clip.work) as meter,
        pytest.raises(BitstreamError, match="more than decompress decodes in one pass"),
    ):
        tokenizer.decompress(token_container(tokenizer, 32, 32, 60_000, payload))
    assert meter.work < decoding_the_clip.work  # refused from its declared sizes, before decoding
