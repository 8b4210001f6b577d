"""The checkerboard codec with channel groups inside each half: it starts as the checkerboard codec
it loads, codes exactly with corrections and any channel order, and orders channels by rate."""

import pytest
import torch

from vcodec.codecs import CodecConfig
from vcodec.codecs.checkerboard_channel import CheckerboardChannelCodec, channel_groups
from vcodec.codecs.hyperprior import CheckerboardCodec
from vcodec.testing.tiny import strengthen

CONFIG = dict(n=16, m=24, lambdas=(0.01, 0.02))


def _pair(seed: int = 0) -> tuple[CheckerboardCodec, CheckerboardChannelCodec]:
    """A checkerboard codec, and a channel codec with its weights (corrections at their zero start)."""
    torch.manual_seed(seed)
    source = CheckerboardCodec(CodecConfig("mean-scale-checkerboard", **CONFIG))
    with torch.no_grad():
        strengthen(source.g_a)
    model = CheckerboardChannelCodec(CodecConfig("mean-scale-checkerboard-channel", **CONFIG))
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    assert not unexpected and {k.split(".")[0] for k in missing} == {
        "channel_order",
        "channel_correction",
    }
    for codec in (source, model):
        codec.eval().update()
    return source, model


def _corrected(model: CheckerboardChannelCodec, seed: int = 1) -> CheckerboardChannelCodec:
    """The same model with non-zero corrections and a shuffled channel order."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for network in model.channel_correction:
            last = network[-1]
            last.weight.copy_(0.05 * torch.randn(last.weight.shape, generator=generator))
        model.channel_order.copy_(torch.randperm(CONFIG["m"], generator=generator))
    model.forget_coding_state()
    model.update()
    return model


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(1, 3, 64, 128, generator=torch.Generator().manual_seed(3))


def test_groups_are_elics_uneven_split():
    assert channel_groups(128) == [16, 16, 32, 64]
    assert channel_groups(24) == [3, 3, 6, 12]
    with pytest.raises(ValueError, match="multiple of 8"):
        channel_groups(20)


def test_with_zero_corrections_it_is_the_checkerboard_codec(image):
    source, model = _pair()
    y = source.g_a(image).detach()
    q = torch.tensor([1])
    with torch.no_grad():
        expected, expected_likelihoods = source.forward_latent(y, q)
        got, likelihoods = model.forward_latent(y, q)
    assert torch.equal(got, expected) and torch.equal(likelihoods["y"], expected_likelihoods["y"])
    assert torch.equal(
        model.decompress(model.compress(image, quality=2)), source.reconstruction(image, 2)
    )


def test_corrections_change_the_stream_and_it_still_decodes_exactly(image):
    source, model = _pair()
    plain = model.compress(image, quality=2)
    model = _corrected(model)
    data = model.compress(image, quality=2)
    assert data != plain
    assert torch.equal(model.decompress(data), model.reconstruction(image, 2))


def test_the_float_pass_codes_what_the_exact_coder_codes(image):
    """What training optimises is what the coder codes: the float pass's rounded ŷ agrees with the
    exact path's (up to fixed-point rounding, which may flip a rare near-tie)."""
    _, model = _pair()
    model = _corrected(model)
    y = model.g_a(image).detach()
    q = torch.tensor([1])
    with torch.no_grad():
        _, exact = model._compress_latent(y, q)
        rounded, _ = model.latent.relaxed(y, q, torch.round)
    assert ((rounded - exact).abs() < 1e-3).float().mean() > 0.99


def test_same_bytes_on_one_and_two_threads(image):
    _, model = _pair()
    model = _corrected(model)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = model.compress(image, quality=1)
        torch.set_num_threads(2)
        two = model.compress(image, quality=1)
    finally:
        torch.set_num_threads(threads)
    assert one == two


def test_channels_are_ordered_by_their_bits_highest_first(image):
    _, model = _pair()
    y = model.g_a(image).detach()
    order = model.order_channels(y)
    assert sorted(order.tolist()) == list(range(CONFIG["m"]))
    with torch.no_grad():
        _, likelihoods = model.forward_latent(y, torch.tensor([1]))
    bits = -torch.log2(likelihoods["y"]).mean(dim=(0, 2, 3))
    assert torch.all(bits[order][:-1] >= bits[order][1:])
