"""Block motion estimation: the encoder's search for the vector of each block, in quarter pels.

Coarse to fine, as encoders do to keep the search cheap: a full search of ±``search`` pixels on a
luma pyramid's coarsest level, then at each level a ±1 refinement and a try of the neighbours'
vectors, then half- and quarter-pel refinement on the interpolated reference
(:class:`~vcodec.inter.interpolation.SubpelReference`).
Costs are sums of absolute luma differences in integers, so the same frames give the same vectors on
any machine; a vector must beat the one before it by a margin (``bias``) to be taken, and the zero
vector goes first, so flat or noisy areas keep still vectors, which code cheapest.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vcodec.inter.interpolation import QUARTER, SubpelReference, block_field, predict

LUMA = (77, 150, 29)  # BT.601 weights × 256
MIN_BLOCK = 4  # the smallest block (pixels) a pyramid level searches with


def luma(frame: Tensor) -> Tensor:
    """Integer luma (×256) of a C×H×W uint8 frame (C = 3, or 1 for grey), int32 H×W."""
    if frame.shape[0] == 1:
        return frame[0].int() * 256
    weights = torch.tensor(LUMA, dtype=torch.int32).reshape(3, 1, 1)
    return (frame.int() * weights).sum(0, dtype=torch.int32)


def _half(plane: Tensor) -> Tensor:
    """One pyramid level down: the 2×2 mean (rounded down), edges cropped to even sizes."""
    h, w = plane.shape[-2] // 2 * 2, plane.shape[-1] // 2 * 2
    p = plane[:h, :w]
    return torch.div(
        p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2], 4, rounding_mode="floor"
    )


def _moved(plane: Tensor, field: Tensor) -> Tensor:
    """``plane`` (H×W) sampled at p + field[p] (integer pixels), edges replicated."""
    height, width = plane.shape
    rows = (torch.arange(height, dtype=torch.int32).reshape(-1, 1) + field[0]).clamp_(0, height - 1)
    cols = (torch.arange(width, dtype=torch.int32).reshape(1, -1) + field[1]).clamp_(0, width - 1)
    return plane.flatten().index_select(0, (rows * width + cols).flatten()).reshape(height, width)


def block_sums(values: Tensor, block: int) -> Tensor:
    """Integer sums over block×block tiles of an H×W tensor (edges: partial tiles)."""
    h, w = values.shape
    padded = F.pad(values, (0, -w % block, 0, -h % block))
    return padded.reshape(padded.shape[0] // block, block, -1, block).sum((1, 3), dtype=torch.int64)


def _cost(current: Tensor, prediction: Tensor, block: int) -> Tensor:
    return block_sums((current - prediction).abs_(), block)


def median_predictor(vectors: Tensor) -> Tensor:
    """Each block's prediction from its left, upper and upper-right neighbours (component-wise
    median; missing neighbours count as zero vectors): what the vectors' coder subtracts, so the
    search can price a vector by what it will cost."""
    padded = F.pad(vectors, (1, 1, 1, 0))  # a zero row above, zero columns either side
    left, up, corner = padded[:, 1:, :-2], padded[:, :-1, 1:-1], padded[:, :-1, 2:]
    return torch.stack((left, up, corner)).median(dim=0).values


def difference_bits(vectors: Tensor, predictor: Tensor) -> Tensor:
    """Approximate bits of each vector coded as its difference from ``predictor`` (an Exp-Golomb
    length per component: 1 + 2·log2(1 + |d|)); per block, float64."""
    difference = (vectors - predictor).abs().double()
    return (1 + 2 * torch.log2(1 + difference)).sum(0)


class Rate:
    """The rate term of the motion cost: ``weight`` cost units per bit of a vector given in ``unit``
    quarter pels (a pyramid level's pixels), against the standing field's median predictor."""

    def __init__(self, weight: float, unit: int):
        self.weight, self.unit, self.predictor = weight, unit, None

    def price(self, vectors: Tensor) -> Tensor:
        if not self.weight:
            return torch.zeros(vectors.shape[1:], dtype=torch.int64)
        bits = difference_bits(vectors * self.unit, self.predictor * self.unit)
        return (self.weight * bits).round().long()

    def watch(self, vectors: Tensor) -> None:
        """Predict from ``vectors`` (the field a stage starts from)."""
        self.predictor = median_predictor(vectors)


def _keep_better(best: tuple[Tensor, Tensor], candidate: Tensor, cost: Tensor, bias: float):
    """(vectors, costs) with each block's candidate taken where it beats the standing cost by
    ``bias`` of it."""
    vectors, costs = best
    better = cost < costs - (costs * bias).long()
    return torch.where(better, candidate, vectors), torch.where(better, cost, costs)


def _refine(
    current: Tensor,
    predict_at,
    vectors: Tensor,
    block: int,
    offsets: list[tuple[int, int]],
    bias: float,
    rate: Rate,
) -> Tensor:
    """Each block's vector moved by the offset (or none) whose prediction costs least, its rate
    included. One offset moves every block alike, so its field is the standing one plus a constant.
    ``predict_at(field)`` gives the H×W prediction of a per-pixel field."""
    height, width = current.shape
    field = block_field(vectors, block, height, width).to(torch.int32)
    rate.watch(vectors)
    best = (vectors, _cost(current, predict_at(field), block) + rate.price(vectors))
    for dy, dx in offsets:
        step = torch.tensor([dy, dx], dtype=torch.int32).reshape(2, 1, 1)
        candidate = vectors + step.long()
        cost = _cost(current, predict_at(field + step), block) + rate.price(candidate)
        best = _keep_better(best, candidate, cost, bias)
    return best[0]


def _window(reach: int) -> list[tuple[int, int]]:
    """Every offset within ±reach but zero, nearest first (ties keep the nearer vector)."""
    offsets = [(dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)]
    return sorted((o for o in offsets if o != (0, 0)), key=lambda o: (abs(o[0]) + abs(o[1]), o))


def _neighbours(
    current: Tensor, predict_at, vectors: Tensor, block: int, bias: float, rate: Rate
) -> Tensor:
    """Each block tries its four neighbours' vectors, its predictor and zero (motion is smooth: a
    block whose own search went astray, in a flat or repetitive area, takes its neighbour's)."""
    height, width = current.shape

    def cost(candidate: Tensor) -> Tensor:
        field = block_field(candidate, block, height, width).to(torch.int32)
        return _cost(current, predict_at(field), block) + rate.price(candidate)

    rate.watch(vectors)
    candidates = [
        torch.roll(vectors, step, dims=dim) for dim, step in ((1, 1), (1, -1), (2, 1), (2, -1))
    ]
    if rate.weight:
        candidates += [rate.predictor, torch.zeros_like(vectors)]
    best = (vectors, cost(vectors))
    for candidate in candidates:
        best = _keep_better(best, candidate, cost(candidate), bias)
    return best[0]


def luma_frame(frame: Tensor) -> Tensor:
    """The 1×H×W uint8 luma of a C×H×W uint8 frame (rounded BT.601)."""
    return ((luma(frame) + 128) >> 8).to(torch.uint8)[None]


def luma_reference(reference: Tensor, search: int) -> SubpelReference:
    """A reference frame's luma at every quarter-pel phase, for searches of ±``search`` pixels."""
    return SubpelReference(luma_frame(reference), search + 1)


def block_motion(
    current: Tensor,
    reference: Tensor,
    block: int = 16,
    search: int = 16,
    bias: float = 0.02,
    rate_weight: float = 0.0,
    fine: SubpelReference | None = None,
) -> Tensor:
    """Quarter-pel vectors (2×⌈H/block⌉×⌈W/block⌉, rows then columns, within ±``search`` pixels) that
    move ``reference`` onto ``current`` (both C×H×W uint8) block by block, found on luma.

    ``rate_weight``: luma SAD (in 8-bit levels) worth one bit of a vector; each vector then minimises
    SAD + rate_weight · bits, as H.264 encoders do with λ_motion (0: SAD alone). ``fine``: the
    reference's luma at quarter-pel phases (:func:`luma_reference`), when the caller has it already."""
    height, width = current.shape[-2:]
    target, source = luma(current), luma(reference)
    levels = 0
    while block >> (levels + 1) >= MIN_BLOCK and search >> (levels + 1) >= 2:
        levels += 1
    pyramid = [(target, source)]
    for _ in range(levels):
        pyramid.append((_half(pyramid[-1][0]), _half(pyramid[-1][1])))
    rows, cols = -(-height // block), -(-width // block)
    vectors = torch.zeros(2, rows, cols, dtype=torch.long)
    for level in range(levels, -1, -1):
        cur, ref = pyramid[level]
        size = block >> level

        def moved(field: Tensor, ref=ref) -> Tensor:
            return _moved(ref, field)

        grid = vectors[:, : -(-cur.shape[0] // size), : -(-cur.shape[1] // size)]
        reach = -(-search >> level) if level == levels else 1
        # SAD on a level of 4^level times fewer pixels, vectors in 2^level-pixel units
        rate = Rate(256 * rate_weight / 4**level, QUARTER << level)
        grid = _refine(cur, moved, grid, size, _window(reach), bias, rate)
        grid = _neighbours(cur, moved, grid, size, bias, rate)
        vectors = F.pad(grid, (0, cols - grid.shape[-1], 0, rows - grid.shape[-2]))
        if level:
            vectors = vectors * 2
    vectors = vectors.clamp(-search, search) * QUARTER
    fine = luma_reference(reference, search) if fine is None else fine

    def subpel(field: Tensor) -> Tensor:
        return predict(fine, field)[0].int() << 8

    rate = Rate(256 * rate_weight, 1)
    for step in (QUARTER // 2, QUARTER // 4):
        offsets = [(dy * step, dx * step) for dy, dx in _window(1)]
        vectors = _refine(target, subpel, vectors, block, offsets, bias, rate)
    if rate_weight:  # the predictor of the final field, and zero, may now be worth their rate
        vectors = _neighbours(target, subpel, vectors, block, bias, rate)
    return vectors.clamp(-search * QUARTER, search * QUARTER)
