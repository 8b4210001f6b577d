"""Factorized VQ (FQGAN, Bai et al. 2024): several independent sub-codebooks, each looking at its own
projection of the token; a token is a tuple of indices, one per sub-codebook.

A disentanglement regularizer (the mean squared cosine similarity between the sub-codebooks' codes
for the same token) pushes each sub-codebook to capture something the others do not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vcodec.quantizers.base import Quantizer
from vcodec.quantizers.library import VectorQuantizer


class FactorizedVectorQuantizer(Quantizer):
    """``len(codebook_sizes)`` VQ sub-codebooks over projections of a D-dim token; their outputs are
    concatenated (D/G channels each) back to D."""

    def __init__(
        self,
        dim: int,
        codebook_sizes: tuple[int, ...] = (1024, 1024),
        codebook_dim: int = 8,
        disentangle_weight: float = 0.1,
        **vq_options,
    ):
        groups = len(codebook_sizes)
        if groups < 2 or dim % groups:
            raise ValueError(
                f"factorized VQ needs at least 2 sub-codebooks dividing dim={dim}, got {groups}"
            )
        super().__init__(dim, tuple(codebook_sizes))
        self.disentangle_weight = disentangle_weight
        self.project_in = nn.ModuleList(nn.Linear(dim, codebook_dim) for _ in codebook_sizes)
        self.codebooks = nn.ModuleList(
            VectorQuantizer(codebook_dim, size, **vq_options) for size in codebook_sizes
        )
        self.project_out = nn.ModuleList(
            nn.Linear(codebook_dim, dim // groups) for _ in codebook_sizes
        )

    def _quantize(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        codes, indices, loss = [], [], z.new_zeros(())
        for project, codebook in zip(self.project_in, self.codebooks):
            out = codebook(project(z))
            codes.append(out.quantized)
            indices.append(out.indices)
            loss = loss + out.loss
        loss = loss + self.disentangle_weight * disentanglement(codes)
        quantized = torch.cat([p(c) for p, c in zip(self.project_out, codes)], dim=-1)
        return quantized, torch.cat(indices, dim=-1), loss

    def _embed(self, indices: Tensor) -> Tensor:
        return torch.cat(
            [
                p(c._embed(indices[..., g : g + 1]))
                for g, (p, c) in enumerate(zip(self.project_out, self.codebooks))
            ],
            dim=-1,
        )


def disentanglement(codes: list[Tensor]) -> Tensor:
    """Mean over tokens and sub-codebook pairs of cos²(code_i, code_j): 0 when orthogonal."""
    normed = [F.normalize(c, dim=-1) for c in codes]
    pairs = [
        (normed[i] * normed[j]).sum(-1).pow(2).mean()
        for i in range(len(codes))
        for j in range(i + 1, len(codes))
    ]
    return torch.stack(pairs).mean()
