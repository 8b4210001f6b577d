"""Hyperprior codecs: y coded by a latent codec conditioned on side information z.

- :class:`ScaleHyperpriorCodec` — Ballé et al., "Variational image compression with a scale
  hyperprior", ICLR 2018: z predicts the scale of each element of y.
- :class:`CheckerboardCodec` — mean-scale hyperprior (Minnen et al., NeurIPS 2018) with the
  two-pass checkerboard context of He et al. (CVPR 2021): the default architecture.

::

    y ─▶ h_a ─▶ z ─×gain─▶ [factorized] ─▶ ẑ ─×inv_gain─▶ h_s ─▶ features
                                                              │
    y ─×gain─▶ [Gaussian(μ·gain, σ·gain)] ◀── entropy parameters ◀┘ (+ checkerboard context of ŷ)

Entropy parameters are predicted for the un-gained latent and then scaled by the gain, so one
hyper network serves every quality level. The coding itself is composed from
:mod:`vcodec.latent_codecs`; these classes own the weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vcodec.codecs.base import CodecConfig, GainUnit, LearnedImageCodec
from vcodec.entropy.continuous import FactorizedModel, GaussianModel
from vcodec.latent_codecs import (
    ChannelSteps,
    CheckerboardLatentCodec,
    FactorizedLatentCodec,
    GaussianConditionalLatentCodec,
    HyperpriorLatentCodec,
    LatentCodec,
)
from vcodec.layers import CheckerboardConv2d, hyper_analysis, hyper_synthesis
from vcodec.layers.exact import ExactStack, from_fixed, to_fixed


class HyperpriorCodec(LearnedImageCodec):
    """The z path (h_a, a factorized ẑ, h_s); subclasses say how y is coded given h_s's features
    (:meth:`y_codec`) and how many features h_s gives (:meth:`hyper_out`)."""

    alignment = 64

    def __init__(self, config: CodecConfig):
        super().__init__(config)
        side = config.side_channels
        self.h_a = hyper_analysis(side, config.m)
        self.h_s = hyper_synthesis(side, self.hyper_out(config))
        self.z_gain = GainUnit(config.lambdas, side)
        self.z_model = FactorizedModel(side)
        self.y_model = GaussianModel()

    def hyper_out(self, config: CodecConfig) -> int:
        raise NotImplementedError

    def y_codec(self) -> LatentCodec:
        """The latent codec of y, conditioned on the hyper features (float in training; exact
        fixed-point integers when coding)."""
        raise NotImplementedError

    def _build_exact(self) -> dict:
        return {"h_s": ExactStack(self.h_s)}

    def _build_latent(self) -> HyperpriorLatentCodec:
        return HyperpriorLatentCodec(
            analysis=self.h_a,
            side=FactorizedLatentCodec(self.z_model, self.z_gain, "z"),
            synthesis=self.h_s,
            exact_synthesis=lambda z_hat: self.exact["h_s"](to_fixed(z_hat)),
            side_shape=lambda shape: (shape[0], self.config.side_channels, *_quarter(shape)),
            y=self.y_codec(),
        )


def _quarter(shape: tuple[int, ...]) -> tuple[int, int]:
    return shape[-2] // 4, shape[-1] // 4


class ScaleHyperpriorCodec(HyperpriorCodec):
    """bmshj2018-hyperprior with gain units: zero-mean Gaussian, scale from z."""

    def hyper_out(self, config: CodecConfig) -> int:
        return config.m

    def y_codec(self) -> LatentCodec:
        return GaussianConditionalLatentCodec(
            self.y_model,
            self.y_gain,
            params=lambda features: (features, None),
            exact_params=lambda features: (from_fixed(features), None),
        )


class CheckerboardCodec(HyperpriorCodec):
    """Mean-scale hyperprior with a two-pass checkerboard context (the default architecture)."""

    def __init__(self, config: CodecConfig):
        super().__init__(config)
        m = config.m
        self.context = CheckerboardConv2d(m, 2 * m, kernel_size=5)
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(4 * m, 10 * m // 3, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(10 * m // 3, 8 * m // 3, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(8 * m // 3, 2 * m, 1),
        )

    def hyper_out(self, config: CodecConfig) -> int:
        return 2 * config.m

    def _build_exact(self) -> dict:
        return {
            **super()._build_exact(),
            "context": ExactStack(self.context),
            "entropy_parameters": ExactStack(self.entropy_parameters),
        }

    def y_codec(self) -> LatentCodec:
        return CheckerboardLatentCodec(
            self.y_model,
            self.y_gain,
            self.context,
            params=self._params,
            exact_context=lambda: self.exact["context"],
            exact_params=self._exact_params,
            channels=self.channel_steps(),
        )

    def channel_steps(self) -> ChannelSteps | None:
        """Channel groups coded in turn inside each checkerboard half (None here: all at once)."""
        return None

    def _params(self, features: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """(scales, means) of the ungained latent, from hyper features and checkerboard context."""
        context = torch.zeros_like(features) if context is None else context
        return self.entropy_parameters(torch.cat((features, context), dim=1)).chunk(2, dim=1)

    def _exact_params(
        self, features: Tensor, context: Tensor | None, half: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The same in exact arithmetic, at the positions of one checkerboard half (1×M×P);
        ``context`` is already gathered there (None for the anchors)."""
        features = features[..., half]
        context = torch.zeros_like(features) if context is None else context
        inputs = torch.cat((features, context), dim=1).unsqueeze(-1)  # pointwise net: 1×C×P×1
        return from_fixed(self.exact["entropy_parameters"](inputs).squeeze(-1)).chunk(2, dim=1)
