"""The channel-conditional codec: ELIC's groups, and its start from a checkerboard codec."""

import pytest
import torch

from vcodec.codecs import CodecConfig
from vcodec.codecs.channel import ChannelCheckerboardCodec, channel_groups
from vcodec.codecs.hyperprior import CheckerboardCodec
from vcodec.train.loop import load_modules

SHARED = ("g_a", "g_s", "h_a", "h_s", "z_gain", "z_model", "y_gain", "y_model")


def test_groups_are_elics_uneven_split():
    assert channel_groups(128) == [16, 16, 32, 64]
    assert channel_groups(24) == [3, 3, 6, 12]
    with pytest.raises(ValueError, match="multiple of 8"):
        channel_groups(20)


def test_adopting_a_checkerboard_codec_starts_every_group_at_its_anchor_parameters():
    config = dict(n=16, m=24, lambdas=(0.01, 0.02))
    torch.manual_seed(0)
    source = CheckerboardCodec(CodecConfig("mean-scale-checkerboard", **config))
    model = ChannelCheckerboardCodec(CodecConfig("channel-checkerboard", **config))
    load_modules(model, source.state_dict(), SHARED)
    assert model.adopt(source.state_dict()) == ["entropy_parameters → group_parameters"]
    features = torch.randn(1, 48, 5, 7)
    with torch.no_grad():
        scales, means = source._params(features, None)
        start = 0
        for k, g in enumerate(model.groups):
            earlier = torch.randn(1, start, 5, 7) if k else None
            group_scales, group_means = model._params(k, (features, earlier), None)
            assert torch.allclose(group_scales, scales[:, start : start + g], atol=1e-6)
            assert torch.allclose(group_means, means[:, start : start + g], atol=1e-6)
            start += g
    assert model.adopt({}) == []  # nothing to adopt from another architecture
