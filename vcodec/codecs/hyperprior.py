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
from torch import Tensor, nn

from vcodec._compressai import quantize_ste
from vcodec.codecs.base import CodecConfig, GainUnit, LearnedImageCodec
from vcodec.entropy.continuous import FactorizedModel, GaussianModel
from vcodec.layers import CheckerboardConv2d, hyper_analysis, hyper_synthesis
from vcodec.layers.exact import ExactStack, from_fixed, to_fixed


class HyperpriorCodec(LearnedImageCodec):
    """Shared z path; subclasses say how y is coded given the hyper features."""

    alignment = 64
    hyper_out_channels: int

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

    def hyper_features(self, z_hat_gained: Tensor, q: Tensor) -> Tensor:
        return self.h_s(z_hat_gained * self.z_gain.inverse_gain(q))

    def _build_exact(self) -> dict:
        return {"h_s": ExactStack(self.h_s)}

    def exact_hyper_features(self, z_hat_gained: Tensor, q: Tensor) -> Tensor:
        """Hyper features as exact fixed-point integers (what compress and decompress both see)."""
        return self.exact["h_s"](to_fixed(z_hat_gained * self.z_gain.coding_inverse_gain(q)))

    def forward_latent(self, y: Tensor, q: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        z_hat, z_likelihoods = self.z_model(self.h_a(y) * self.z_gain.gain(q))
        y_hat, y_likelihoods = self._forward_y(y, self.hyper_features(z_hat, q), q)
        return y_hat, {"y": y_likelihoods, "z": z_likelihoods}

    def _compress_latent(self, y: Tensor, q: Tensor) -> tuple[list[bytes], Tensor]:
        z_data, z_hat = self.z_model.compress(self.h_a(y).double() * self.z_gain.coding_gain(q))
        y_sections, y_hat = self._compress_y(y, self.exact_hyper_features(z_hat, q), q)
        return [z_data, *y_sections], y_hat

    def _decompress_latent(
        self, sections: list[bytes], q: Tensor, shape: tuple[int, int]
    ) -> Tensor:
        z_shape = (1, self.config.side_channels, shape[0] // 4, shape[1] // 4)
        z_hat = self.z_model.decompress(sections[0], z_shape)
        return self._decompress_y(sections[1:], self.exact_hyper_features(z_hat, q), q)

    def _forward_y(self, y: Tensor, features: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _compress_y(self, y: Tensor, features: Tensor, q: Tensor) -> tuple[list[bytes], Tensor]:
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

    def _coding_scales(self, features: Tensor, q: Tensor) -> Tensor:
        return from_fixed(features) * self.y_gain.coding_gain(q)

    def _compress_y(self, y: Tensor, features: Tensor, q: Tensor) -> tuple[list[bytes], Tensor]:
        scales = self._coding_scales(features, q)
        data, y_hat = self.y_model.compress(
            y.double() * self.y_gain.coding_gain(q), scales, torch.zeros_like(scales)
        )
        return [data], self.y_gain.ungain(y_hat, q)

    def _decompress_y(self, sections: list[bytes], features: Tensor, q: Tensor) -> Tensor:
        scales = self._coding_scales(features, q)
        y_hat = self.y_model.decompress(sections[0], scales, torch.zeros_like(scales))
        return self.y_gain.ungain(y_hat, q)


def anchor_mask(height: int, width: int, device: torch.device | None = None) -> Tensor:
    """1×1×H×W boolean mask of the checkerboard anchors: positions with even row + column."""
    rows = torch.arange(height, device=device).reshape(-1, 1)
    cols = torch.arange(width, device=device).reshape(1, -1)
    return ((rows + cols) % 2 == 0).reshape(1, 1, height, width)


def checkerboard_pass(
    y_gained: Tensor, params, context: nn.Module, inverse_gain: Tensor, quantize=quantize_ste
) -> tuple[Tensor, Tensor, Tensor]:
    """Both passes of a checkerboard model in floating point (training, and encoder-side estimates):
    the gained ŷ and the (scales, means) each position is coded with.

    ``params(context)`` gives the (scales, means) of the gained latent everywhere; context is None for
    the anchors' pass, then the context network's output on the (ungained) anchors. ``quantize``
    rounds: straight-through for training, plain rounding for estimates.
    """
    mask = anchor_mask(*y_gained.shape[-2:], device=y_gained.device)
    scales_a, means_a = params(None)
    anchors_hat = quantize(y_gained - means_a) + means_a
    scales_n, means_n = params(context(anchors_hat * mask * inverse_gain))
    scales, means = torch.where(mask, scales_a, scales_n), torch.where(mask, means_a, means_n)
    return quantize(y_gained - means) + means, scales, means


def checkerboard_code(
    shape: tuple[int, int, int],
    params_at,
    exact_context: ExactStack,
    inverse_gain: Tensor,
    code_half,
    device: torch.device,
) -> Tensor:
    """Both coding passes of a checkerboard model; returns the gained ŷ (1×M×H×W, float64).

    ``params_at(context, half)`` gives (scales, means) at the positions of ``half`` (context None for
    the anchors, else the exact context gathered there); ``code_half(i, half, scales, means)`` codes
    or decodes that half and returns its gained values (1×M×P).
    """
    channels, height, width = shape
    anchors = anchor_mask(height, width, device=device)[0, 0]
    y_hat = torch.zeros((1, channels, height, width), dtype=torch.float64, device=device)
    for i, half in enumerate((anchors, ~anchors)):
        context = (
            None
            if i == 0
            else exact_context.layers[0].at_positions(to_fixed(y_hat * inverse_gain), half)
        )
        y_hat[..., half] = code_half(i, half, *params_at(context, half))
    return y_hat


class CheckerboardCodec(HyperpriorCodec):
    """Mean-scale hyperprior with a two-pass checkerboard context (the default architecture)."""

    sections = 3

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

    # --- training (float) ---------------------------------------------------------------------------
    def _gaussian_params(
        self, features: Tensor, context: Tensor, gain: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(scales, means) of the gained latent, from hyper features and checkerboard context."""
        scales, means = self.entropy_parameters(torch.cat((features, context), dim=1)).chunk(
            2, dim=1
        )
        return scales * gain, means * gain

    def _forward_y(self, y: Tensor, features: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        gain, inverse = self.y_gain.gain(q), self.y_gain.inverse_gain(q)

        def params(context: Tensor | None) -> tuple[Tensor, Tensor]:
            return self._gaussian_params(
                features, torch.zeros_like(features) if context is None else context, gain
            )

        y_hat, scales, means = checkerboard_pass(y * gain, params, self.context, inverse)
        _, likelihoods = self.y_model(y * gain, scales, means)
        return y_hat * inverse, likelihoods

    # --- coding (exact fixed point) -----------------------------------------------------------------
    def _build_exact(self) -> dict:
        return {
            **super()._build_exact(),
            "context": ExactStack(self.context),
            "entropy_parameters": ExactStack(self.entropy_parameters),
        }

    def _coding_params(
        self, features: Tensor, context: Tensor | None, half: Tensor, gain: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(scales, means) of the gained latent at the positions of one checkerboard half (1×M×P).

        ``context`` is already gathered at those positions (1×2M×P); None for the anchors.
        """
        features = features[..., half]
        context = torch.zeros_like(features) if context is None else context
        inputs = torch.cat((features, context), dim=1).unsqueeze(-1)  # pointwise net: 1×C×P×1
        scales, means = from_fixed(self.exact["entropy_parameters"](inputs).squeeze(-1)).chunk(
            2, dim=1
        )
        gain = gain.reshape(1, -1, 1)
        return scales * gain, means * gain

    def _code_halves(self, features: Tensor, q: Tensor, code_half) -> Tensor:
        """Both checkerboard passes; ``code_half(i, half, scales, means)`` returns that half's gained ŷ."""
        gain = self.y_gain.coding_gain(q)
        y_hat = checkerboard_code(
            (self.config.m, *features.shape[-2:]),
            lambda context, half: self._coding_params(features, context, half, gain),
            self.exact["context"],
            self.y_gain.coding_inverse_gain(q),
            code_half,
            features.device,
        )
        return self.y_gain.ungain(y_hat, q)

    def _compress_y(self, y: Tensor, features: Tensor, q: Tensor) -> tuple[list[bytes], Tensor]:
        y_gained = y.double() * self.y_gain.coding_gain(q)
        sections: list[bytes] = []

        def code_half(i: int, half: Tensor, scales: Tensor, means: Tensor) -> Tensor:
            data, values = self.y_model.compress(y_gained[..., half], scales, means)
            sections.append(data)
            return values

        y_hat = self._code_halves(features, q, code_half)
        return sections, y_hat

    def _decompress_y(self, sections: list[bytes], features: Tensor, q: Tensor) -> Tensor:
        return self._code_halves(
            features,
            q,
            lambda i, half, scales, means: self.y_model.decompress(sections[i], scales, means),
        )
