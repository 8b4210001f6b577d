"""A Gaussian conditional (Ballé et al. 2018; means as in Minnen et al. 2018) in one pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from vcodec.entropy.continuous import GaussianModel
from vcodec.latent_codecs.base import Gains, LatentCodec

Params = Callable[[Any], tuple[Tensor, Tensor | None]]


class GaussianConditionalLatentCodec(LatentCodec):
    """Every element of y at once, under a Gaussian whose (scale, mean) the condition predicts.

    ``params(condition)`` gives the ungained (scales, means) in float for training (means None: zero);
    ``exact_params(condition)`` the same from the exact condition, as float64 that every machine
    computes alike (see :mod:`vcodec.layers.exact`).
    """

    sections = 1

    def __init__(self, model: GaussianModel, gains: Gains, params: Params, exact_params: Params):
        self.model, self.gains = model, gains
        self.params, self.exact_params = params, exact_params

    def forward(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[Tensor, dict]:
        gain = self.gains.gain(q)
        scales, means = self.params(condition)
        y_hat, likelihoods = self.model(
            y * gain, scales * gain, None if means is None else means * gain
        )
        return y_hat * self.gains.inverse_gain(q), {"y": likelihoods}

    def relaxed(
        self, y: Tensor, q: Tensor, quantize, condition: Any = None
    ) -> tuple[Tensor, Tensor]:
        gain = self.gains.coding_gain(q).float()
        scales, means = self.params(condition)
        scales = scales * gain
        means = torch.zeros_like(scales) if means is None else means * gain
        rounded = quantize(y * gain - means) + means
        bits = self.model.bits(rounded, scales, means).sum()
        return rounded * self.gains.coding_inverse_gain(q).float(), bits

    def _coding_params(self, condition: Any, q: Tensor) -> tuple[Tensor, Tensor]:
        gain = self.gains.coding_gain(q)
        scales, means = self.exact_params(condition)
        scales = scales * gain
        return scales, torch.zeros_like(scales) if means is None else means * gain

    def compress(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[list[bytes], Tensor]:
        scales, means = self._coding_params(condition, q)
        data, y_hat = self.model.compress(y.double() * self.gains.coding_gain(q), scales, means)
        return [data], y_hat * self.gains.coding_inverse_gain(q)

    def decompress(
        self, sections: list[bytes], q: Tensor, shape: tuple[int, ...], condition: Any = None
    ) -> Tensor:
        scales, means = self._coding_params(condition, q)
        return self.model.decompress(sections[0], scales, means) * self.gains.coding_inverse_gain(q)
