"""Integer-exact evaluation of the small networks that predict entropy parameters.

An encoder and a decoder must compute the same probabilities for every symbol, bit for bit, or the
range decoder produces garbage. Float convolutions do not promise that: their sums run in an order
that depends on the thread count, the batch size, the CPU's vector width and the device. So the
networks whose outputs the coder sees (hyper-synthesis, checkerboard context, entropy parameters) are
run here in fixed point: activations and weights are integers, stored in float64, so every product
and every partial sum is an exactly representable integer (all stay below 2**53) and the result of a
convolution is the same in any summation order. Between layers, values are rescaled with
power-of-two divisions and floors, and leaky ReLUs use one IEEE multiplication, both correctly
rounded on every IEEE-754 machine. (Ballé et al., "Integer Networks for Data Compression with Latent-
Variable Models", ICLR 2019, trains such networks; here trained float networks are quantized after
training, which costs far less than 1 % of the rate.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATION_BITS = 12  # activations are integers in units of 2**-12
ACTIVATION_LIMIT = float(1 << 24)  # |activation| ≤ 4096 in real units
WEIGHT_BITS = 14  # the largest weight of a layer becomes ±2**14
_LIMIT = 1 << 53


def to_fixed(x: Tensor, limit: float = ACTIVATION_LIMIT) -> Tensor:
    """Real values → integer activations (float64), rounded half to even and clamped to ±``limit``."""
    return torch.round(x.double() * (1 << ACTIVATION_BITS)).clamp_(-limit, limit)


def from_fixed(x: Tensor) -> Tensor:
    """Integer activations → real values (float64, exact)."""
    return x / (1 << ACTIVATION_BITS)


def integer_weights(
    weight: Tensor, bias: Tensor, fan_in_dims: tuple[int, ...], limit: float = ACTIVATION_LIMIT
) -> tuple[int, Tensor, Tensor]:
    """(shift, W, b) of a layer in fixed point: W = round(weight·2**shift) with its largest entry near
    ±2**WEIGHT_BITS, b in units of the activations times 2**shift. ValueError when a sum over
    ``fan_in_dims`` of activations up to ``limit`` could leave the integers float64 holds exactly."""
    largest = weight.abs().max().item()
    shift = WEIGHT_BITS - (math.frexp(largest)[1] if largest else 0)
    weight = torch.round(weight * 2.0**shift)
    bias = torch.round(bias * 2.0 ** (shift + ACTIVATION_BITS))
    if weight.abs().sum(dim=fan_in_dims).max().item() * limit + bias.abs().max().item() >= _LIMIT:
        raise ValueError("layer too wide for exact float64 accumulation")
    return shift, weight, bias


def rescale(acc: Tensor, shift: int, limit: float = ACTIVATION_LIMIT) -> Tensor:
    """An exact integer accumulator back to activations: floor(acc / 2**shift + 1/2), clamped."""
    return torch.floor(acc * 2.0**-shift + 0.5).clamp_(-limit, limit)


class _ExactLayer:
    """One convolution with integer weights: y = floor((conv(x, W) + b) / 2**shift + 1/2)."""

    def __init__(self, layer: nn.Conv2d | nn.ConvTranspose2d):
        weight = layer.weight.detach().double()
        if hasattr(layer, "mask"):
            weight = weight * layer.mask.double()
        bias = (
            layer.bias.detach().double()
            if layer.bias is not None
            else torch.zeros(layer.out_channels, dtype=torch.float64)
        )
        self.transposed = isinstance(layer, nn.ConvTranspose2d)
        self.shift, self.weight, self.bias = integer_weights(
            weight, bias, (0, 2, 3) if self.transposed else (1, 2, 3)
        )
        self.stride, self.padding = layer.stride, layer.padding
        self.output_padding = getattr(layer, "output_padding", 0)

    def __call__(self, x: Tensor) -> Tensor:
        weight, bias = self.weight.to(x.device), self.bias.to(x.device).reshape(1, -1, 1, 1)
        if self.transposed:
            acc = F.conv_transpose2d(
                x, weight, None, self.stride, self.padding, self.output_padding
            )
        elif weight.shape[-2:] == (1, 1) and self.stride == (1, 1):  # pointwise: one matrix product
            acc = torch.einsum("oi,bihw->bohw", weight[:, :, 0, 0], x)
        else:
            acc = F.conv2d(x, weight, None, self.stride, self.padding)
        return rescale(acc + bias, self.shift)

    def at_positions(self, x: Tensor, positions: Tensor) -> Tensor:
        """Outputs (1×C_out×P) of a stride-1 convolution at the True ``positions`` (H×W) only.

        Gathers just the taps whose weights are not all zero (12 of 25 for a checkerboard mask), so
        a masked convolution evaluated at half the positions costs a quarter of the full one.
        """
        if self.transposed or self.stride != (1, 1) or x.shape[0] != 1:
            raise ValueError("at_positions needs a stride-1 convolution and a batch of one")
        kh, kw = self.weight.shape[-2:]
        ph, pw = self.padding
        padded = F.pad(x[0], (pw, pw, ph, ph))
        rows, cols = positions.nonzero(as_tuple=True)
        taps = [(i, j) for i in range(kh) for j in range(kw) if self.weight[:, :, i, j].any()]
        columns = torch.cat([padded[:, rows + i, cols + j] for i, j in taps])
        weight = torch.cat([self.weight[:, :, i, j] for i, j in taps], dim=1).to(x.device)
        acc = weight @ columns + self.bias.to(x.device).reshape(-1, 1)
        return rescale(acc, self.shift).unsqueeze(0)


class _ExactLeakyReLU:
    def __init__(self, slope: float):
        self.slope = float(slope)

    def __call__(self, x: Tensor) -> Tensor:
        return torch.where(x < 0, torch.floor(x * self.slope), x)


class ExactStack:
    """A frozen, integer-exact copy of a stack of Conv2d / ConvTranspose2d / (Leaky)ReLU layers.

    Takes and returns integer activations (see :func:`to_fixed`); rebuild it when weights change.
    """

    def __init__(self, layers: nn.Module | Iterable[nn.Module]):
        modules = (
            list(layers)
            if isinstance(layers, nn.Sequential)
            else ([layers] if isinstance(layers, nn.Module) else list(layers))
        )
        self.layers = [self._convert(m) for m in modules]

    @staticmethod
    def _convert(module: nn.Module):
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            return _ExactLayer(module)
        if isinstance(module, nn.LeakyReLU):
            return _ExactLeakyReLU(module.negative_slope)
        if isinstance(module, nn.ReLU):
            return _ExactLeakyReLU(0.0)
        raise TypeError(f"no exact version of {type(module).__name__}")

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        with _exact_backend():
            for layer in self.layers:
                x = layer(x)
        return x


class _exact_backend:
    """On CUDA, turn cuDNN off so float64 convolutions use plain GEMMs (no FFT/Winograd rounding)."""

    def __enter__(self):
        self.previous = torch.backends.cudnn.enabled
        torch.backends.cudnn.enabled = False

    def __exit__(self, *exc):
        torch.backends.cudnn.enabled = self.previous
