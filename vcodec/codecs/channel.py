"""Channel-conditional checkerboard codec (He et al., "ELIC: Efficient Learned Image Compression with
Unevenly Grouped Space-Channel Contextual Adaptive Coding", CVPR 2022; channel groups after Minnen &
Singh, ICIP 2020).

y is split along channels into uneven groups (M/8, M/8, M/4, M/2: the first channels carry most of
the energy, so small groups go first), coded in turn. Each group is coded in two checkerboard passes,
and its Gaussian parameters come from the hyper features, a channel context of the groups decoded
before it, and the spatial context of its own anchors::

    features (h_s) ─────────────────────────────┐
    ŷ of groups < k ─▶ channel context_k ───────┤
    anchors of group k ─▶ spatial context_k ────┴─▶ parameters_k ─▶ (σ, μ) of group k

The transforms, the z path and the gains are those of :class:`~vcodec.codecs.hyperprior.CheckerboardCodec`
(same names and shapes), so a trained checkerboard model's weights start one of these.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from vcodec.codecs.base import CodecConfig
from vcodec.codecs.hyperprior import HyperpriorCodec
from vcodec.latent_codecs import (
    ChannelGroupsLatentCodec,
    CheckerboardLatentCodec,
    GainView,
    LatentCodec,
)
from vcodec.layers import CheckerboardConv2d
from vcodec.layers.exact import ExactStack, from_fixed, to_fixed


def channel_groups(channels: int) -> list[int]:
    """ELIC's uneven split, scaled to ``channels`` (a multiple of 8): 1/8, 1/8, 1/4, 1/2."""
    if channels % 8:
        raise ValueError(f"channel groups need m to be a multiple of 8, got {channels}")
    eighth = channels // 8
    return [eighth, eighth, 2 * eighth, 4 * eighth]


def _pointwise(inputs: int, outputs: int, m: int) -> nn.Sequential:
    """The parameter network of one group: 1×1 convolutions as wide as the checkerboard codec's, so
    a trained checkerboard model's network can start each group's (:meth:`adopt`)."""
    return nn.Sequential(
        nn.Conv2d(inputs, 10 * m // 3, 1),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(10 * m // 3, 8 * m // 3, 1),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(8 * m // 3, outputs, 1),
    )


def _channel_context(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(outputs, outputs, 3, padding=1),
    )


class ChannelCheckerboardCodec(HyperpriorCodec):
    """Hyperprior, channel groups and checkerboard passes within each group."""

    def __init__(self, config: CodecConfig):
        super().__init__(config)
        self.groups = channel_groups(config.m)
        features = self.hyper_out(config)
        starts = [sum(self.groups[:k]) for k in range(len(self.groups))]
        self.spatial_context = nn.ModuleList(
            CheckerboardConv2d(g, 2 * g, kernel_size=5) for g in self.groups
        )
        self.channel_context = nn.ModuleList(
            _channel_context(start, 2 * g) for start, g in zip(starts[1:], self.groups[1:])
        )
        self.group_parameters = nn.ModuleList(
            _pointwise(features + (2 * g if k else 0) + 2 * g, 2 * g, config.m)
            for k, g in enumerate(self.groups)
        )
        # the exact channel context of the group being coded, kept for its second checkerboard half
        self._channel_cache: tuple[tuple, Tensor] | None = None

    def hyper_out(self, config: CodecConfig) -> int:
        return 2 * config.m

    @torch.no_grad()
    def adopt(self, state: dict) -> list[str]:
        """Start the group networks from a checkerboard codec's entropy-parameter network (in
        ``state``): each group's net gets its hidden layers and the rows of its channels, reading the
        hyper features as before, its new inputs (channel and spatial context) weighted zero. The
        model then starts as that codec with every position coded like an anchor, and training
        learns the contexts. Returns what it took (nothing when ``state`` has no such network)."""
        m, features = self.config.m, self.hyper_out(self.config)
        source = [state.get(f"entropy_parameters.{i}.weight") for i in (0, 2, 4)]
        if any(w is None for w in source) or source[0].shape[1] != 2 * features:
            return []
        start = 0
        for k, g in enumerate(self.groups):
            net, rows = self.group_parameters[k], [*range(start, start + g)]
            rows += [m + r for r in rows]  # scales, then means
            net[0].weight.zero_()
            net[0].weight[:, :features] = source[0][:, :features]
            for i in (0, 2):
                net[i].bias.copy_(state[f"entropy_parameters.{i}.bias"])
            net[2].weight.copy_(source[1])
            net[4].weight.copy_(source[2][rows])
            net[4].bias.copy_(state["entropy_parameters.4.bias"][rows])
            start += g
        return ["entropy_parameters → group_parameters"]

    def _build_exact(self) -> dict:
        return {
            **super()._build_exact(),
            "spatial": [ExactStack(m) for m in self.spatial_context],
            "channel": [ExactStack(m) for m in self.channel_context],
            "parameters": [ExactStack(m) for m in self.group_parameters],
        }

    def y_codec(self) -> LatentCodec:
        codecs, start = [], 0
        for k, g in enumerate(self.groups):
            codecs.append(
                CheckerboardLatentCodec(
                    self.y_model,
                    GainView(self.y_gain, start, start + g),
                    self.spatial_context[k],
                    params=functools.partial(self._params, k),
                    exact_context=functools.partial(lambda k: self.exact["spatial"][k], k),
                    exact_params=functools.partial(self._exact_params, k),
                )
            )
            start += g
        return ChannelGroupsLatentCodec(self.groups, codecs)

    def _params(self, k: int, condition: tuple, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """Ungained (scales, means) of group k in float; ``condition`` is (hyper features, ŷ of the
        earlier groups)."""
        features, earlier = condition
        parts = [features]
        if k:
            parts.append(self.channel_context[k - 1](earlier))
        b, _, h, w = features.shape
        parts.append(
            features.new_zeros(b, 2 * self.groups[k], h, w) if context is None else context
        )
        return self.group_parameters[k](torch.cat(parts, dim=1)).chunk(2, dim=1)

    def _exact_params(
        self, k: int, condition: tuple, context: Tensor | None, half: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The same in exact arithmetic at one checkerboard half (1×g×P)."""
        features, _ = condition
        parts = [features[..., half]]
        if k:
            parts.append(self._exact_channel_context(k, condition)[..., half])
        count = parts[0].shape[-1]
        parts.append(
            parts[0].new_zeros(1, 2 * self.groups[k], count) if context is None else context
        )
        inputs = torch.cat(parts, dim=1).unsqueeze(-1)  # pointwise net: 1×C×P×1
        return from_fixed(self.exact["parameters"][k](inputs).squeeze(-1)).chunk(2, dim=1)

    def _exact_channel_context(self, k: int, condition: tuple) -> Tensor:
        """The exact channel context of group k, computed once for both of its halves: the group
        codec passes the same ``condition`` object to each (held here, so its id is not reused)."""
        cached = self._channel_cache  # read once: another thread may code with this model too
        if cached is None or cached[0] is not condition:
            cached = (condition, self.exact["channel"][k - 1](to_fixed(condition[1])))
            self._channel_cache = cached
        return cached[1]
