"""VQ, FSQ, LFQ and residual VQ from vector-quantize-pytorch, behind the :class:`Quantizer` contract.

vector-quantize-pytorch is imported when a quantizer is built, not with this module: it pulls in
torch._dynamo (over a second), which an image or video codec never needs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from types import ModuleType

import torch
from torch import Tensor, nn

from vcodec.quantizers.base import Quantizer


@functools.cache
def _library() -> ModuleType:
    import vector_quantize_pytorch
    from loguru import logger

    logger.disable(
        "vector_quantize_pytorch"
    )  # it logs a warning whenever k-means sees a small batch
    return vector_quantize_pytorch


class VectorQuantizer(Quantizer):
    """VQ with an EMA codebook, k-means initialisation and dead-code expiry (van den Oord 2017;
    Razavi 2019), codes looked up in a ``codebook_dim`` space (factorized codes, Yu 2022)."""

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        codebook_dim: int | None = None,
        decay: float = 0.99,
        commitment_weight: float = 0.25,
        kmeans_init: bool = True,
        dead_code_threshold: float = 2.0,
        cosine: bool = False,
    ):
        super().__init__(dim, (codebook_size,))
        self.vq = _library().VectorQuantize(
            dim=dim,
            codebook_size=codebook_size,
            codebook_dim=codebook_dim,
            decay=decay,
            commitment_weight=commitment_weight,
            kmeans_init=kmeans_init,
            kmeans_iters=10,
            threshold_ema_dead_code=dead_code_threshold,
            use_cosine_sim=cosine,
        )

    def _quantize(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.vq(z)

    def _embed(self, indices: Tensor) -> Tensor:
        return self.vq.get_output_from_indices(indices[..., 0])


class FiniteScalarQuantizer(Quantizer):
    """FSQ (Mentzer 2023): each of len(levels) projected channels rounded to its own number of levels;
    no codebook to collapse, no auxiliary loss. Vocabulary = prod(levels); with ``codebooks`` > 1 a
    token is that many such sub-tokens, one id stream each (factorized, as FQGAN's sub-tokens).

    ``levels`` may instead give each sub-token its own levels (a sequence of sequences: sub-tokens of
    different sizes, for channels of unequal spread). ``hard_clamp`` bounds with a clamp instead of
    tanh, so a channel's value v maps to level round(v·(L−1)/2) exactly, up to the outermost level."""

    def __init__(
        self,
        dim: int,
        levels: Sequence[int] | Sequence[Sequence[int]] = (8, 5, 5, 5),
        codebooks: int = 1,
        hard_clamp: bool = False,
    ):
        per_token = _levels_per_sub_token(levels, codebooks)
        build = functools.partial(_library().FSQ, bound_hard_clamp=hard_clamp)
        if len(set(per_token)) == 1:  # one library FSQ with G codebooks (and its projections)
            fsq = build(levels=list(per_token[0]), dim=dim, num_codebooks=len(per_token))
            super().__init__(dim, (fsq.codebook_size,) * len(per_token))
            self.fsq = fsq
            return
        if dim != sum(map(len, per_token)):
            raise ValueError(
                f"FSQ sub-tokens of {sum(map(len, per_token))} channels, got dim {dim}"
            )
        fsqs = nn.ModuleList(build(levels=list(token)) for token in per_token)
        super().__init__(dim, tuple(fsq.codebook_size for fsq in fsqs))
        self.fsqs, self.widths = fsqs, [len(token) for token in per_token]

    def _quantize(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if hasattr(self, "fsq"):
            quantized, indices = self.fsq(z)
        else:
            parts = [fsq(part) for fsq, part in zip(self.fsqs, z.split(self.widths, -1))]
            quantized = torch.cat([q for q, _ in parts], -1)
            indices = torch.stack([i for _, i in parts], -1)
        return quantized, indices, z.new_zeros(())

    def _embed(self, indices: Tensor) -> Tensor:
        if hasattr(self, "fsq"):
            return self.fsq.indices_to_codes(
                indices if len(self.vocab_sizes) > 1 else indices[..., 0]
            )
        return torch.cat(
            [fsq.indices_to_codes(indices[..., g]) for g, fsq in enumerate(self.fsqs)], -1
        )


def _levels_per_sub_token(
    levels: Sequence[int] | Sequence[Sequence[int]], codebooks: int
) -> list[tuple[int, ...]]:
    """One tuple of levels per sub-token: ``levels`` repeated ``codebooks`` times, or as given."""
    if levels and not isinstance(levels[0], int):
        per_token = [tuple(int(level) for level in token) for token in levels]
        if codebooks not in (1, len(per_token)):
            raise ValueError(f"{len(per_token)} sub-tokens' levels given for {codebooks} codebooks")
    else:
        per_token = [tuple(int(level) for level in levels)] * codebooks
    if not per_token or not all(per_token) or min(min(token) for token in per_token) < 3:
        raise ValueError(f"FSQ levels must be non-empty, each at least 3, got {levels}")
    return per_token


class LookupFreeQuantizer(Quantizer):
    """LFQ (MAGVIT-v2, Yu 2023): log2(codebook_size) projected channels, each quantized to ±1, with the
    entropy penalty that keeps codes in use."""

    def __init__(
        self,
        dim: int,
        codebook_size: int = 2**10,
        entropy_weight: float = 0.1,
        commitment_weight: float = 0.25,
    ):
        super().__init__(dim, (codebook_size,))
        self.lfq = _library().LFQ(
            dim=dim,
            codebook_size=codebook_size,
            entropy_loss_weight=entropy_weight,
            commitment_loss_weight=commitment_weight,
        )

    def _quantize(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.lfq(z)

    def _embed(self, indices: Tensor) -> Tensor:
        return self.lfq.indices_to_codes(indices[..., 0])


class ResidualVectorQuantizer(Quantizer):
    """Residual VQ (SoundStream, Zeghidour 2021): ``levels`` codebooks, each quantizing what the
    previous ones left; a token is a tuple of one index per level."""

    def __init__(
        self,
        dim: int,
        levels: int = 4,
        codebook_size: int = 1024,
        codebook_dim: int | None = None,
        decay: float = 0.99,
        commitment_weight: float = 0.25,
        kmeans_init: bool = True,
        dead_code_threshold: float = 2.0,
    ):
        super().__init__(dim, (codebook_size,) * levels)
        self.rvq = _library().ResidualVQ(
            dim=dim,
            num_quantizers=levels,
            codebook_size=codebook_size,
            codebook_dim=codebook_dim,
            decay=decay,
            commitment_weight=commitment_weight,
            kmeans_init=kmeans_init,
            kmeans_iters=10,
            threshold_ema_dead_code=dead_code_threshold,
        )

    def _quantize(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        quantized, indices, losses = self.rvq(z)
        return quantized, indices, losses.sum()

    def _embed(self, indices: Tensor) -> Tensor:
        return self.rvq.get_output_from_indices(indices)
