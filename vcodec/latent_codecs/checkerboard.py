"""The two-pass checkerboard context (He et al., "Checkerboard Context Model for Efficient Learned
Image Compression", CVPR 2021): anchors (even row + column) are coded from the condition alone, then
the other half from the condition and the decoded anchors. Two parallel passes instead of a serial
raster scan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from vcodec._compressai import quantize_ste
from vcodec.entropy.continuous import GaussianModel
from vcodec.latent_codecs.base import Gains, LatentCodec
from vcodec.latent_codecs.channel_steps import ChannelSteps
from vcodec.layers.exact import ExactStack, to_fixed

FloatParams = Callable[[Any, Tensor | None], tuple[Tensor, Tensor]]
ExactParams = Callable[[Any, Tensor | None, Tensor], tuple[Tensor, Tensor]]


def anchor_mask(height: int, width: int, device: torch.device | None = None) -> Tensor:
    """1×1×H×W boolean mask of the checkerboard anchors: positions with even row + column."""
    rows = torch.arange(height, device=device).reshape(-1, 1)
    cols = torch.arange(width, device=device).reshape(1, -1)
    return ((rows + cols) % 2 == 0).reshape(1, 1, height, width)


def checkerboard_pass(
    code: Callable[[Tensor | None], tuple[Tensor, Tensor, Tensor]],
    context: nn.Module,
    inverse_gain: Tensor,
    size: tuple[int, int],
) -> tuple[Tensor, Tensor, Tensor]:
    """Both passes in floating point (training, and encoder-side estimates): the gained ŷ and the
    (scales, means) each position is coded with.

    ``code(context)`` codes every position as one half would, giving the gained (ŷ, scales, means);
    context is None for the anchors' pass, then the context network's output on the (ungained)
    anchors.
    """
    mask = anchor_mask(*size, device=inverse_gain.device)
    anchors_hat, scales_a, means_a = code(None)
    others_hat, scales_n, means_n = code(context(anchors_hat * mask * inverse_gain))
    return tuple(
        torch.where(mask, a, n)
        for a, n in ((anchors_hat, others_hat), (scales_a, scales_n), (means_a, means_n))
    )


class CheckerboardLatentCodec(LatentCodec):
    """A Gaussian conditional coded in two checkerboard passes.

    ``params(condition, context)`` gives the ungained (scales, means) everywhere in float (context
    None for the anchors); ``exact_params(condition, context, half)`` gives them at the positions of
    ``half`` (1×C×P, float64 computed exactly), ``context`` being the exact context network's output
    gathered there. ``exact_context()`` is that network (:class:`ExactStack`, rebuilt by the owner
    when weights change).

    With ``channels`` (:class:`~vcodec.latent_codecs.channel_steps.ChannelSteps`) each half is
    coded in channel groups, each group's parameters corrected from the groups before it.

    For predicted video frames, ``keep`` (H×W) codes only some positions: the others take
    ``reference``'s values, and still serve as context.
    """

    sections = 2

    def __init__(
        self,
        model: GaussianModel,
        gains: Gains,
        context: nn.Module,
        params: FloatParams,
        exact_context: Callable[[], ExactStack],
        exact_params: ExactParams,
        channels: ChannelSteps | None = None,
    ):
        self.model, self.gains, self.context = model, gains, context
        self.params, self.exact_context, self.exact_params = params, exact_context, exact_params
        self.channels = channels
        self.sections = 2 * (1 if channels is None else len(channels.groups))

    # --- float ---------------------------------------------------------------------------------------
    def _float_pass(self, y: Tensor, condition: Any, gain: Tensor, inverse: Tensor, quantize):
        y_gained = y * gain

        def code(context: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
            scales, means = self.params(condition, context)
            if self.channels is not None:
                return self.channels.float_code(y_gained, scales, means, gain, inverse, quantize)
            scales, means = scales * gain, means * gain
            return quantize(y_gained - means) + means, scales, means

        return checkerboard_pass(code, self.context, inverse, y.shape[-2:])

    def forward(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[Tensor, dict]:
        gain, inverse = self.gains.gain(q), self.gains.inverse_gain(q)
        y_hat, scales, means = self._float_pass(y, condition, gain, inverse, quantize_ste)
        _, likelihoods = self.model(y * gain, scales, means)
        return y_hat * inverse, {"y": likelihoods}

    def estimate(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[Tensor, Tensor]:
        """What coding every position would give, in float32 through the float networks (an encoder's
        estimate, cheaper than the exact pass): ŷ (ungained) and the estimated bits of each element."""
        gain = self.gains.coding_gain(q).float()
        inverse = self.gains.coding_inverse_gain(q).float()
        coded, scales, means = self._float_pass(y, condition, gain, inverse, torch.round)
        return coded * inverse, self.model.bits(coded, scales, means)

    def relaxed(
        self, y: Tensor, q: Tensor, quantize, condition: Any = None
    ) -> tuple[Tensor, Tensor]:
        gain = self.gains.coding_gain(q).float()
        inverse = self.gains.coding_inverse_gain(q).float()
        rounded, scales, means = self._float_pass(y, condition, gain, inverse, quantize)
        return rounded * inverse, self.model.bits(rounded, scales, means).sum()

    # --- exact ---------------------------------------------------------------------------------------
    def _code(self, shape, q: Tensor, condition: Any, code_half, keep, reference) -> Tensor:
        """Both passes; ``code_half(i, half, kept, scales, means, channels)`` codes or decodes section
        i: the kept positions of a half (1×C×K), of ``channels`` only (None: all), and returns their
        gained values. Returns the ungained ŷ (float64)."""
        if keep is not None and self.channels is not None:
            raise ValueError("skipped positions and channel groups do not combine")
        gain, inverse = self.gains.coding_gain(q), self.gains.coding_inverse_gain(q)
        channels, height, width = shape[1:]
        device = gain.device
        anchors = anchor_mask(height, width, device=device)[0, 0]
        y_hat = torch.zeros((1, channels, height, width), dtype=torch.float64, device=device)
        reference_gained = None if keep is None else reference.double() * gain
        for i, half in enumerate((anchors, ~anchors)):
            context = (
                None
                if i == 0
                else self.exact_context().layers[0].at_positions(to_fixed(y_hat * inverse), half)
            )
            scales, means = self.exact_params(condition, context, half)
            if self.channels is not None:
                groups = len(self.channels.groups)
                y_hat[..., half] = self.channels.exact_code(
                    scales,
                    means,
                    gain.reshape(1, -1, 1),
                    inverse.reshape(1, -1, 1),
                    lambda k, group, s, m: code_half(i * groups + k, half, None, s, m, group),
                )
                continue
            scales, means = scales * gain.reshape(1, -1, 1), means * gain.reshape(1, -1, 1)
            if keep is None:
                y_hat[..., half] = code_half(i, half, None, scales, means, None)
            else:  # skipped positions take the reference's values
                kept = keep[half]
                values = reference_gained[..., half].clone()
                values[..., kept] = code_half(
                    i, half, kept, scales[..., kept], means[..., kept], None
                )
                y_hat[..., half] = values
        y_hat = y_hat * inverse
        return y_hat if keep is None else torch.where(keep, y_hat, reference.double())

    def compress(
        self,
        y: Tensor,
        q: Tensor,
        condition: Any = None,
        keep: Tensor | None = None,
        reference: Tensor | None = None,
        rdo_weight: Tensor | None = None,
    ) -> tuple[list[bytes], Tensor]:
        """``rdo_weight`` (bits per unit of gained squared error, 1×C×1): rate–distortion-optimised
        rounding of each element (:meth:`GaussianModel.rd_values`) instead of plain rounding."""
        y_gained = y.double() * self.gains.coding_gain(q)
        sections: list[bytes] = []

        def code_half(
            i: int, half: Tensor, kept, scales: Tensor, means: Tensor, channels
        ) -> Tensor:
            target = y_gained[..., half] if channels is None else y_gained[:, channels][..., half]
            target = target if kept is None else target[..., kept]
            if rdo_weight is not None:
                weight = rdo_weight if channels is None else rdo_weight[:, channels]
                target = self.model.rd_values(target, scales, means, weight)
            data, values = self.model.compress(target, scales, means)
            sections.append(data)
            return values

        y_hat = self._code(y.shape, q, condition, code_half, keep, reference)
        return sections, y_hat

    def decompress(
        self,
        sections: list[bytes],
        q: Tensor,
        shape: tuple[int, ...],
        condition: Any = None,
        keep: Tensor | None = None,
        reference: Tensor | None = None,
    ) -> Tensor:
        return self._code(
            shape,
            q,
            condition,
            lambda i, half, kept, scales, means, channels: self.model.decompress(
                sections[i], scales, means
            ),
            keep,
            reference,
        )
