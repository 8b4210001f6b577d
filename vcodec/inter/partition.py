"""Variable block size motion: one vector per 64×64 block, or sixteen of 16×16 where that pays.

Static or smoothly moving areas take one vector per large block, so a still background costs about a
bit per 64×64 block; moving objects split into small blocks. The encoder decides each large block by
its motion cost, luma SAD + ``rate_weight`` · bits (the H.264 mode decision on λ_motion). Three
sections: the large blocks' vectors (median-predicted, :mod:`vcodec.inter.vectors`), the split flags,
and the small vectors of split blocks as differences from their large block's vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vcodec.entropy import laplace
from vcodec.entropy.flags import decode_flags, encode_flags
from vcodec.errors import BitstreamError
from vcodec.inter.interpolation import QUARTER, block_field, predict
from vcodec.inter.search import block_motion, block_sums, difference_bits, luma, luma_reference
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
        inside = self.split.repeat_interleave(SPLIT, 0).repeat_interleave(SPLIT, 1)
        coarse = self.large.repeat_interleave(SPLIT, 1).repeat_interleave(SPLIT, 2)
        return block_field(torch.where(inside, self.small, coarse), SMALL, height, width)

    def encode(self, search: int) -> list[bytes]:
        """The three sections of this motion, vectors within ±``search`` pixels."""
        return [
            encode_vectors(self.large, search),
            encode_flags(self.split),
            laplace.encode(_small_differences(self), 2 * search * QUARTER),
        ]

    @classmethod
    def decode(cls, sections: list[bytes], height: int, width: int, search: int) -> Partition:
        """The motion of an H×W frame from its sections; BitstreamError if they cannot be one."""
        rows, cols = -(-height // LARGE), -(-width // LARGE)
        large = decode_vectors(sections[0], rows, cols, search)
        split = decode_flags(sections[1], (rows, cols))
        count = 2 * SPLIT * SPLIT * int(split.sum())
        reach = 2 * search * QUARTER
        differences = laplace.decode(sections[2], count, reach, "small motion vectors")
        small = large.repeat_interleave(SPLIT, 1).repeat_interleave(SPLIT, 2).clone()
        blocks = _split_blocks(small, split)  # K×2×4×4 views in coding order
        blocks += torch.from_numpy(differences).reshape(blocks.shape)
        small = _place_split_blocks(small, split, blocks)
        if small.abs().max() > search * QUARTER:
            raise BitstreamError(f"a motion vector reaches beyond ±{search} pixels")
        return cls(large, split, small)


def _split_blocks(small: Tensor, split: Tensor) -> Tensor:
    """The small vectors of the split blocks, K×2×4×4 (raster order of blocks)."""
    rows, cols = split.shape
    tiles = small.reshape(2, rows, SPLIT, cols, SPLIT).permute(1, 3, 0, 2, 4)
    return tiles[split]


def _place_split_blocks(small: Tensor, split: Tensor, blocks: Tensor) -> Tensor:
    rows, cols = split.shape
    tiles = small.reshape(2, rows, SPLIT, cols, SPLIT).permute(1, 3, 0, 2, 4).clone()
    tiles[split] = blocks
    return tiles.permute(2, 0, 3, 1, 4).reshape(small.shape)


def _small_differences(motion: Partition) -> np.ndarray:
    coarse = motion.large.repeat_interleave(SPLIT, 1).repeat_interleave(SPLIT, 2)
    return _split_blocks(motion.small - coarse, motion.split).flatten().numpy()


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
    coarse = large.repeat_interleave(SPLIT, 1).repeat_interleave(SPLIT, 2)
    small_bits = difference_bits(small, coarse)  # per small block
    small_bits = small_bits.reshape(rows, SPLIT, cols, SPLIT).sum((1, 3))
    gain = sad(whole.field(height, width)) - sad(parted.field(height, width))
    split = gain > rate_weight * small_bits
    return Partition(large, split, torch.where(_expand(split), small, coarse))


def _expand(split: Tensor) -> Tensor:
    return split.repeat_interleave(SPLIT, 0).repeat_interleave(SPLIT, 1)
