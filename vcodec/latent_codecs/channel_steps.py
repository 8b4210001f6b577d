"""Channel groups coded in turn inside each checkerboard half (space first, then channels).

ELIC (He et al., CVPR 2022) codes channel groups one after another, each in its own checkerboard
passes, so a group's spatial context sees only its own channels. Here the order is turned round: each
checkerboard half is coded group by group, and group k's Gaussian parameters are the checkerboard's
(hyper features + the anchors of *all* channels) plus a correction from the groups before it at the
same positions (Minnen & Singh's channel context, ICIP 2020). Every position so sees at least what
the plain checkerboard sees: with the corrections at zero the codec *is* the checkerboard codec, so a
trained checkerboard model starts it and training can only add what the channel context knows.

A correction network reads, per position, the ungained checkerboard (scales, means) of all channels
and the ungained ŷ of the earlier groups, and gives (Δscales, Δmeans) of its group: 1×1 convolutions,
evaluated exactly (:class:`~vcodec.layers.exact.ExactStack`) when coding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from vcodec.layers.exact import ExactStack, from_fixed, to_fixed

Quantize = Callable[[Tensor], Tensor]
# code_group(k, channels, gained scales, gained means) → the group's coded, gained values (1×g×P)
CodeGroup = Callable[[int, Tensor, Tensor, Tensor], Tensor]


class ChannelSteps:
    """The order of the channels (``order()``: a permutation of 0…M−1, read when coding, as the
    owner's buffer may move; groups take consecutive runs of it, sized ``groups``), the float
    corrections ``refine(k, inputs)`` and their exact versions ``exact_refine()[k]`` (k ≥ 1: group 0
    has nothing before it)."""

    def __init__(
        self,
        order: Callable[[], Tensor],
        groups: list[int],
        refine: Callable[[int, Tensor], Tensor],
        exact_refine: Callable[[], list[ExactStack]],
    ):
        if sum(groups) != order().numel() or min(groups) < 1:
            raise ValueError("the channel groups must be non-empty and cover every channel")
        self.order, self.groups = order, list(groups)
        self.refine, self.exact_refine = refine, exact_refine

    def channels(self) -> list[Tensor]:
        """Each group's channel indices."""
        return list(self.order().split(self.groups))

    def float_code(
        self,
        y_gained: Tensor,
        scales: Tensor,
        means: Tensor,
        gain: Tensor,
        inverse: Tensor,
        quantize: Quantize,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One half in float, every position at once: ``scales``/``means`` are the checkerboard's
        (ungained, B×M×H×W). Returns the gained ŷ, scales and means, in the channels' own order."""
        base = torch.cat((scales, means), dim=1)
        out_values, out_scales, out_means = (torch.empty_like(y_gained) for _ in range(3))
        decoded: list[Tensor] = []
        for k, channels in enumerate(self.channels()):
            s, m = scales[:, channels], means[:, channels]
            if k:
                delta_s, delta_m = self.refine(k, torch.cat((base, *decoded), dim=1)).chunk(2, 1)
                s, m = s + delta_s, m + delta_m
            s, m = s * gain[:, channels], m * gain[:, channels]
            values = quantize(y_gained[:, channels] - m) + m
            decoded.append(values * inverse[:, channels])
            out_values[:, channels], out_scales[:, channels], out_means[:, channels] = values, s, m
        return out_values, out_scales, out_means

    def exact_code(
        self, scales: Tensor, means: Tensor, gain: Tensor, inverse: Tensor, code_group: CodeGroup
    ) -> Tensor:
        """One half exactly: ``scales``/``means`` are the checkerboard's (ungained, 1×M×P, float64
        from fixed point), ``gain``/``inverse`` the coding gains (1×M×1). ``code_group`` codes or
        decodes a group; returns the gained values of every channel (1×M×P)."""
        base = to_fixed(torch.cat((scales, means), dim=1))  # exact: both are fixed-point values
        values = torch.empty_like(scales)
        decoded: list[Tensor] = []
        networks = self.exact_refine()
        for k, channels in enumerate(self.channels()):
            s, m = scales[:, channels], means[:, channels]
            if k:
                inputs = torch.cat((base, *decoded), dim=1).unsqueeze(-1)  # pointwise: 1×C×P×1
                delta = from_fixed(networks[k - 1](inputs).squeeze(-1))
                delta_s, delta_m = delta.chunk(2, dim=1)
                s, m = s + delta_s, m + delta_m
            g = gain[:, channels]
            coded = code_group(k, channels, s * g, m * g)
            values[:, channels] = coded
            decoded.append(to_fixed(coded * inverse[:, channels]))
        return values
