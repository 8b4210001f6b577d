"""The causal video tokenizer in an image codec's latent space (latent-video): its transform code,
causality, G sub-token ids and streams, the declared codec, and the shipped ltokv-f16t4 against the
pixel-trained vtok-f8t4-v2."""

import json

import numpy as np
import pytest
import torch

import vcodec
from vcodec import registry, zoo
from vcodec.errors import BitstreamError, VcodecError
from vcodec.tokenizers.video import tokenize_frames


def _clip(frames: int = 5, height: int = 32, width: int = 48, seed: int = 0) -> torch.Tensor:
    """1×3×T×H×W: a smooth random pattern panning one pixel a frame (so frames share most content)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(
        torch.rand(1, 3, height // 4, width // 4 + frames, generator=g),
        size=(height, width + 4 * frames),
        mode="bilinear",
    )
    return torch.stack([base[..., t : t + width] for t in range(frames)], dim=2)


@pytest.fixture(scope="module")
def tokenizer():
    torch.manual_seed(0)
    model = zoo.build(registry.architecture("latent-video").tiny_config(), "tiny-video").eval()
    model.codec_dtype = torch.float32
    model.fit_start(torch.cat([_clip(seed=s) for s in range(8)]))
    model.fit_prior(model.encode(torch.cat([_clip(seed=s) for s in range(8, 12)])))
    return model


def test_ids_are_a_token_frame_per_group_of_sub_tokens(tokenizer):
    clip = _clip(frames=9)
    ids = tokenizer.encode(clip)
    assert ids.shape == (1, 3, 2, 3, 2)  # 1 + 8/4 token frames of (32/16)×(48/16), G = 2
    assert all(int(ids[..., g].max()) < v for g, v in enumerate(tokenizer.vocab_sizes))
    video = tokenizer.decode(ids)
    assert video.shape == clip.shape and 0 <= video.min() and video.max() <= 1
    with pytest.raises(ValueError, match="B×T'×h×w×2"):
        tokenizer.decode(ids[..., 0])
    with pytest.raises(ValueError, match="1 \\+ k·4 frames"):
        tokenizer.encode(clip[:, :, :4])
    with pytest.raises(ValueError, match="at least 1 \\+ 4 frames"):
        tokenizer.fit_start(clip[:, :, :1])


def test_first_and_later_token_frames_are_coded_under_their_own_tables(tokenizer):
    """The first token frame (one frame's transform) and the groups' have their own histograms."""
    groups = len(tokenizer.vocab_sizes)
    tables = tokenizer._table_indexes((3, 2, 3)).reshape(3, 6, groups)
    assert (tables[0] == 2 * np.arange(groups)).all()
    assert (tables[1:] == 2 * np.arange(groups) + 1).all()
    for logits in tokenizer.prior.logits:  # fitted to different counts
        assert not torch.allclose(logits[0], logits[1])
    clip = _clip(frames=9)
    (stream,) = tokenizer.compress(clip)
    assert torch.equal(tokenizer.decompress_tokens(stream), tokenizer.encode(clip))


def test_a_clips_first_tokens_do_not_change_when_frames_are_appended(tokenizer):
    clip = _clip(frames=9)
    assert torch.equal(tokenizer.encode(clip)[:, :2], tokenizer.encode(clip[:, :, :5]))


def test_four_frames_of_a_group_cost_one_token_frame_and_lose_no_more_than_the_first(tokenizer):
    """The group transform codes 4 frames in the tokens the first frame gets alone, and (on a slow
    pan, as it was fitted to) reconstructs each of them about as well as the first."""
    clip = _clip(frames=9, seed=20)
    ids = tokenizer.encode(clip)
    error = (tokenizer.decode(ids) - clip).pow(2).mean(dim=(0, 1, 3, 4))  # per frame
    assert ids.shape[1] == 3 and (error[1:] <= 1.2 * error[0]).all(), error


def test_streams_round_trip_and_refuse_other_data(tokenizer):
    clip = torch.cat([_clip(frames=5, seed=30), _clip(frames=5, seed=31)])
    streams = tokenizer.compress(clip)
    ids = tokenizer.encode(clip)
    for i, stream in enumerate(streams):
        assert torch.equal(tokenizer.decompress_tokens(stream), ids[i : i + 1])
        assert torch.allclose(tokenizer.decompress(stream), tokenizer.decode(ids[i : i + 1]))
    with pytest.raises(BitstreamError):
        tokenizer.decompress(streams[0][:-6])


def test_tokenize_frames_keeps_the_sub_tokens(tokenizer):
    frames = (np.random.default_rng(0).random((6, 40, 50, 3)) * 255).astype(np.uint8)
    ids = tokenize_frames(tokenizer, frames, chunk=5, tile=32)
    assert ids.shape == (2 + 1, 3, 4, 2)  # ⌈40/16⌉ × ⌈50/16⌉; chunks of 5 and 1 frames


def test_the_codec_is_declared_not_copied(tokenizer, tmp_path):
    folder = tmp_path / "tiny-video"
    zoo.save_checkpoint(tokenizer, folder, {}, "# tiny\n")
    record = json.loads((folder / "config.json").read_text())
    assert record["codec"]["name"] == "checkerboard-medium-v2"
    loaded = zoo.load(folder)
    loaded.codec_dtype = torch.float32
    clip = _clip()
    assert torch.equal(loaded.encode(clip), tokenizer.encode(clip))
    assert not any(key.startswith("_codec") or "g_a" in key for key in loaded.state_dict())
    record["codec"]["weights_hash"] = "00" * 8
    (folder / "config.json").write_text(json.dumps(record))
    with pytest.raises(VcodecError, match="built on checkerboard-medium-v2 with weights 0000"):
        zoo.load(folder)


def test_the_shipped_latent_video_tokenizer_beats_the_pixel_one_on_a_pan():
    """ltokv-f16t4 against vtok-f8t4-v2 on a 9-frame pan of a development image: better PSNR from
    fewer bytes (the margin on the development clips is 5 dB; here at least 2 dB)."""
    from vcodec.eval.datasets import development_images

    image = torch.from_numpy(development_images()["astronaut"]).permute(2, 0, 1).float() / 255
    clip = torch.stack([image[:, 40 + t : 168 + t, 60 + 2 * t : 252 + 2 * t] for t in range(9)], 1)
    clip = clip[None]
    results = {}
    for name in ("ltokv-f16t4", "vtok-f8t4-v2"):
        tok = vcodec.load(name)
        (stream,) = tok.compress(clip)
        mse = (tok.decompress(stream) - clip).pow(2).mean()
        results[name] = (len(stream), float(-10 * torch.log10(mse)))
    (latent_bytes, latent_psnr), (pixel_bytes, pixel_psnr) = results.values()
    assert latent_bytes < pixel_bytes and latent_psnr > pixel_psnr + 2, results
