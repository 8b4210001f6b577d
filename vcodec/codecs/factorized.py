"""Factorized-prior codec (Ballé et al., "End-to-end Optimized Image Compression", ICLR 2017 /
"Variational image compression with a scale hyperprior", ICLR 2018, baseline model).

::

    x ─▶ g_a ─▶ y ─×gain─▶ [factorized density per channel] ─▶ bytes ─▶ ŷ ─×inv_gain─▶ g_s ─▶ x̂
"""

from __future__ import annotations

from torch import Tensor

from vcodec.codecs.base import CodecConfig, LearnedImageCodec
from vcodec.entropy.continuous import FactorizedModel


class FactorizedPriorCodec(LearnedImageCodec):
    sections = 1
    alignment = 16

    def __init__(self, config: CodecConfig):
        super().__init__(config)
        self.y_model = FactorizedModel(config.m)

    def forward_latent(self, y: Tensor, q: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        y_hat, likelihoods = self.y_model(y * self.y_gain.gain(q))
        return y_hat * self.y_gain.inverse_gain(q), {"y": likelihoods}

    def _compress_latent(self, y: Tensor, q: Tensor) -> tuple[list[bytes], Tensor]:
        data, y_hat = self.y_model.compress(y.double() * self.y_gain.coding_gain(q))
        return [data], self.y_gain.ungain(y_hat, q)

    def _decompress_latent(
        self, sections: list[bytes], q: Tensor, shape: tuple[int, int]
    ) -> Tensor:
        y_hat = self.y_model.decompress(sections[0], (1, self.config.m, *shape))
        return self.y_gain.ungain(y_hat, q)
