"""Quarter-pel motion compensation with HEVC's 8-tap luma interpolation filters, exact everywhere.

A reference frame (uint8) is filtered at the quarter-pel phases a motion field needs; the field then picks
each predicted pixel from the phase and position its vector names. Every value is an integer: a
horizontal pass, a vertical pass, one rounding at the end (HEVC rounds twice; one rounding is simpler
and no less precise). The filters run as float32 convolutions, which are exact here: every product
and partial sum is an integer below 2²⁴ (at most 112 · 112 · 255 ≈ 3.2·10⁶), so no summation order
can round, and the prediction is the same on every machine and thread count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

QUARTER = 4  # motion vector units per pixel
# HEVC's luma filters for the phases 0, ¼, ½, ¾ (taps at offsets −3…+4; each sums to 64)
TAPS = (
    (0, 0, 0, 64, 0, 0, 0, 0),
    (-1, 4, -10, 58, 17, -5, 1, 0),
    (-1, 4, -11, 40, 40, -11, 4, -1),
    (0, 1, -5, 17, 58, -10, 4, -1),
)
TAP_TENSOR = torch.tensor(TAPS, dtype=torch.float32)
BEFORE, AFTER = 3, 4  # taps before and after the sample a phase starts from
SCALE = 64 * 64  # both passes' gain
SHIFT = 12  # log2(SCALE)


class SubpelReference:
    """A decoded reference frame (C×H×W uint8) at quarter-pel phases, with ``margin`` pixels of
    replicated edge around it so that vectors may point up to ``margin`` pixels outside the frame.

    ``planes[:, fy * 4 + fx]`` is the frame moved by (fy/4, fx/4) pixels: C×(H+2·margin)×(W+2·margin)
    uint8, its pixel (margin, margin) the frame's (0, 0). A phase is filtered when a prediction first
    needs it (:meth:`need`), so a frame of whole-pixel vectors costs a copy, not sixteen filterings.
    """

    def __init__(self, frame: Tensor, margin: int):
        if frame.dtype != torch.uint8 or frame.dim() != 3:
            raise ValueError("a reference frame is a C×H×W uint8 tensor")
        self.margin, self.shape = margin, tuple(frame.shape)
        self._padded = F.pad(
            frame.float()[:, None],
            (margin + BEFORE, margin + AFTER, margin + BEFORE, margin + AFTER),
            mode="replicate",
        )  # C×1×H'×W'
        channels, height, width = frame.shape
        rows, cols = height + 2 * margin, width + 2 * margin
        self.planes = torch.zeros((channels, 16, rows, cols), dtype=torch.uint8)
        self._ready = torch.zeros(16, dtype=torch.bool)
        self._across: dict[int, Tensor] = {}
        self.phase_stride, self.row_stride = rows * cols, cols
        # where each pixel of the frame sits in a plane, flattened (int32: index arithmetic is cheap)
        self.base = (
            (torch.arange(height, dtype=torch.int32).reshape(-1, 1) + margin) * cols
            + torch.arange(width, dtype=torch.int32)
            + margin
        )

    def need(self, phases) -> None:
        """Filter the phases (``fy * 4 + fx``) not yet filtered."""
        for phase in sorted(set(int(p) for p in phases)):
            if self._ready[phase]:
                continue
            if phase == 0:  # whole pixels: the taps are one 64, so filtering copies
                inner = self._padded[:, 0, BEFORE:-AFTER, BEFORE:-AFTER]
                self.planes[:, 0] = inner.to(torch.uint8)
                self._ready[0] = True
                continue
            fy, fx = divmod(phase, 4)
            down = F.conv2d(self._horizontal(fx), TAP_TENSOR[fy].reshape(1, 1, -1, 1))
            # exact integers in float32: converted exactly, then floor division by 2¹² as a shift
            values = ((down + SCALE // 2).to(torch.int32) >> SHIFT).clamp_(0, 255)
            self.planes[:, phase] = values[:, 0].to(torch.uint8)
            self._ready[phase] = True

    def _horizontal(self, fx: int) -> Tensor:
        if fx not in self._across:
            self._across[fx] = F.conv2d(self._padded, TAP_TENSOR[fx].reshape(1, 1, 1, -1))
        return self._across[fx]


def block_field(vectors: Tensor, block: int, height: int, width: int) -> Tensor:
    """Block vectors (…×rows×cols) spread over the positions each covers (…×height×width)."""
    spread = vectors.repeat_interleave(block, -2).repeat_interleave(block, -1)
    return spread[..., :height, :width]


def predict(reference: SubpelReference, field: Tensor) -> Tensor:
    """The motion-compensated prediction (C×H×W uint8): pixel p takes the reference at p + field[p]
    (``field``: 2×H×W integer vectors in quarter pels, rows then columns, clamped to the margin)."""
    channels, height, width = reference.shape
    values = _gather(reference, reference.base.flatten(), field.reshape(2, -1))
    return values.reshape(channels, height, width)


def predict_pixels(reference: SubpelReference, field: Tensor, where: Tensor) -> Tensor:
    """:func:`predict` at the pixels ``where`` (H×W bool) only: C×K uint8, in raster order."""
    return _gather(reference, reference.base[where], field[:, where])


def _gather(reference: SubpelReference, base: Tensor, vectors: Tensor) -> Tensor:
    """The reference's values (C×K) at K pixels (``base``: their flat positions in a plane) moved by
    their vectors (2×K quarter pels, clamped to the margin)."""
    reach = QUARTER * reference.margin
    vectors = vectors.to(torch.int32).clamp(-reach, reach)
    # floor division and remainder by 4 as shifts and masks (two's complement: exact for negatives)
    phase = (vectors[0] & 3) * QUARTER + (vectors[1] & 3)
    reference.need(torch.unique(phase).tolist())
    index = base + phase * reference.phase_stride
    index += (vectors[0] >> 2) * reference.row_stride + (vectors[1] >> 2)
    return reference.planes.reshape(reference.shape[0], -1).index_select(1, index)
