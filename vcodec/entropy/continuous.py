"""Entropy models for continuous latents: CompressAI's factorized bottleneck and Gaussian conditional,
coded through our range-coder module (:mod:`vcodec.entropy.coder`) instead of CompressAI's rANS.

Both models quantize to integers around a centre (the channel median, or the predicted mean), so
what the coder sees is an integer symbol and an integer table index.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from vcodec._compressai import EntropyBottleneck, GaussianConditional
from vcodec.entropy import coder
from vcodec.entropy.coder import CdfTables


def scale_table(low: float = 0.11, high: float = 64.0, levels: int = 160) -> list[float]:
    """Log-spaced Gaussian scales whose CDFs are tabulated.

    Adjacent scales differ by 4 %, so rounding a predicted scale up to the table costs well under
    1 % of the rate (CompressAI's 64 levels up to 256 cost 2–4 % at low rates). Larger scales use
    the top entry; the rare values beyond its range are escaped.
    """
    return [math.exp(v) for v in np.linspace(math.log(low), math.log(high), levels)]


def _tables(model: nn.Module) -> CdfTables:
    return CdfTables(
        model._quantized_cdf.cpu().numpy(),
        model._cdf_length.cpu().numpy(),
        model._offset.cpu().numpy(),
    )


def _round_symbols(residual: Tensor) -> Tensor:
    """Integer symbols of a (value − centre) residual, clamped to what the coder can represent."""
    return torch.round(residual).clamp_(-coder.ESCAPE_LIMIT, coder.ESCAPE_LIMIT)


class _TabulatedModel(nn.Module):
    """An entropy model whose integer CDF tables (buffers of a CompressAI model) feed the range coder."""

    def __init__(self):
        super().__init__()
        self._cached_tables: CdfTables | None = None

    def _compressai_model(self) -> nn.Module:
        raise NotImplementedError

    def _tabulate(self) -> None:
        raise NotImplementedError

    def update(self) -> None:
        """Recompute the CDF tables from the current parameters (after training)."""
        self._tabulate()
        self._cached_tables = None

    @property
    def tables(self) -> CdfTables:
        if self._cached_tables is None:
            self._cached_tables = _tables(self._compressai_model())
        return self._cached_tables

    def _load_from_state_dict(self, *args, **kwargs):
        self._cached_tables = None  # new weights bring new tables
        super()._load_from_state_dict(*args, **kwargs)


class FactorizedModel(_TabulatedModel):
    """Fully factorized density per channel (Ballé 2018), for z or for y without side information."""

    def __init__(self, channels: int):
        super().__init__()
        self.bottleneck = EntropyBottleneck(channels)

    def _compressai_model(self) -> nn.Module:
        return self.bottleneck

    def _tabulate(self) -> None:
        self.bottleneck.update(force=True)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Training/eval pass: (quantized or noisy x, likelihoods)."""
        return self.bottleneck(x)

    def aux_loss(self) -> Tensor:
        return self.bottleneck.loss()

    def relaxed(self, x: Tensor, quantize) -> tuple[Tensor, Tensor]:
        """x rounded around the channel medians by ``quantize`` (any differentiable rounding), and the
        bits of each element under the density: an encoder's objective, not what the coder uses."""
        medians = self.bottleneck._get_medians()  # C×1×1
        values = x.transpose(0, 1)
        shape = values.shape
        values = values.reshape(shape[0], 1, -1)
        rounded = quantize(values - medians) + medians
        likelihood, _, _ = self.bottleneck._likelihood(rounded)
        bits = -torch.log2(self.bottleneck.likelihood_lower_bound(likelihood))
        return rounded.reshape(shape).transpose(0, 1), bits.reshape(shape).transpose(0, 1)

    def _medians(self) -> Tensor:
        return self.bottleneck._get_medians().detach().double().reshape(1, -1, 1, 1)

    def _channel_indexes(self, shape: torch.Size) -> np.ndarray:
        return np.broadcast_to(np.arange(shape[1]).reshape(1, -1, 1, 1), shape)

    def _symbols(self, x: Tensor) -> tuple[Tensor, Tensor]:
        medians = self._medians()
        return _round_symbols(x.double() - medians), medians

    def quantize(self, x: Tensor) -> Tensor:
        """x̂ (float64) as :meth:`compress` would code it, without coding it (an encoder's estimate)."""
        symbols, medians = self._symbols(x)
        return symbols + medians

    def compress(self, x: Tensor) -> tuple[bytes, Tensor]:
        """Code ``x`` (B×C×H×W); returns the bytes and x̂ (float64) exactly as the decoder rebuilds it."""
        symbols, medians = self._symbols(x)
        data = coder.encode(symbols.cpu().numpy(), self._channel_indexes(x.shape), self.tables)
        return data, symbols + medians

    def decompress(self, data: bytes, shape: tuple[int, int, int, int]) -> Tensor:
        medians = self._medians()
        values = coder.decode(data, self._channel_indexes(torch.Size(shape)), self.tables)
        return torch.from_numpy(values).to(medians) + medians


class GaussianModel(_TabulatedModel):
    """Gaussian conditional (Ballé 2018 / Minnen 2018): per-element scale and mean from side information."""

    def __init__(self, scales: list[float] | None = None):
        super().__init__()
        self.scales = list(scales or scale_table())
        self.conditional = GaussianConditional(self.scales)

    def _compressai_model(self) -> nn.Module:
        return self.conditional

    def _tabulate(self) -> None:
        self.conditional.update_scale_table(self.scales, force=True)

    def forward(
        self, y: Tensor, scales: Tensor, means: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        return self.conditional(y, scales, means)

    def indexes(self, scales: Tensor) -> np.ndarray:
        """The scale-table entry of each element: the smallest tabulated scale ≥ its scale.

        Pure comparisons, so identical everywhere when ``scales`` is (see vcodec.layers.exact).
        """
        table = self.conditional.scale_table.to(torch.float64)
        index = torch.searchsorted(table, scales.detach().to(torch.float64).contiguous())
        return index.clamp_(max=len(table) - 1).cpu().numpy()

    def bits(self, values: Tensor, scales: Tensor, means: Tensor) -> Tensor:
        """Estimated bits of already-quantized ``values`` (an encoder's decisions; not what the coder uses)."""
        likelihood = self.conditional._likelihood(values.float(), scales.float(), means.float())
        return -torch.log2(self.conditional.likelihood_lower_bound(likelihood))

    def rd_values(self, y: Tensor, scales: Tensor, means: Tensor, weight: Tensor | float) -> Tensor:
        """Rate–distortion-optimised quantization (an encoder's choice; any values decode): per element,
        the symbol round(y − mean) or the one next to it towards zero, whichever costs less in
        ``weight``·(y − ŷ)² + bits. Returns the chosen ŷ (float64), to be passed to :meth:`compress`."""
        means = means.double()
        residual = y.double() - means
        nearest = _round_symbols(residual)
        smaller = nearest - torch.sign(nearest)

        def cost(symbols: Tensor) -> Tensor:
            return (
                weight * (residual - symbols).pow(2)
                + self.bits(symbols, scales, torch.zeros_like(scales)).double()
            )

        return torch.where(cost(smaller) < cost(nearest), smaller, nearest) + means

    def compress(self, y: Tensor, scales: Tensor, means: Tensor) -> tuple[bytes, Tensor]:
        """Code ``y`` given its entropy parameters; returns the bytes and ŷ = symbols + means (float64)."""
        means = means.double()
        symbols = _round_symbols(y.double() - means)
        return coder.encode(
            symbols.cpu().numpy(), self.indexes(scales), self.tables
        ), symbols + means

    def decompress(self, data: bytes, scales: Tensor, means: Tensor) -> Tensor:
        means = means.double()
        values = coder.decode(data, self.indexes(scales), self.tables)
        return torch.from_numpy(values).to(means) + means
