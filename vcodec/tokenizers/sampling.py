"""Token priors as generators: draw token ids one position at a time, with temperature, top-k and
top-p (nucleus) filtering, from scratch or continuing a given prefix.

The prior is the same network that codes token streams (its float path; sampling need not be
bit-exact, only reproducible for a seed on one machine). A static per-position prior samples too:
every position independently, which shows what the autoregressive one adds.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vcodec.threads import torch_threads


def filtered_probabilities(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    """Probabilities (B×V) from logits after temperature, keeping the ``top_k`` most likely ids and the
    smallest set whose mass reaches ``top_p``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = logits.float() / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        ordered, order = torch.sort(logits, descending=True, dim=-1)
        mass_before = torch.softmax(ordered, -1).cumsum(-1) - torch.softmax(ordered, -1)
        ordered = ordered.masked_fill(
            mass_before >= top_p, float("-inf")
        )  # the first id always stays
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
    return torch.softmax(logits, dim=-1)


@torch.no_grad()
def sample_indices(
    prior: nn.Module,
    count: int,
    length: int,
    prefix: Tensor | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> Tensor:
    """``count``×``length``×G token ids drawn from ``prior``; the first positions are ``prefix``
    (1×k×G or count×k×G) when given."""
    if not 1 <= length <= prior.positions:
        raise ValueError(
            f"length must be in 1…{prior.positions} (the prior's context), got {length}"
        )
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    ids = torch.zeros(count, length, len(prior.vocab_sizes), dtype=torch.long)
    start = 0
    if prefix is not None:
        start = prefix.shape[1]
        if start > length:
            raise ValueError(f"a prefix of {start} tokens is longer than the {length} to sample")
        ids[:, :start] = prefix.long()
    with torch_threads(
        1
    ):  # one small step per token: sharing it between cores costs more than it saves
        for position in range(start, length):
            for g, logits in enumerate(prior.next_logits(ids, position)):
                probabilities = filtered_probabilities(logits, temperature, top_k, top_p)
                ids[:, position, g] = torch.multinomial(probabilities, 1, generator=generator)[:, 0]
    return ids


def _check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"the number of samples must be a positive integer, got {count!r}")
    return count


def sample_tokens(
    tokenizer,
    count: int,
    num_tokens: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> Tensor:
    """``count`` token sequences (public shape) from a tokenizer's prior; fewer tokens (1D tail-drop
    tokenizers) give coarser images, sooner."""
    k = tokenizer.check_num_tokens(num_tokens)
    ids = sample_indices(
        tokenizer.prior, _check_count(count), k, None, temperature, top_k, top_p, seed
    )
    return tokenizer._public(ids)


def complete_tokens(
    tokenizer,
    images: Tensor,
    keep: int,
    count: int = 1,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
) -> Tensor:
    """Token ids of each image with everything after its first ``keep`` tokens (raster order for a 2D
    grid) drawn again from the prior, ``count`` times per image (B·count sequences, image-major)."""
    indices = tokenizer.as_indices(tokenizer.encode(images))
    if isinstance(keep, bool) or not isinstance(keep, int) or not 0 <= keep <= indices.shape[1]:
        raise ValueError(f"keep must be an integer in 0…{indices.shape[1]}, got {keep!r}")
    prefix = indices[:, :keep].repeat_interleave(_check_count(count), dim=0)
    ids = sample_indices(
        tokenizer.prior, prefix.shape[0], indices.shape[1], prefix, temperature, top_k, top_p, seed
    )
    return tokenizer._public(ids)
