"""Hyperprior codecs: a codec for y composed with a codec for the side information z.

- :class:`ScaleHyperpriorCodec` — Ballé et al., "Variational image compression with a scale
  hyperprior", ICLR 2018: z predicts the scale of each element of y.
- :class:`CheckerboardCodec` — mean-scale hyperprior (Minnen et al., NeurIPS 2018) with the
  two-pass checkerboard context of He et al., "Checkerboard Context Model for Efficient Learned
  Image Compression", CVPR 2021: anchors (even row+column) are coded from z alone, then the other
  half from z and the decoded anchors. Two parallel passes instead of a serial raster scan.

::

    y ─▶ h_a ─▶ z ─×gain─▶ [factorized] ─▶ ẑ ─×inv_gain─▶ h_s ─▶ features
                                                              │
    y ─×gain─▶ [Gaussian(μ·gain, σ·gain)] ◀── entropy parameters ◀┘ (+ checkerboard context of ŷ)

Entropy parameters are predicted for the un-gained latent and then scaled by the gain, so one
hyper network serves every quality level.
"""

from __future__ import annotations

import torch
from compressai.ops import quantize_ste
from torch import Tensor, nn

from vcodec.codecs.base import CodecConfig, GainUnit, LearnedImageCodec
from vcodec.entropy.continuous import FactorizedModel, GaussianModel
from vcodec.layers import CheckerboardConv2d, hyper_analysis, hyper_synthesis


