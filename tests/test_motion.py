"""Block motion: estimation, the coded vectors, the exact latent predictor, and the codec that uses them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY

from vcodec.codecs.motion import (
    LatentMotion,
    decode_motion,
    encode_motion,
    estimate_motion,
    shift_latents,
    whole_latents,
)
from vcodec.codecs.video import VideoCodecConfig
from vcodec.entropy.container import FrameType
from vcodec.errors import BitstreamError
from vcodec.registry import build_model, kind
from vcodec.threads import torch_threads


def textured(height: int, width: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(1, 3, height, width, generator=generator)
    return torch.nn.functional.avg_pool2d(noise, 5, 1, 2)


def test_estimation_finds_a_known_shift_and_keeps_static_blocks_still():
    previous = textured(128, 160)
    current = torch.roll(previous, (3, -5), (2, 3))  # current[p] = previous[p - (3, -5)]
    vectors = estimate_motion(current, previous, search=8)
    assert vectors.shape == (1, 2, 4, 5)
    inner = vectors[0, :, 1:-1, 1:-1]
    assert (inner[0] == -3).all() and (inner[1] == 5).all()
    assert not estimate_motion(previous, previous, search=8).any()


def test_whole_latents_round_half_towards_zero():
    vectors = torch.tensor([-24, -9, -8, -1, 0, 7, 8, 9, 24])
    assert whole_latents(vectors).tolist() == [-1, -1, 0, 0, 0, 0, 0, 1, 1]
    latent = torch.arange(12.0).reshape(1, 1, 3, 4)
    whole = torch.zeros(1, 2, 3, 4, dtype=torch.long)
    whole[:, 1] = (
        1  # every position takes its right neighbour's value (the last column keeps its own)
    )
    assert shift_latents(latent, whole)[0, 0].tolist() == [
        [1, 2, 3, 3],
        [5, 6, 7, 7],
        [9, 10, 11, 11],
    ]


def test_motion_vectors_round_trip_and_reject_damage():
    rng = np.random.default_rng(3)
    for count, spread in ((1, 0), (40, 1), (200, 8)):
        vectors = torch.from_numpy(rng.integers(-spread, spread + 1, (count, 2)))
        assert torch.equal(decode_motion(encode_motion(vectors, 8), count, 8), vectors)
    still = encode_motion(torch.zeros(300, 2, dtype=torch.long), 8)
    assert len(still) <= 5  # a still field costs next to nothing
    assert encode_motion(torch.zeros(0, 2, dtype=torch.long), 8) == b""
    with pytest.raises(BitstreamError):
        decode_motion(b"", 4, 8)
    with pytest.raises(BitstreamError):
        decode_motion(b"\xff\x00\x00\x00\x00", 4, 8)
    with pytest.raises(BitstreamError):
        decode_motion(b"\x01", 0, 8)
    # vectors that sum beyond the search range cannot come from an encoder
    far = encode_motion(torch.tensor([[8, 8], [8, 8]]), 8)
    with pytest.raises(BitstreamError, match="beyond"):
        decode_motion(far, 2, 4)


def test_the_exact_predictor_matches_the_float_one():
    torch.manual_seed(0)
    motion = LatentMotion(6, 8)
    with torch.no_grad():
        motion.net[-1].weight.normal_(0, 0.1)
    latent = torch.randn(1, 6, 8, 10).mul(3).round()
    vectors = torch.randint(-20, 21, (1, 2, 4, 5))
    exact = motion.exact()(latent, vectors)
    assert torch.allclose(exact.float(), motion(latent, vectors).detach(), atol=2e-2)
    with torch_threads(1):
        assert torch.equal(exact, motion.exact()(latent, vectors))


def motion_codec():
    torch.manual_seed(0)
    model = build_model(
        VideoCodecConfig(**TINY, temporal_width=8, motion_search=4, motion_width=8), "tiny-motion"
    )
    with torch.no_grad():
        for p in model.intra.g_a.parameters():
            p.mul_(3)
        model.prior.start_from(model.intra)
        for p in [*model.prior.temporal.parameters(), *model.prior.motion.parameters()]:
            p.add_(0.05 * torch.randn_like(p))
    return model.eval().update() or model


def test_a_motion_codec_decodes_exactly_what_it_encoded():
    codec = motion_codec()
    base = textured(96, 160)
    frames = [torch.roll(base, (0, 2 * t), (2, 3)) for t in range(5)]
    coded = list(codec.encode_and_reconstruct(frames, quality=3, intra_period=4, skip_weight=1000))
    predicted = [p for p, _ in coded if p.frame_type == FrameType.PREDICTED]
    assert len(predicted) == 3 and all(len(p.sections) == 5 for p in predicted)
    assert any(p.sections[1] for p in predicted)  # coded blocks carry their vectors
    decoded = list(codec.decode([p for p, _ in coded], 160, 96, 3))
    assert all(
        torch.equal(frame, reconstruction) for frame, (_, reconstruction) in zip(decoded, coded)
    )
    damaged = [p for p, _ in coded]
    damaged[1].sections[1] = b"\xff"
    with pytest.raises(BitstreamError, match="frame 1"):
        list(codec.decode(damaged, 160, 96, 3))


def test_a_codec_without_motion_keeps_its_config_and_a_prior_gains_motion_from_one_without():
    plain = VideoCodecConfig(**TINY, temporal_width=8)
    assert "motion_search" not in plain.to_dict()
    assert VideoCodecConfig.from_dict(plain.to_dict()) == plain
    with_motion = VideoCodecConfig(**TINY, temporal_width=8, motion_search=4, motion_width=8)
    assert VideoCodecConfig.from_dict(with_motion.to_dict()) == with_motion
    source = build_model(plain, "plain")
    target = build_model(with_motion, "moving")
    kind("video-codec").initialise(target, source.state_dict(), None, print)
    assert torch.equal(target.prior.temporal[0].weight, source.prior.temporal[0].weight)
    assert not target.prior.motion.net[-1].weight.any()  # the predictor starts as the identity
    with pytest.raises(ValueError, match="differ"):
        kind("video-codec").initialise(source, target.state_dict(), None, print)


def test_deforming_and_changing_clips_add_change_that_motion_does_not_explain_and_cost_nothing_when_off():
    from vcodec.train.data import SyntheticMotion

    rng = np.random.default_rng(0)
    photos = [
        np.asarray(
            torch.nn.functional.avg_pool2d(torch.from_numpy(rng.random((3, 160, 160))), 9, 1, 4)
            .mul(255)
            .round()
            .byte()
            .permute(1, 2, 0)
        )
        for _ in range(3)
    ]
    plain = SyntheticMotion(photos, crop=64, seed=2).batch(16)
    assert torch.equal(
        SyntheticMotion(photos, crop=64, seed=2, deform=0.0, change=0.0).batch(16), plain
    )
    turning = SyntheticMotion(photos, crop=64, seed=2, deform=1.0).batch(16)
    assert turning.shape == plain.shape and 0 <= turning.min() and turning.max() <= 1

    def change(pairs: torch.Tensor) -> float:
        return (pairs[:, 1] - pairs[:, 0]).abs().mean().item()

    assert change(turning) > 1.2 * change(plain)
    changing = SyntheticMotion(photos, crop=64, seed=2, change=1.0).batch(16)
    assert changing.shape == plain.shape and change(changing) > 1.2 * change(plain)


def test_data_shares_outside_zero_to_one_are_refused():
    from vcodec.errors import VcodecError
    from vcodec.train.config import parse_config

    text = '[model]\narchitecture = "temporal-checkerboard"\n[data]\npath = "p.npz"\nchange = {}\n'
    assert parse_config(text.format(0.5)).train.change == 0.5
    with pytest.raises(
        VcodecError, match=r"\[data\]: change is a share of the clips, from 0 to 1; got 1.5"
    ):
        parse_config(text.format(1.5))
