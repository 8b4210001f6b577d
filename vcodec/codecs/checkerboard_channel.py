"""Checkerboard codec with a channel context inside each half (space first, then ELIC's channel groups).

The mean-scale checkerboard hyperprior (:class:`~vcodec.codecs.hyperprior.CheckerboardCodec`, the
default) predicts every channel of a checkerboard half at once. Here each half is coded in ELIC's
uneven channel groups (M/8, M/8, M/4, M/2; He et al., CVPR 2022), and group k's Gaussian parameters
are the checkerboard's plus a correction from the ŷ of groups 0…k−1 at the same positions
(:mod:`vcodec.latent_codecs.channel_steps`)::

    features (h_s) + anchors of all channels ─▶ entropy parameters ─▶ (σ, μ) of every channel
                                                                          │
    ŷ of groups < k at this position ─────────▶ correction_k ────────────┴─▶ (σ, μ) of group k

Its modules are the checkerboard codec's, same names and shapes, plus the corrections, whose last
layers start at zero: a trained checkerboard model loads into it and codes exactly as before (but in
more sections), so training the corrections starts from that model's rate. ``channel_order`` (a
stored permutation) says which channels form the groups: highest-rate first, so the channels that
carry the most tell the rest (:meth:`order_channels`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vcodec.codecs.base import CodecConfig
from vcodec.codecs.hyperprior import CheckerboardCodec
from vcodec.latent_codecs.channel_steps import ChannelSteps
from vcodec.layers.exact import ExactStack


def channel_groups(channels: int) -> list[int]:
    """ELIC's uneven split, scaled to ``channels`` (a multiple of 8): 1/8, 1/8, 1/4, 1/2."""
    if channels % 8:
        raise ValueError(f"channel groups need m to be a multiple of 8, got {channels}")
    eighth = channels // 8
    return [eighth, eighth, 2 * eighth, 4 * eighth]


def correction_network(inputs: int, outputs: int, hidden: int) -> nn.Sequential:
    """Per-position (1×1) network from the checkerboard's parameters and the earlier groups' ŷ to a
    group's (Δscales, Δmeans); its last layer starts at zero, so it starts as no correction."""
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


class CheckerboardChannelCodec(CheckerboardCodec):
    """Mean-scale checkerboard hyperprior whose halves are coded in channel groups, each corrected by
    the groups before it."""

    def __init__(self, config: CodecConfig):
        super().__init__(config)
        m = config.m
        self.groups = channel_groups(m)
        self.register_buffer("channel_order", torch.arange(m))
        starts = [sum(self.groups[:k]) for k in range(1, len(self.groups))]
        self.channel_correction = nn.ModuleList(
            correction_network(2 * m + start, 2 * g, m) for start, g in zip(starts, self.groups[1:])
        )

    def _build_exact(self) -> dict:
        return {
            **super()._build_exact(),
            "correction": [ExactStack(network) for network in self.channel_correction],
        }

    def channel_steps(self) -> ChannelSteps:
        return ChannelSteps(
            lambda: self.channel_order,
            self.groups,
            refine=lambda k, inputs: self.channel_correction[k - 1](inputs),
            exact_refine=lambda: self.exact["correction"],
        )

    def fit_to_latents(self, y: Tensor) -> None:
        """Before training on cached latents (:class:`~vcodec.train.loop.Trainer`): the channel order."""
        self.order_channels(y)

    @torch.no_grad()
    def order_channels(self, y: Tensor) -> Tensor:
        """Order the channels by their mean bits on the latents ``y`` (B×M×H×W, g_a's), highest
        first, at the middle quality, as the codec codes them now; sets and returns ``channel_order``.
        Change it only before the corrections train: they read the groups in this order."""
        q = torch.full((y.shape[0],), self.num_qualities // 2, dtype=torch.long, device=y.device)
        self.channel_order.copy_(torch.arange(self.config.m, device=y.device))  # read when coding
        _, likelihoods = self.forward_latent(y, q)
        bits = -torch.log2(likelihoods["y"]).mean(dim=(0, 2, 3))
        self.channel_order.copy_(torch.argsort(bits, descending=True, stable=True))
        self.forget_coding_state()  # the weights hash covers the order
        return self.channel_order
