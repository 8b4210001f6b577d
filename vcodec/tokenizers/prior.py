"""A token prior trained and shipped on its own: an autoregressive transformer over the ids of one
image tokenizer, which it names (with the hash of what its ids mean) instead of storing.

It is a generator for `vcodec sample --prior NAME` and a likelihood model (bits per token); a
tokenizer's own prior, fitted at export, is the one that codes its streams.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from vcodec.entropy import AutoregressiveTokenPrior
from vcodec.entropy.autoregressive import ARPriorConfig
from vcodec.tokenizers.base import LearnedTokenizer


@dataclass
class TokenPriorConfig:
    """Which tokenizer's ids the prior models, and the size of its transformer."""

    tokenizer: str = "tok1d-64"  # a shipped image tokenizer or a checkpoint folder
    width: int = 128
    depth: int = 4
    heads: int = 4
    architecture: str = "token-prior"

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TokenPriorConfig":
        return cls(
            **{
                k: data[k]
                for k in ("tokenizer", "width", "depth", "heads", "architecture")
                if k in data
            }
        )


class TokenPriorModel(nn.Module):
    """``forward(images)``: −log2 p of each of the images' token ids (B×N×G) under the prior; the
    tokenizer that makes the ids is frozen and is not part of this model's weights."""

    def __init__(
        self, config: TokenPriorConfig, tokenizer: LearnedTokenizer, name: str = "unnamed"
    ):
        """``tokenizer``: the loaded tokenizer ``config.tokenizer`` names (``vcodec.zoo.build`` loads it)."""
        super().__init__()
        self.config, self.name = config, name
        self._tokenizer = (
            tokenizer.eval().requires_grad_(False),
        )  # a tuple: not a submodule, not our weights
        self.prior = AutoregressiveTokenPrior(
            tokenizer.vocab_sizes,
            tokenizer.max_tokens,
            ARPriorConfig(config.width, config.depth, config.heads),
        )

    @property
    def tokenizer(self):
        return self._tokenizer[0]

    def to(self, *args, **kwargs):
        self.tokenizer.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    def token_ids(self, images: Tensor) -> Tensor:
        """B×N×G ids of images (a normal tensor, usable in training)."""
        with torch.no_grad():
            return self.tokenizer.as_indices(self.tokenizer.encode(images)).clone()

    def forward(self, images: Tensor) -> Tensor:
        return self.prior.bits(self.token_ids(images))

    def update(self) -> None:
        self.prior.update()

    @property
    def weights_hash(self) -> bytes:
        from vcodec.weights import weights_hash

        return weights_hash(self)
