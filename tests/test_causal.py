"""Causal 3D layers: no output frame depends on a later input frame, and the frame counts work out."""

import torch

from vcodec.layers.causal import CausalConv3d, CausalResBlock, CausalTimeUpsample, SpaceUpsample


def test_outputs_never_see_later_frames():
    torch.manual_seed(0)
    layers = torch.nn.Sequential(
        CausalConv3d(3, 8),
        CausalResBlock(8),
        CausalConv3d(8, 8, stride=(2, 2, 2)),
        CausalTimeUpsample(8),
        SpaceUpsample(8),
    )
    video = torch.rand(1, 3, 9, 16, 16)
    changed = video.clone()
    changed[:, :, 6:] = torch.rand_like(changed[:, :, 6:])  # frames 6, 7, 8 differ
    a, b = layers(video), layers(changed)
    # time stride 2 then ×2: latent frame j covers input frames ≤ 2j, output frame i ≤ latent frame ⌈i/2⌉
    assert a.shape == (1, 8, 9, 16, 16)
    assert torch.equal(a[:, :, :5], b[:, :, :5])
    assert not torch.equal(a[:, :, 6:], b[:, :, 6:])


def test_frame_counts():
    down = CausalConv3d(4, 4, stride=(2, 1, 1))
    up = CausalTimeUpsample(4)
    for frames in (1, 3, 5, 9, 17):
        latent = down(torch.rand(1, 4, frames, 8, 8))
        assert latent.shape[2] == 1 + (frames - 1) // 2
        assert up(latent).shape[2] == frames


def test_the_causal_video_tokenizer_round_trips_shapes_and_is_causal():
    import pytest

    from vcodec.tokenizers.causal3d import Causal3DConfig, CausalVideoTokenizer

    torch.manual_seed(0)
    tok = CausalVideoTokenizer(Causal3DConfig(channels=8)).eval()
    video = torch.rand(2, 3, 9, 32, 48)
    tokens = tok.encode(video)
    assert tokens.shape == (2, 3, 4, 6) and tokens.dtype == torch.int64
    assert 0 <= tokens.min() and tokens.max() < tok.vocab_sizes[0] == 1000
    assert tok.embed(tokens).shape == (2, 3, 4, 6, 4)
    assert tok.decode(tokens).shape == video.shape
    # appending frames leaves the earlier tokens as they were
    longer = torch.cat([video, torch.rand(2, 3, 4, 32, 48)], dim=2)
    assert torch.equal(tok.encode(longer)[:, :3], tokens)
    out = tok(video)
    out[
        "x_hat"
    ].mean().backward()  # gradients reach the encoder through the straight-through quantizer
    assert tok.encoder[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="1 \\+ k·4 frames"):
        tok.encode(torch.rand(1, 3, 8, 32, 32))
    with pytest.raises(ValueError, match="token ids"):
        tok.decode(torch.full((1, 2, 4, 4), 1000))


def test_video_tokens_round_trip_through_bytes():
    import pytest

    from vcodec.errors import BitstreamError
    from vcodec.tokenizers.causal3d import Causal3DConfig, CausalVideoTokenizer

    torch.manual_seed(0)
    tok = CausalVideoTokenizer(Causal3DConfig(channels=8)).eval()
    video = torch.rand(2, 3, 5, 32, 48)
    tokens = tok.encode(video)
    with pytest.raises(RuntimeError, match="fit"):
        tok.compress(video)
    tok.fit_prior(tokens)
    streams = tok.compress(video)
    assert len(streams) == 2
    for stream, expected in zip(streams, tokens):
        assert torch.equal(tok.decompress_tokens(stream)[0], expected)
        assert torch.equal(tok.decompress(stream), tok.decode(expected[None]))
    other = CausalVideoTokenizer(Causal3DConfig(channels=8))
    other.fit_prior(tokens)
    with pytest.raises(BitstreamError, match="made by model"):
        other.decompress(streams[0])
    with pytest.raises(BitstreamError):
        tok.decompress(streams[0][:-5])
