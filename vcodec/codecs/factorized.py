"""Factorized-prior codec (Ballé et al., "End-to-end Optimized Image Compression", ICLR 2017 /
"Variational image compression with a scale hyperprior", ICLR 2018, baseline model).

::

    x ─▶ g_a ─▶ y ─×gain─▶ [factorized density per channel] ─▶ bytes ─▶ ŷ ─×inv_gain─▶ g_s ─▶ x̂
"""

from __future__ import annotations

from vcodec.codecs.base import CodecConfig, LearnedImageCodec
from vcodec.entropy.continuous import FactorizedModel
from vcodec.latent_codecs import FactorizedLatentCodec, LatentCodec


class FactorizedPriorCodec(LearnedImageCodec):
    alignment = 16

    def __init__(self, config: CodecConfig):
        super().__init__(config)
        self.y_model = FactorizedModel(config.m)

    def _build_latent(self) -> LatentCodec:
        return FactorizedLatentCodec(self.y_model, self.y_gain, "y")
