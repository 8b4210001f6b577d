"""Overlapped block motion compensation (H.263 Annex F, in spirit): block predictions blend at edges.

A block's vector is best at its centre; near an edge, its neighbour's vector predicts the pixels
there about as well, and where the two disagree (a moving object's outline, a block that split)
a hard cut leaves a seam that the residual codec pays for. Here every 16×16 block's prediction is a
weighted sum of the predictions its own vector and its four neighbours' vectors make, the
neighbour's weight ramping from 30/64 at the shared edge to 2/64 eight pixels in. All arithmetic is
in integers (weights in 64ths, one rounding), so the prediction is the same on every machine, and
where neighbouring vectors agree (a still or rigidly moving area) it equals the plain prediction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vcodec.inter.interpolation import SubpelReference, block_field, predict, predict_pixels

RAMP = (30, 26, 22, 18, 14, 10, 6, 2)  # a neighbour's weight (in 64ths) 0…7 pixels inside the edge
UNIT = 64  # the weights' sum
# the neighbours in order: above, below, left, right (the row or column offset of their block)
_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _edge_weights(block: int) -> tuple[Tensor, Tensor]:
    """The weight (in 64ths) of the neighbour before and after, at each offset within a block."""
    ramp = torch.zeros(block, dtype=torch.int32)
    span = min(len(RAMP), block // 2)
    ramp[:span] = torch.tensor(RAMP[:span], dtype=torch.int32)
    return ramp, ramp.flip(0)


def _neighbour_vectors(vectors: Tensor, rows: int, cols: int) -> Tensor:
    """The vector of the block ``rows``, ``cols`` away from each block (2×R×C; edges replicated, so a
    frame edge blends a block with itself)."""
    padded = F.pad(vectors[None].float(), (1, 1, 1, 1), mode="replicate")[0].long()
    height, width = vectors.shape[-2:]
    return padded[:, 1 + rows : 1 + rows + height, 1 + cols : 1 + cols + width]


def overlapped_prediction(
    reference: SubpelReference, vectors: Tensor, block: int, height: int, width: int
) -> Tensor:
    """The prediction (C×H×W uint8) of block vectors (2×R×C quarter pels, ``block`` pixels each) with
    each block blended into its neighbours' predictions near the shared edges."""
    own = predict(reference, block_field(vectors, block, height, width)).int()
    before, after = _edge_weights(block)
    row, col = torch.arange(height) % block, torch.arange(width) % block
    weights = {  # each neighbour's weight at every pixel (broadcast over the other axis)
        (-1, 0): before[row][:, None],
        (1, 0): after[row][:, None],
        (0, -1): before[col][None],
        (0, 1): after[col][None],
    }
    total = own * UNIT
    for rows, cols in _NEIGHBOURS:
        neighbour = _neighbour_vectors(vectors, rows, cols)
        differs = (neighbour != vectors).any(0)
        if not differs.any():
            continue  # its prediction is this block's own: blending changes nothing
        weight = weights[(rows, cols)] * block_field(differs, block, height, width)
        blended = weight > 0  # only these pixels need the neighbour's prediction
        theirs = predict_pixels(reference, block_field(neighbour, block, height, width), blended)
        total[:, blended] += (theirs.int() - own[:, blended]) * weight[blended]
    return torch.div(total + UNIT // 2, UNIT, rounding_mode="floor").to(torch.uint8)
