"""Mean-scale hyperprior coded in four spatial passes: the checkerboard codec with each half split.

The modules are :class:`~vcodec.codecs.hyperprior.CheckerboardCodec`'s (same names and shapes), plus,
for the second pass of each half (:mod:`vcodec.latent_codecs.four_pass`), a 5×5 convolution over the ŷ
decoded so far and a per-position network that turns it and the checkerboard's parameters into a
correction. The corrections' last layers start at zero, so a trained checkerboard model loads into
this one and codes what it coded; training the corrections on that model's cached latents (its
transforms frozen) then lowers its rate alone.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vcodec.codecs.base import CodecConfig
from vcodec.codecs.hyperprior import CheckerboardCodec
from vcodec.latent_codecs import LatentCodec
from vcodec.latent_codecs.four_pass import CORRECTED, FourPassLatentCodec
from vcodec.layers.exact import ExactStack, from_fixed


def correction_network(inputs: int, outputs: int, hidden: int) -> nn.Sequential:
    """Per-position (1×1) layers from the checkerboard's parameters and a context to (Δscales,
    Δmeans); the last layer starts at zero, i.e. as no correction."""
    network = nn.Sequential(
        nn.Conv2d(inputs, hidden, 1),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(hidden, hidden, 1),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(hidden, outputs, 1),
    )
    nn.init.zeros_(network[-1].weight)
    nn.init.zeros_(network[-1].bias)
    return network


class FourPassCodec(CheckerboardCodec):
    """Checkerboard hyperprior whose anchors and other half are each coded in two passes."""

    def __init__(self, config: CodecConfig):
        super().__init__(config)
        m = config.m
        self.pass_context = nn.ModuleList(nn.Conv2d(m, 2 * m, 5, padding=2) for _ in CORRECTED)
        self.pass_correction = nn.ModuleList(correction_network(4 * m, 2 * m, m) for _ in CORRECTED)

    def _build_exact(self) -> dict:
        return {
            **super()._build_exact(),
            "pass_context": [ExactStack(conv) for conv in self.pass_context],
            "pass_correction": [ExactStack(net) for net in self.pass_correction],
        }

    def y_codec(self) -> LatentCodec:
        return FourPassLatentCodec(
            self.y_model,
            self.y_gain,
            self.context,
            params=self._params,
            exact_context=lambda: self.exact["context"],
            exact_params=self._exact_params,
            correction=self._correction,
            exact_correction=self._exact_correction,
        )

    def _correction(self, k: int, base: Tensor, known: Tensor) -> tuple[Tensor, Tensor]:
        """(Δscales, Δmeans) of corrected pass k in float, everywhere."""
        inputs = torch.cat((base, self.pass_context[k](known)), dim=1)
        return self.pass_correction[k](inputs).chunk(2, dim=1)

    def _exact_correction(
        self, k: int, base: Tensor, known: Tensor, positions: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The same exactly, at ``positions`` (``base`` 1×2M×P and ``known`` in fixed point)."""
        context = self.exact["pass_context"][k].layers[0].at_positions(known, positions)
        inputs = torch.cat((base, context), dim=1).unsqueeze(-1)  # pointwise: 1×C×P×1
        return from_fixed(self.exact["pass_correction"][k](inputs).squeeze(-1)).chunk(2, dim=1)
