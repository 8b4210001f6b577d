"""The quantizer contract: continuous tokens in, quantized tokens and integer indices out.

Every quantizer maps B×N×D to the same shape, gives indices as B×N×G (G index streams: one for plain
VQ/FSQ/LFQ, one per sub-codebook or residual level), turns indices back into vectors with
:meth:`Quantizer.embed`, and counts which codes it used so codebook collapse is visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class QuantizerOutput:
    """What a quantizer returns: quantized B×N×D, indices B×N×G, its auxiliary loss, batch statistics."""

    quantized: Tensor
    indices: Tensor
    loss: Tensor
    perplexity: Tensor  # G: exp(entropy) of each stream's code histogram in this batch
    usage: Tensor  # G: fraction of each stream's codes used in this batch


class Quantizer(nn.Module):
    """Base class: subclasses set ``vocab_sizes`` and implement ``_quantize`` and ``_embed``."""

    vocab_sizes: tuple[int, ...]

    def __init__(self, dim: int, vocab_sizes: tuple[int, ...]):
        super().__init__()
        self.dim = dim
        self.vocab_sizes = tuple(int(v) for v in vocab_sizes)
        self.register_buffer("code_counts", torch.zeros(sum(self.vocab_sizes)), persistent=False)

    def forward(self, z: Tensor) -> QuantizerOutput:
        """Quantize B×N×D tokens (straight-through gradients flow back to ``z``)."""
        if z.dim() != 3 or z.shape[-1] != self.dim:
            raise ValueError(f"expected tokens of shape B×N×{self.dim}, got {tuple(z.shape)}")
        quantized, indices, loss = self._quantize(z)
        indices = indices.long().reshape(*z.shape[:2], len(self.vocab_sizes))
        perplexity, usage = self._statistics(indices)
        return QuantizerOutput(quantized, indices, loss, perplexity, usage)

    def values(self, z: Tensor) -> Tensor:
        """The quantized values of B×N×D tokens alone (straight-through), without the usage
        statistics: for a coder that quantizes in stages and only the last pass counts."""
        return self._quantize(z)[0]

    def embed(self, indices: Tensor) -> Tensor:
        """The quantized B×N×D vectors of B×N×G indices (what the decoder consumes)."""
        self.check_indices(indices)
        return self._embed(indices.long())

    def check_indices(self, indices: Tensor) -> None:
        """ValueError unless ``indices`` is an integer B×N×G tensor inside each stream's vocabulary."""
        if indices.dtype.is_floating_point or indices.dtype == torch.bool or indices.is_complex():
            raise ValueError(f"token indices must be integers, got {indices.dtype}")
        groups = len(self.vocab_sizes)
        if indices.dim() != 3 or indices.shape[-1] != groups:
            raise ValueError(f"expected indices of shape B×N×{groups}, got {tuple(indices.shape)}")
        for g, vocab in enumerate(self.vocab_sizes):
            stream = indices[..., g]
            if stream.numel() and (stream.min() < 0 or stream.max() >= vocab):
                raise ValueError(
                    f"token ids of stream {g} must lie in [0, {vocab}), got "
                    f"{int(stream.min())}…{int(stream.max())}"
                )

    @torch.no_grad()
    def _statistics(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        perplexity, usage, offset = [], [], 0
        for g, vocab in enumerate(self.vocab_sizes):
            counts = torch.bincount(indices[..., g].reshape(-1), minlength=vocab).float()
            self.code_counts[offset : offset + vocab] += counts
            offset += vocab
            p = counts / counts.sum().clamp(min=1)
            perplexity.append(torch.exp(-(p * torch.log(p.clamp(min=1e-12))).sum()))
            usage.append((counts > 0).float().mean())
        return torch.stack(perplexity), torch.stack(usage)

    def codebook_usage(self) -> Tensor:
        """Per stream: the fraction of codes used at least once since the last :meth:`reset_usage`."""
        return torch.stack(
            [c.gt(0).float().mean() for c in self.code_counts.split(list(self.vocab_sizes))]
        )

    def reset_usage(self) -> None:
        self.code_counts.zero_()

    def _quantize(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def _embed(self, indices: Tensor) -> Tensor:
        raise NotImplementedError
