"""A fully factorized density per channel (Ballé et al. 2017/2018): y without side information, or z."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from vcodec.entropy.continuous import FactorizedModel
from vcodec.latent_codecs.base import Gains, LatentCodec


class FactorizedLatentCodec(LatentCodec):
    """Codes every element under its channel's learned density; ``name`` keys its likelihoods.

    With a ``keep`` mask (H×W), only those positions are coded and the others decode to the
    channel medians (what a skipped block of a predicted frame needs).
    """

    sections = 1

    def __init__(self, model: FactorizedModel, gains: Gains, name: str):
        self.model, self.gains, self.name = model, gains, name

    def forward(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[Tensor, dict]:
        y_hat, likelihoods = self.model(y * self.gains.gain(q))
        return y_hat * self.gains.inverse_gain(q), {self.name: likelihoods}

    def compress(
        self, y: Tensor, q: Tensor, condition: Any = None, keep: Tensor | None = None
    ) -> tuple[list[bytes], Tensor]:
        gained = y.double() * self.gains.coding_gain(q)
        if keep is None:
            data, values = self.model.compress(gained)
        else:
            values = self._medians(y.shape, keep)
            data, kept = self.model.compress(gained[..., keep].unsqueeze(-1))
            values[..., keep] = kept.squeeze(-1)
        return [data], values * self.gains.coding_inverse_gain(q)

    def decompress(
        self,
        sections: list[bytes],
        q: Tensor,
        shape: tuple[int, ...],
        condition: Any = None,
        keep: Tensor | None = None,
    ) -> Tensor:
        if keep is None:
            values = self.model.decompress(sections[0], shape)
        else:
            values = self._medians(shape, keep)
            kept = self.model.decompress(sections[0], (1, shape[1], int(keep.sum()), 1))
            values[..., keep] = kept.squeeze(-1)
        return values * self.gains.coding_inverse_gain(q)

    def relaxed(
        self, y: Tensor, q: Tensor, quantize, condition: Any = None
    ) -> tuple[Tensor, Tensor]:
        gain = self.gains.coding_gain(q).float()
        rounded, bits = self.model.relaxed(y * gain, quantize)
        return rounded * self.gains.coding_inverse_gain(q).float(), bits.sum()

    def quantize_gained(self, y: Tensor, q: Tensor) -> Tensor:
        """The gained ŷ (float64) that coding every element would give, without coding (an estimate)."""
        return self.model.quantize(y.double() * self.gains.coding_gain(q))

    def _medians(self, shape: tuple[int, ...], keep: Tensor) -> Tensor:
        """Gained values where nothing is coded: each channel's median (its symbol 0)."""
        return self.model._medians().expand(shape[0], -1, *keep.shape).clone().to(torch.float64)
