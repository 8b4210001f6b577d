"""The fixed-point path gives the same integers whatever the summation order, batch or thread count."""

import pytest
import torch
from torch import nn

from vcodec.layers import CheckerboardConv2d
from vcodec.layers.exact import ExactStack, from_fixed, to_fixed
from vcodec.threads import torch_threads


def stack() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.ConvTranspose2d(24, 32, 5, stride=2, padding=2, output_padding=1),
        nn.LeakyReLU(),
        nn.Conv2d(32, 48, 3, padding=1),
        nn.LeakyReLU(),
        nn.Conv2d(48, 16, 1),
    )


def test_result_does_not_depend_on_channel_order_batch_or_threads():
    net = stack()
    x = to_fixed(torch.randn(3, 24, 7, 9) * 4)
    reference = ExactStack(net)(x)
    # the same network with its input channels permuted sums the products in another order
    permutation = torch.randperm(24)
    permuted = stack()
    permuted.load_state_dict(net.state_dict())
    with torch.no_grad():
        permuted[0].weight.copy_(net[0].weight[permutation])
    assert torch.equal(ExactStack(permuted)(x[:, permutation]), reference)
    assert torch.equal(ExactStack(net)(x[1:2]), reference[1:2])
    with torch_threads(1):
        assert torch.equal(ExactStack(net)(x), reference)


def test_fixed_point_output_is_close_to_the_float_network():
    net = stack()
    x = torch.randn(2, 24, 7, 9)
    with torch.no_grad():
        expected = net(x).double()
    got = from_fixed(ExactStack(net)(to_fixed(x)))
    assert (got - expected).abs().max().item() < 1e-2 * expected.abs().max().item()


def test_checkerboard_context_at_positions_equals_the_full_convolution():
    torch.manual_seed(1)
    conv = CheckerboardConv2d(8, 12, 5)
    x = to_fixed(torch.randn(1, 8, 6, 7))
    exact = ExactStack(conv)
    positions = torch.rand(6, 7) > 0.5
    assert torch.equal(exact.layers[0].at_positions(x, positions), exact(x)[..., positions])


def test_unsupported_layers_are_refused():
    with pytest.raises(TypeError, match="no exact version"):
        ExactStack(nn.Sequential(nn.Conv2d(1, 1, 1), nn.Sigmoid()))
