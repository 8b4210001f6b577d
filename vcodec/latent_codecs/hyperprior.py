"""Side information (Ballé et al., "Variational image compression with a scale hyperprior", ICLR
2018): z = h_a(y) is coded first, by its own latent codec, and h_s(ẑ) conditions the coding of y.

::

    y ─▶ h_a ─▶ [side codec] ─▶ ẑ ─▶ h_s ─▶ features
                                              │
    y ─────────────────────────────▶ [y codec | features] ─▶ ŷ
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from vcodec.latent_codecs.base import LatentCodec


class HyperpriorLatentCodec(LatentCodec):
    """``analysis`` is h_a; ``synthesis(ẑ)`` gives the features in float (training) and
    ``exact_synthesis(ẑ)`` exactly (coding); ``side_shape(shape)`` is z's shape for y's."""

    def __init__(
        self,
        analysis: Callable[[Tensor], Tensor],
        side: LatentCodec,
        synthesis: Callable[[Tensor], Any],
        exact_synthesis: Callable[[Tensor], Any],
        side_shape: Callable[[tuple[int, ...]], tuple[int, ...]],
        y: LatentCodec,
    ):
        self.analysis, self.side, self.y = analysis, side, y
        self.synthesis, self.exact_synthesis, self.side_shape = (
            synthesis,
            exact_synthesis,
            side_shape,
        )
        self.sections = side.sections + y.sections

    def forward(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[Tensor, dict]:
        z_hat, z_likelihoods = self.side.forward(self.analysis(y), q)
        y_hat, y_likelihoods = self.y.forward(y, q, self.synthesis(z_hat))
        return y_hat, {**y_likelihoods, **z_likelihoods}

    def relaxed(
        self, y: Tensor, q: Tensor, quantize, condition: Any = None
    ) -> tuple[Tensor, Tensor]:
        z_hat, z_bits = self.side.relaxed(self.analysis(y), q, quantize)
        y_hat, y_bits = self.y.relaxed(y, q, quantize, self.synthesis(z_hat))
        return y_hat, y_bits + z_bits

    def compress(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[list[bytes], Tensor]:
        z_sections, z_hat = self.side.compress(self.analysis(y), q)
        y_sections, y_hat = self.y.compress(y, q, self.exact_synthesis(z_hat))
        return [*z_sections, *y_sections], y_hat

    def decompress(
        self, sections: list[bytes], q: Tensor, shape: tuple[int, ...], condition: Any = None
    ) -> Tensor:
        split = self.side.sections
        z_hat = self.side.decompress(sections[:split], q, self.side_shape(shape))
        return self.y.decompress(sections[split:], q, shape, self.exact_synthesis(z_hat))
