"""Variable block size motion: one vector per 64×64 block, or sixteen of 16×16 where that pays.

Static or smoothly moving areas take one vector per large block, so a still background costs about a
bit per 64×64 block; moving objects split into small blocks. The encoder decides each large block by
its motion cost, luma SAD + ``rate_weight`` · bits (the H.264 mode decision on λ_motion). Three
sections: the large blocks' vectors (median-predicted, :mod:`vcodec.inter.vectors`), the split flags,
and the small vectors of split blocks, median-predicted on the 16×16 grid in raster order, where an
unsplit block's small positions hold its large vector (a moving object's blocks predict each other,
and its edge blocks are predicted by the still background around it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from vcodec.entropy.flags import decode_flags, encode_flags
from vcodec.inter.interpolation import block_field, predict
from vcodec.inter.search import (
    block_motion,
    block_sums,
    difference_bits,
    luma,
    luma_reference,
    median_predictor,
)
from vcodec.inter.vectors import decode_vectors, encode_vectors

LARGE, SMALL = 64, 16  # pixels per vector, each way
SPLIT = LARGE // SMALL  # small blocks per large block, each way
SECTIONS = 3  # large vectors, split flags, small vectors


@dataclass
class Partition:
    """A frame's motion: ``large`` (2×R×C quarter-pel vectors of the 64×64 blocks), ``split`` (R×C
    flags) and ``small`` (2×4R×4C vectors of the 16×16 blocks; only those in split blocks count)."""

    large: Tensor
    split: Tensor
    small: Tensor

    def field(self, height: int, width: int) -> Tensor:
        """The per-pixel vector field (2×H×W) the prediction follows."""
        return block_field(self.small_grid(), SMALL, height, width)

    def small_grid(self) -> Tensor:
        """Every 16×16 block's vector (2×4R×4C): its own in split blocks, the large one elsewhere."""
        return torch.where(_expand(self.split), self.small, _expand(self.large, dims=(1, 2)))

    def encode(self, search: int) -> list[bytes]:
        """The three sections of this motion, vectors within ±``search`` pixels."""
        return [
            encode_vectors(self.large, search),
            encode_flags(self.split),
            encode_vectors(self.small_grid(), search, coded=_expand(self.split)),
        ]

    @classmethod
    def decode(cls, sections: list[bytes], height: int, width: int, search: int) -> Partition:
        """The motion of an H×W frame from its sections; BitstreamError if they cannot be one."""
        rows, cols = -(-height // LARGE), -(-width // LARGE)
        large = decode_vectors(sections[0], rows, cols, search)
        split = decode_flags(sections[1], (rows, cols))
        coarse = _expand(large, dims=(1, 2))
        small = decode_vectors(
            sections[2], SPLIT * rows, SPLIT * cols, search, coded=_expand(split), given=coarse
        )
        return cls(large, split, small)


def _padded(vectors: Tensor, rows: int, cols: int) -> Tensor:
    """A small-block field padded (edge vectors repeated) to 4R×4C."""
    return torch.nn.functional.pad(
        vectors[None].float(),
        (0, cols - vectors.shape[-1], 0, rows - vectors.shape[-2]),
        mode="replicate",
    )[0].long()


def search_partition(
    current: Tensor, reference: Tensor, search: int, rate_weight: float
) -> Partition:
    """The encoder's motion for ``current`` from ``reference`` (C×H×W uint8): both block sizes searched
    on luma, each large block split when its sixteen vectors' SAD and rate cost less than its one's."""
    height, width = current.shape[-2:]
    rows, cols = -(-height // LARGE), -(-width // LARGE)
    fine = luma_reference(reference, search)
    large = block_motion(current, reference, LARGE, search, rate_weight=rate_weight, fine=fine)
    small = _padded(
        block_motion(current, reference, SMALL, search, rate_weight=rate_weight, fine=fine),
        rows * SPLIT,
        cols * SPLIT,
    )
    target = luma(current)

    def sad(field: Tensor) -> Tensor:
        prediction = predict(fine, field)[0].int() << 8
        return block_sums((target - prediction).abs_(), LARGE).double() / 256

    whole = Partition(large, torch.zeros(rows, cols, dtype=torch.bool), small)
    parted = Partition(large, torch.ones(rows, cols, dtype=torch.bool), small)
    small_bits = difference_bits(small, median_predictor(small))  # per small block, as coded
    small_bits = small_bits.reshape(rows, SPLIT, cols, SPLIT).sum((1, 3))
    gain = sad(whole.field(height, width)) - sad(parted.field(height, width))
    split = gain > rate_weight * small_bits
    return Partition(large, split, Partition(large, split, small).small_grid())


def _expand(blocks: Tensor, dims: tuple[int, int] = (0, 1)) -> Tensor:
    """A large-block grid at small-block resolution (each value repeated SPLIT×SPLIT)."""
    return blocks.repeat_interleave(SPLIT, dims[0]).repeat_interleave(SPLIT, dims[1])