class HyperpriorCodec(LearnedImageCodec):
    """Shared z path; subclasses say how y is coded given the hyper features."""

    alignment = 64
    hyper_out_channels: int

    def __init__(self, config: CodecConfig):
        super().__init__(config)
        self.h_a = hyper_analysis(config.n, config.m)
        self.h_s = hyper_synthesis(config.n, self.hyper_out(config))
        self.z_gain = GainUnit(config.lambdas, config.n)
        self.z_model = FactorizedModel(config.n)
        self.y_model = GaussianModel()

    def hyper_out(self, config: CodecConfig) -> int:
        raise NotImplementedError

    def _hyper_features(self, z_hat_gained: Tensor, q: Tensor) -> Tensor:
        return self.h_s(z_hat_gained * self.z_gain.inverse_gain(q))

    def _forward_latent(self, y: Tensor, q: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        z_hat, z_likelihoods = self.z_model(self.h_a(y) * self.z_gain.gain(q))
        y_hat, y_likelihoods = self._forward_y(y, self._hyper_features(z_hat, q), q)
        return y_hat, {"y": y_likelihoods, "z": z_likelihoods}

    def _compress_latent(self, y: Tensor, q: Tensor) -> list[bytes]:
        z_data, z_hat = self.z_model.compress(self.h_a(y) * self.z_gain.gain(q))
        return [z_data, *self._compress_y(y, self._hyper_features(z_hat, q), q)]

    def _decompress_latent(self, sections: list[bytes], q: Tensor, shape: tuple[int, int]) -> Tensor:
        z_shape = (1, self.config.n, shape[0] // 4, shape[1] // 4)
        z_hat = self.z_model.decompress(sections[0], z_shape)
        return self._decompress_y(sections[1:], self._hyper_features(z_hat, q), q)

    def _forward_y(self, y: Tensor, features: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _compress_y(self, y: Tensor, features: Tensor, q: Tensor) -> list[bytes]:
        raise NotImplementedError

    def _decompress_y(self, sections: list[bytes], features: Tensor, q: Tensor) -> Tensor:
        raise NotImplementedError


class ScaleHyperpriorCodec(HyperpriorCodec):
    """bmshj2018-hyperprior with gain units: zero-mean Gaussian, scale from z."""

    sections = 2

    def hyper_out(self, config: CodecConfig) -> int:
        return config.m

    def _forward_y(self, y: Tensor, features: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        gain = self.y_gain.gain(q)
        y_hat, likelihoods = self.y_model(y * gain, features * gain)
        return y_hat * self.y_gain.inverse_gain(q), likelihoods

    def _compress_y(self, y: Tensor, features: Tensor, q: Tensor) -> list[bytes]:
        gain = self.y_gain.gain(q)
        data, _ = self.y_model.compress(y * gain, features * gain, torch.zeros_like(y))
        return [data]

    def _decompress_y(self, sections: list[bytes], features: Tensor, q: Tensor) -> Tensor:
        gain = self.y_gain.gain(q)
        y_hat = self.y_model.decompress(sections[0], features * gain, torch.zeros_like(features))
        return y_hat * self.y_gain.inverse_gain(q)


def anchor_mask(height: int, width: int, device: torch.device | None = None) -> Tensor:
    """1×1×H×W boolean mask of the checkerboard anchors: positions with even row + column."""
    rows = torch.arange(height, device=device).reshape(-1, 1)
    cols = torch.arange(width, device=device).reshape(1, -1)
    return ((rows + cols) % 2 == 0).reshape(1, 1, height, width)


class CheckerboardCodec(HyperpriorCodec):
    """Mean-scale hyperprior with a two-pass checkerboard context (the default architecture)."""

    sections = 3

    def __init__(self, config: CodecConfig):
        super().__init__(config)
        m = config.m
        self.context = CheckerboardConv2d(m, 2 * m, kernel_size=5)
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(4 * m, 10 * m // 3, 1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(10 * m // 3, 8 * m // 3, 1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(8 * m // 3, 2 * m, 1),
        )

    def hyper_out(self, config: CodecConfig) -> int:
        return 2 * config.m

    def _gaussian_params(self, features: Tensor, context: Tensor, gain: Tensor) -> tuple[Tensor, Tensor]:
        """(scales, means) of the gained latent, from hyper features and checkerboard context."""
        scales, means = self.entropy_parameters(torch.cat((features, context), dim=1)).chunk(2, dim=1)
        return scales * gain, means * gain

    def _context(self, anchors_hat_gained: Tensor, mask: Tensor, q: Tensor) -> Tensor:
        return self.context(anchors_hat_gained * mask * self.y_gain.inverse_gain(q))

    def _forward_y(self, y: Tensor, features: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        gain, mask = self.y_gain.gain(q), anchor_mask(*y.shape[-2:], device=y.device)
        y_gained = y * gain
        scales_a, means_a = self._gaussian_params(features, torch.zeros_like(features), gain)
        anchors_hat = quantize_ste(y_gained - means_a) + means_a
        scales_n, means_n = self._gaussian_params(features, self._context(anchors_hat, mask, q), gain)
        scales, means = torch.where(mask, scales_a, scales_n), torch.where(mask, means_a, means_n)
        _, likelihoods = self.y_model(y_gained, scales, means)
        y_hat = quantize_ste(y_gained - means) + means
        return y_hat * self.y_gain.inverse_gain(q), likelihoods

    def _compress_y(self, y: Tensor, features: Tensor, q: Tensor) -> list[bytes]:
        gain, mask = self.y_gain.gain(q), anchor_mask(*y.shape[-2:], device=y.device)
        y_gained = y * gain
        y_hat = torch.zeros_like(y)
        sections = []
        for half, context in ((mask, torch.zeros_like(features)), (~mask, None)):
            if context is None:
                context = self._context(y_hat, mask, q)
            scales, means = self._gaussian_params(features, context, gain)
            half = half.expand_as(y)
            data, values = self.y_model.compress(y_gained[half], scales[half], means[half])
            y_hat[half] = values
            sections.append(data)
        return sections

    def _decompress_y(self, sections: list[bytes], features: Tensor, q: Tensor) -> Tensor:
        gain = self.y_gain.gain(q)
        shape = (1, self.config.m, *features.shape[-2:])
        mask = anchor_mask(*shape[-2:], device=features.device)
        y_hat = torch.zeros(shape, device=features.device)
        for data, half, context in ((sections[0], mask, torch.zeros_like(features)), (sections[1], ~mask, None)):
            if context is None:
                context = self._context(y_hat, mask, q)
            scales, means = self._gaussian_params(features, context, gain)
            half = half.expand(shape)
            y_hat[half] = self.y_model.decompress(data, scales[half], means[half])
        return y_hat * self.y_gain.inverse_gain(q)
