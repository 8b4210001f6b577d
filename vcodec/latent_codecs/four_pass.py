"""Four passes, one per position of each 2×2 block: the checkerboard's two halves each split in two.

The checkerboard (He et al., CVPR 2021) codes its anchors — half the positions — from the hyperprior
alone, and they cost 1.2–1.4× what the other half costs (benchmarks/RESULTS.md). Here each half is
coded in two steps, so a quarter of the positions go without spatial context instead of a half (the
2×2 "quadtree" step order of multistage spatial contexts, e.g. DCVC-DC, Li et al., CVPR 2023)::

    pass 0: (even, even)  hyperprior                                  ─ the checkerboard's anchors
    pass 1: (odd, odd)    hyperprior + correction from pass 0's ŷ    ─
    pass 2: (even, odd)   checkerboard context of passes 0–1          ─ the checkerboard's other half
    pass 3: (odd, even)   the same + correction from passes 0–2's ŷ   ─

A correction reads the checkerboard's (scales, means) at a position and a convolution of every ŷ
decoded so far (zero where not yet decoded), and adds (Δscales, Δmeans). With the corrections at zero
this codes exactly what the checkerboard codes, so a trained checkerboard model starts it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from vcodec.latent_codecs.checkerboard import CheckerboardLatentCodec
from vcodec.layers.exact import to_fixed

PHASES = ((0, 0), (1, 1), (0, 1), (1, 0))  # (row, column) parity of each pass, in coding order
CORRECTED = (1, 3)  # the passes whose parameters a correction refines (its index in this tuple)

# correction(k, base (B×2C×H×W ungained scales, means), known ŷ (B×C×H×W, ungained, 0 elsewhere))
FloatCorrection = Callable[[int, Tensor, Tensor], tuple[Tensor, Tensor]]
# exact_correction(k, base (1×2C×P, fixed point), known ŷ (1×C×H×W, fixed point), positions (H×W))
ExactCorrection = Callable[[int, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


def phase_masks(height: int, width: int, device: torch.device | None = None) -> list[Tensor]:
    """H×W boolean masks of the four passes, in coding order (:data:`PHASES`)."""
    rows = (torch.arange(height, device=device) % 2).reshape(-1, 1)
    cols = (torch.arange(width, device=device) % 2).reshape(1, -1)
    return [(rows == r) & (cols == c) for r, c in PHASES]


class FourPassLatentCodec(CheckerboardLatentCodec):
    """A checkerboard latent codec (same parameter and context functions) coded in four passes,
    passes 1 and 3 refined by ``correction`` (float) / ``exact_correction`` (coding)."""

    def __init__(
        self,
        *args,
        correction: FloatCorrection,
        exact_correction: ExactCorrection,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.correction, self.exact_correction = correction, exact_correction
        self.sections = len(PHASES)

    # --- float ---------------------------------------------------------------------------------------
    def _float_pass(self, y: Tensor, condition: Any, gain: Tensor, inverse: Tensor, quantize):
        y_gained = y * gain
        masks = phase_masks(*y.shape[-2:], device=y.device)
        coded, scales, means = (torch.zeros_like(y_gained) for _ in range(3))
        known = torch.zeros_like(masks[0])
        base = self.params(condition, None)
        for p, mask in enumerate(masks):
            if p == 2:  # the other half: the checkerboard context of the anchors (passes 0 and 1)
                base = self.params(condition, self.context(coded * known * inverse))
            s, m = base
            if p in CORRECTED:
                delta_s, delta_m = self.correction(
                    CORRECTED.index(p), torch.cat((s, m), dim=1), coded * known * inverse
                )
                s, m = s + delta_s, m + delta_m
            s, m = s * gain, m * gain
            values = quantize(y_gained - m) + m
            coded = torch.where(mask, values, coded)
            scales, means = torch.where(mask, s, scales), torch.where(mask, m, means)
            known = known | mask
        return coded, scales, means

    # --- exact ---------------------------------------------------------------------------------------
    def _code(self, shape, q: Tensor, condition: Any, code_half, keep, reference) -> Tensor:
        """The four passes; ``code_half(i, positions, None, scales, means, None)`` codes or decodes
        pass i and returns its gained values. Returns the ungained ŷ (float64)."""
        if keep is not None:
            raise ValueError("the four-pass codec codes every position (no skip masks)")
        gain, inverse = self.gains.coding_gain(q), self.gains.coding_inverse_gain(q)
        height, width = shape[2:]
        y_hat = torch.zeros(shape[:2] + (height, width), dtype=torch.float64, device=gain.device)
        anchors = None
        for p, positions in enumerate(phase_masks(height, width, device=gain.device)):
            if p == 2:  # y_hat holds exactly the anchors now
                anchors = to_fixed(y_hat * inverse)
            context = (
                None
                if anchors is None
                else self.exact_context().layers[0].at_positions(anchors, positions)
            )
            scales, means = self.exact_params(condition, context, positions)
            if p in CORRECTED:
                delta_s, delta_m = self.exact_correction(
                    CORRECTED.index(p),
                    to_fixed(torch.cat((scales, means), dim=1)),  # exact: fixed-point values
                    to_fixed(y_hat * inverse),
                    positions,
                )
                scales, means = scales + delta_s, means + delta_m
            g = gain.reshape(1, -1, 1)
            y_hat[..., positions] = code_half(p, positions, None, scales * g, means * g, None)
        return y_hat * inverse
