"""A 2D convolutional VQ tokenizer (VQGAN-style, Esser et al. 2021): an f× downsampling conv encoder,
one quantized token per cell of the h×w grid, a mirror-image decoder.

    image ─4×4 patchify─▶ (ResBlock, Downsample) × log2(f/4) ─▶ h×w×D ─quantizer─▶ ids (h×w×G)
    ids ─embed─▶ h×w×D ─▶ (ResBlock, Upsample) × log2(f/4) ─▶ 4×4 pixel shuffle ─▶ image

The stem works on 4×4 patches (as ConvNeXt's does) rather than on full-resolution pixels: the same
token grid for about a sixteenth of VQGAN's compute, which is what training on a CPU allows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from vcodec.entropy import build_token_prior
from vcodec.layers.blocks import Downsample, ResBlock, Upsample
from vcodec.quantizers import build_quantizer
from vcodec.tokenizers.base import LearnedTokenizer


@dataclass
class Conv2DConfig:
    """Architecture of a :class:`Conv2DTokenizer`."""

    image_size: int = 128
    factor: int = 8  # downsampling: 8 or 16
    channels: int = 64  # width after the 4×4 patchify stem; doubled at every further downsampling
    token_dim: int = 8
    quantizer: str = "vq"
    quantizer_options: dict = field(default_factory=lambda: {"codebook_size": 1024})
    prior: str = (
        "static"  # token entropy model: "static" (per position) or "autoregressive" (transformer)
    )
    architecture: str = "conv-2d"

    def __post_init__(self) -> None:
        if self.factor not in (4, 8, 16):
            raise ValueError(f"factor must be 4, 8 or 16, got {self.factor}")
        if self.channels % 8:
            raise ValueError(f"channels must be a multiple of 8, got {self.channels}")
        if self.image_size % self.factor:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of factor {self.factor}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line for model cards and result descriptions."""
        side = self.image_size // self.factor
        return (
            f"VQGAN-style conv encoder/decoder with a 4×4 patchify stem, {self.image_size}² input, factor "
            f"{self.factor} ({side}×{side} tokens), widths {self.widths()}, quantizer {self.quantizer} "
            f"{self.quantizer_options}"
        )

    @classmethod
    def from_dict(cls, data: dict) -> "Conv2DConfig":
        return cls(**data)

    @property
    def num_tokens(self) -> int:
        """Tokens per image: the cells of the (image_size / factor)² grid."""
        return (self.image_size // self.factor) ** 2

    def widths(self) -> list[int]:
        """Channels of each stage, from the patchified 1/4 resolution down to the token grid."""
        return [self.channels * 2**i for i in range(int(math.log2(self.factor)) - 1)]


class Conv2DTokenizer(LearnedTokenizer):
    """VQGAN-style tokenizer over a fixed ``image_size``² input: (image_size / factor)² tokens."""

    def __init__(self, config: Conv2DConfig, name: str = "unnamed"):
        super().__init__()
        self.config, self.name = config, name
        side = config.image_size // config.factor
        self.image_size, self.token_grid = config.image_size, (side, side)
        widths = config.widths()
        encoder: list[nn.Module] = [nn.Conv2d(3, widths[0], 4, stride=4)]
        for before, after in zip(widths, widths[1:]):
            encoder += [ResBlock(before, after), Downsample(after)]
        encoder += [
            ResBlock(widths[-1], widths[-1]),
            nn.GroupNorm(min(32, widths[-1] // 4), widths[-1]),
            nn.SiLU(),
            nn.Conv2d(widths[-1], config.token_dim, 1),
        ]
        self.encoder = nn.Sequential(*encoder)
        self.quantizer = build_quantizer(
            config.quantizer, config.token_dim, **config.quantizer_options
        )
        decoder: list[nn.Module] = [
            nn.Conv2d(config.token_dim, widths[-1], 3, padding=1),
            ResBlock(widths[-1], widths[-1]),
        ]
        for before, after in zip(reversed(widths), list(reversed(widths))[1:]):
            decoder += [Upsample(before), ResBlock(before, after)]
        decoder += [
            ResBlock(widths[0], widths[0]),
            nn.GroupNorm(min(32, widths[0] // 4), widths[0]),
            nn.SiLU(),
            nn.Conv2d(widths[0], 3 * 16, 3, padding=1),
            nn.PixelShuffle(4),
        ]
        self.decoder = nn.Sequential(*decoder)
        self.prior = build_token_prior(config.prior, self.quantizer.vocab_sizes, side * side)

    def _latents(self, images: Tensor) -> Tensor:
        """B×(h·w)×D continuous tokens, row-major over the grid."""
        return self.encoder(images * 2 - 1).flatten(2).transpose(1, 2)

    def _indices(self, images: Tensor) -> Tensor:
        return self.quantizer(self._latents(images)).indices

    def _pixels(self, vectors: Tensor) -> Tensor:
        side = self.token_grid[0]
        grid = vectors.transpose(1, 2).reshape(vectors.shape[0], -1, side, side)
        return self.decoder(grid) * 0.5 + 0.5

    def forward(self, images: Tensor, num_tokens: int | None = None) -> dict:
        """Training pass: {"x_hat", "quantizer" (QuantizerOutput), "lengths" (always the whole grid)}."""
        out = self.quantizer(self._latents(images))
        lengths = torch.full((images.shape[0],), self.max_tokens, device=images.device)
        return {"x_hat": self._pixels(out.quantized), "quantizer": out, "lengths": lengths}
