"""The four-pass codec: it starts as the checkerboard codec it loads, and codes exactly with its
corrections trained (1 and 2 threads, float pass = exact pass)."""

import pytest
import torch

from vcodec.codecs import CodecConfig
from vcodec.codecs.four_pass import FourPassCodec
from vcodec.codecs.hyperprior import CheckerboardCodec
from vcodec.latent_codecs.four_pass import phase_masks
from vcodec.testing.tiny import strengthen

CONFIG = dict(n=16, m=24, lambdas=(0.01, 0.02))


def _pair() -> tuple[CheckerboardCodec, FourPassCodec]:
    """A checkerboard codec, and a four-pass codec with its weights (corrections at zero)."""
    torch.manual_seed(0)
    source = CheckerboardCodec(CodecConfig("mean-scale-checkerboard", **CONFIG))
    with torch.no_grad():
        strengthen(source.g_a)
    model = FourPassCodec(CodecConfig("mean-scale-four-pass", **CONFIG))
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    assert not unexpected and {k.split(".")[0] for k in missing} == {
        "pass_context",
        "pass_correction",
    }
    for codec in (source, model):
        codec.eval().update()
    return source, model


def _corrected(model: FourPassCodec) -> FourPassCodec:
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for network in model.pass_correction:
            last = network[-1]
            last.weight.copy_(0.2 * torch.randn(last.weight.shape, generator=generator))
    model.forget_coding_state()
    model.update()
    return model


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(3))


def test_the_passes_tile_every_2x2_block_once():
    masks = phase_masks(4, 6)
    assert torch.equal(sum(m.int() for m in masks), torch.ones(4, 6, dtype=torch.int))
    assert masks[0][0, 0] and masks[1][1, 1] and masks[2][0, 1] and masks[3][1, 0]


def test_with_zero_corrections_it_is_the_checkerboard_codec(image):
    source, model = _pair()
    y = source.g_a(image).detach()
    q = torch.tensor([1])
    with torch.no_grad():
        expected, expected_likelihoods = source.forward_latent(y, q)
        got, likelihoods = model.forward_latent(y, q)
    assert torch.equal(got, expected) and torch.equal(likelihoods["y"], expected_likelihoods["y"])
    reconstruction = model.decompress(model.compress(image, quality=2))
    assert torch.equal(reconstruction, source.reconstruction(image, 2))


def test_corrections_change_the_stream_and_it_decodes_to_the_encoders_reconstruction(image):
    _, model = _pair()
    plain = model.compress(image, quality=2)
    model = _corrected(model)
    data = model.compress(image, quality=2)
    assert data != plain
    assert torch.equal(model.decompress(data), model.reconstruction(image, 2))


def test_the_float_pass_codes_what_the_exact_coder_codes(image):
    model = _corrected(_pair()[1])
    y = model.g_a(image).detach()
    q = torch.tensor([1])
    with torch.no_grad():
        _, exact = model._compress_latent(y, q)
        rounded, _ = model.latent.relaxed(y, q, torch.round)
    assert ((rounded - exact).abs() < 1e-3).float().mean() > 0.99


def test_same_bytes_on_one_and_two_threads(image):
    model = _corrected(_pair()[1])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = model.compress(image, quality=1)
        torch.set_num_threads(2)
        two = model.compress(image, quality=1)
    finally:
        torch.set_num_threads(threads)
    assert one == two
