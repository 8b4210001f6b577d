"""Block motion for the video codec: estimation, the coded motion field, and the latent predictor it drives.

A latent of the frame autoencoder covers 16×16 pixels, and the latents of a picture moved by a few
pixels are not a shifted copy of the old ones (g_a is not shift-equivariant below its stride; measured
with ``benchmarks/latent_motion.py``, see benchmarks/RESULTS.md). Re-analysing the shifted decoded frame
would predict well but needs the transforms in exact arithmetic at every frame, so the codec learns
that function in the latent domain instead: the encoder sends one integer motion vector per block of
pixels, ŷ_{t−1} moves by whole latents where the vector reaches that far, and a small network
(:class:`LatentMotion`) turns the latent and the remaining sub-latent motion into the prediction the
temporal prior conditions on. Everything the decoder computes from the vectors is exact (integer
gathers and :class:`~vcodec.layers.exact.ExactStack`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vcodec.entropy import laplace
from vcodec.errors import BitstreamError
from vcodec.inter.interpolation import block_field
from vcodec.layers.exact import ExactStack, from_fixed, to_fixed

STRIDE = 16  # pixels per latent
MOTION_BLOCK = 2  # a motion vector covers MOTION_BLOCK×MOTION_BLOCK latents (32×32 pixels)
ZERO_BIAS = 0.02  # estimation: a vector must beat the zero vector's error by this share of it


def estimate_motion(
    current: Tensor, previous: Tensor, search: int, block: int = MOTION_BLOCK * STRIDE
) -> Tensor:
    """Integer motion vectors (B×2×H/block×W/block, rows then columns): for each block of ``current``
    the displacement d within ±``search`` pixels whose ``previous[p + d]`` matches best (mean absolute
    luma difference over every other row and column, which finds the same vectors at a quarter of the
    work; the zero vector wins ties and near-ties, so static noise does not wander)."""
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=current.dtype, device=current.device).reshape(
        1, 3, 1, 1
    )
    cur, prev = (current * luma).sum(1, keepdim=True), (previous * luma).sum(1, keepdim=True)
    padded = F.pad(prev, (search,) * 4, mode="replicate")
    height, width = cur.shape[-2:]
    cur, pool = cur[..., ::2, ::2], block // 2
    best = F.avg_pool2d((cur - prev[..., ::2, ::2]).abs(), pool, ceil_mode=True) * (1 - ZERO_BIAS)
    vectors = torch.zeros(cur.shape[0], 2, *best.shape[-2:], dtype=torch.long, device=cur.device)
    for dy in range(-search, search + 1):
        for dx in range(-search, search + 1):
            if dy == 0 and dx == 0:
                continue
            moved = padded[
                ..., search + dy : search + dy + height : 2, search + dx : search + dx + width : 2
            ]
            error = F.avg_pool2d((cur - moved).abs(), pool, ceil_mode=True)
            better = error < best
            best = torch.where(better, error, best)
            vectors[:, 0:1][better], vectors[:, 1:2][better] = dy, dx
    return vectors


def whole_latents(vectors: Tensor) -> Tensor:
    """The part of each vector that is a whole number of latents, rounded half towards zero."""
    return torch.sign(vectors) * torch.div(
        vectors.abs() + STRIDE // 2 - 1, STRIDE, rounding_mode="floor"
    )


def per_latent(vectors: Tensor, shape: tuple[int, int]) -> Tensor:
    """Block vectors spread over the latent grid (B×2×h×w)."""
    return block_field(vectors, MOTION_BLOCK, *shape)


def shift_latents(latent: Tensor, whole: Tensor) -> Tensor:
    """Each latent position takes the value ``whole`` (B×2×h×w, in latents) away, clamped to the frame:
    an exact gather."""
    batch, channels, height, width = latent.shape
    rows = torch.arange(height, device=latent.device).reshape(1, height, 1)
    cols = torch.arange(width, device=latent.device).reshape(1, 1, width)
    source = (rows + whole[:, 0]).clamp(0, height - 1) * width + (cols + whole[:, 1]).clamp(
        0, width - 1
    )
    flat = latent.flatten(2)
    return flat.gather(2, source.flatten(1).unsqueeze(1).expand(batch, channels, -1)).reshape(
        latent.shape
    )


class LatentMotion(nn.Module):
    """ŷ_{t−1} moved by a motion field: whole latents by gathering, the rest (at most half a latent)
    by a network that adds a correction. It sees the moved latent, the latent times each component of
    the remaining motion (so its first layer can form motion × spatial difference, the first-order
    change of a shifted signal, linearly: it learns several times faster than from the latent and the
    motion side by side) and the motion itself. Starts as the identity (last layer zero), so a codec
    built on a motion-free one starts as good."""

    def __init__(self, m: int, width: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3 * m + 2, width, 3, padding=1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(width, m, 3, padding=1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    @staticmethod
    def inputs(latent: Tensor, vectors: Tensor) -> tuple[Tensor, Tensor]:
        """(ŷ moved by whole latents, the remaining motion in latents), both B×…×h×w."""
        field = per_latent(vectors, latent.shape[-2:])
        whole = whole_latents(field)
        return shift_latents(latent, whole), (field - STRIDE * whole).to(latent.dtype) / STRIDE

    def forward(self, latent: Tensor, vectors: Tensor) -> Tensor:
        moved, rest = self.inputs(latent, vectors)
        return moved + self.net(
            torch.cat((moved, rest[:, :1] * moved, rest[:, 1:] * moved, rest), dim=1)
        )

    def exact(self) -> "ExactMotion":
        return ExactMotion(ExactStack(self.net))


class ExactMotion:
    """:class:`LatentMotion` in fixed point: the same prediction, bit for bit, on any machine."""

    def __init__(self, net: ExactStack):
        self.net = net

    def __call__(self, latent: Tensor, vectors: Tensor) -> Tensor:
        moved, rest = LatentMotion.inputs(latent.double(), vectors)
        moved = to_fixed(moved)
        # rest is a multiple of 1/16: the products are exact before they round to fixed point
        products = (torch.round(rest[:, :1] * moved), torch.round(rest[:, 1:] * moved))
        return from_fixed(moved + self.net(torch.cat((moved, *products, to_fixed(rest)), dim=1)))


# --- the motion section of a predicted frame ------------------------------------------------------------
def _differences(vectors: Tensor) -> np.ndarray:
    """Vectors (N×2) → each component minus the same component of the vector before it (0 at first)."""
    values = vectors.numpy().astype(np.int64)
    return np.diff(values, axis=0, prepend=np.zeros((1, 2), np.int64)).reshape(-1)


def encode_motion(vectors: Tensor, search: int) -> bytes:
    """N×2 integer vectors in ±``search`` → their differences under the cheapest Laplace
    (:mod:`vcodec.entropy.laplace`; empty for no vectors)."""
    return laplace.encode(_differences(vectors), 2 * search)


def decode_motion(data: bytes, count: int, search: int) -> Tensor:
    """The ``count``×2 vectors of :func:`encode_motion`; BitstreamError when the bytes cannot be them."""
    differences = laplace.decode(data, 2 * count, 2 * search, "motion vectors")
    if count == 0:
        return torch.zeros((0, 2), dtype=torch.long)
    vectors = np.cumsum(differences.reshape(count, 2), axis=0)
    if np.abs(vectors).max() > search:
        raise BitstreamError(f"a motion vector reaches beyond the model's ±{search} pixels")
    return torch.from_numpy(vectors)
