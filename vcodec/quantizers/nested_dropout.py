"""Nested (tail) dropout for 1D token sequences: train so that every prefix of the tokens decodes.

Two published modes:

- ``"slice"`` (One-D-Piece, Miwa et al. 2025, "tail token drop"): one random length k per batch; the
  tokens after k are removed, so the decoder sees a shorter sequence.
- ``"mask"`` (FlexTok, Bachmann et al. 2025): a random length per sample; the tokens after it are
  replaced by a learned mask token, so shapes stay fixed and a batch mixes lengths.

Lengths are drawn uniformly from 1…K, or from the powers of two up to K (``lengths="pow2"``, as
FlexTok does). In eval mode nothing is dropped unless ``num_tokens`` is given.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class NestedDropout(nn.Module):
    """Drop the tail of B×K×D token sequences at a random length during training."""

    def __init__(
        self,
        max_tokens: int,
        dim: int,
        mode: str = "slice",
        lengths: str = "uniform",
        min_tokens: int = 1,
    ):
        super().__init__()
        if mode not in ("slice", "mask"):
            raise ValueError(f"nested dropout mode must be 'slice' or 'mask', got {mode!r}")
        if lengths not in ("uniform", "pow2"):
            raise ValueError(f"nested dropout lengths must be 'uniform' or 'pow2', got {lengths!r}")
        if not 1 <= min_tokens <= max_tokens:
            raise ValueError(f"need 1 ≤ min_tokens ≤ max_tokens, got {min_tokens} and {max_tokens}")
        self.max_tokens, self.mode, self.min_tokens = max_tokens, mode, min_tokens
        choices = range(min_tokens, max_tokens + 1)
        if lengths == "pow2":
            choices = sorted(
                {k for k in (2**i for i in range(max_tokens.bit_length())) if k >= min_tokens}
                | {max_tokens}
            )
        self.register_buffer("choices", torch.tensor(list(choices)), persistent=False)
        self.mask_token = nn.Parameter(torch.randn(dim) * 0.02) if mode == "mask" else None

    def sample_lengths(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """Lengths to keep: one per sample (mask mode) or one shared by the batch (slice mode)."""
        count = batch if self.mode == "mask" else 1
        picks = torch.randint(
            len(self.choices), (count,), generator=generator, device=self.choices.device
        )
        return self.choices[picks].expand(batch)

    def forward(
        self, tokens: Tensor, num_tokens: int | Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """(tokens with the tail dropped, kept length per sample). ``num_tokens`` fixes the length."""
        batch, k = tokens.shape[:2]
        if k != self.max_tokens:
            raise ValueError(f"expected {self.max_tokens} tokens, got {k}")
        if num_tokens is None and not self.training:
            return tokens, torch.full((batch,), k, device=tokens.device)
        lengths = (
            self.sample_lengths(batch)
            if num_tokens is None
            else torch.as_tensor(num_tokens).to(tokens.device).expand(batch)
        )
        if self.mode == "slice":
            keep = int(lengths[0])
            if not bool((lengths == keep).all()):
                raise ValueError("slice mode keeps one length for the whole batch")
            return tokens[:, :keep], lengths
        position = torch.arange(k, device=tokens.device)
        dropped = (position[None, :] >= lengths[:, None]).unsqueeze(-1)
        return torch.where(dropped, self.mask_token.to(tokens.dtype), tokens), lengths
