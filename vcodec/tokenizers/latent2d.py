"""A 2D tokenizer in a trained image codec's latent space (:mod:`.latent`): one token per latent
position, made of G factorized FSQ sub-tokens (as FQGAN's sub-tokens: G small vocabularies instead of
one huge one), with a small residual conv mixer on each side.

    image ─g_a─▶ t (M×h×w) ─1×1 conv, ResBlocks─▶ G·d channels ─FSQ per sub-token─▶ ids (h×w×G)
    ids ─embed─▶ 3×3 conv, ResBlocks, 1×1 conv ─▶ t̂ ─g_s─▶ image
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from vcodec.entropy import build_token_prior
from vcodec.layers.blocks import ResBlock
from vcodec.quantizers import build_quantizer
from vcodec.tokenizers.base import LearnedTokenizer
from vcodec.tokenizers.latent import CodecLatentSpace
from vcodec.train.latents import STRIDE as CODEC_STRIDE  # pixels per latent position


@dataclass
class Latent2DConfig:
    """Architecture of a :class:`LatentConv2DTokenizer`."""

    codec: str = "checkerboard-medium-v2"  # the image codec whose g_a and g_s it works between
    image_size: int = 256
    width: int = 192  # channels of the mixers
    blocks: int = 2  # residual blocks in each mixer
    sub_tokens: int = 4  # G: FSQ sub-tokens per latent position, one id stream each
    levels: list = field(default_factory=lambda: [7, 5, 5, 5, 5])  # FSQ levels of one sub-token
    prior: str = "autoregressive"
    architecture: str = "latent-2d"

    def __post_init__(self) -> None:
        if self.image_size % CODEC_STRIDE:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of the codec's stride {CODEC_STRIDE}"
            )
        if min(self.width, self.blocks + 1, self.sub_tokens, len(self.levels)) < 1:
            raise ValueError("width, sub_tokens and levels must be positive, blocks not negative")
        if self.width % 8:
            raise ValueError(f"width must be a multiple of 8, got {self.width}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Latent2DConfig":
        return cls(**data)

    @property
    def grid_side(self) -> int:
        return self.image_size // CODEC_STRIDE

    @property
    def num_tokens(self) -> int:
        """Tokens per image: the cells of the latent grid."""
        return self.grid_side**2

    def summary(self) -> str:
        """One line for model cards and result descriptions."""
        side = self.grid_side
        return (
            f"conv mixers ({self.blocks} residual blocks, width {self.width}) on the {side}×{side} "
            f"latent grid of `{self.codec}` (frozen g_a and g_s), {self.image_size}² input, one token "
            f"per position of {self.sub_tokens} FSQ sub-tokens with levels {list(self.levels)}"
        )


class LatentConv2DTokenizer(CodecLatentSpace, LearnedTokenizer):
    """(S/16)² tokens of G sub-token ids each, over the codec's latent grid, decoded through its g_s."""

    def __init__(self, config: Latent2DConfig, codec: nn.Module, name: str = "unnamed"):
        """``codec``: the loaded image codec ``config.codec`` names (``vcodec.zoo.build`` loads it)."""
        self._attach_codec(codec)
        super().__init__()
        self.config, self.name = config, name
        side, w, m = config.grid_side, config.width, codec.config.m
        self.image_size, self.token_grid = config.image_size, (side, side)
        token_dim = config.sub_tokens * len(config.levels)
        self.encoder = nn.Sequential(
            nn.Conv2d(m, w, 1),
            *(ResBlock(w, w) for _ in range(config.blocks)),
            nn.GroupNorm(min(32, w // 4), w),
            nn.SiLU(),
            nn.Conv2d(w, token_dim, 1),
        )
        self.quantizer = build_quantizer(
            "fsq", token_dim, levels=tuple(config.levels), codebooks=config.sub_tokens
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(token_dim, w, 3, padding=1),
            *(ResBlock(w, w) for _ in range(config.blocks)),
            nn.GroupNorm(min(32, w // 4), w),
            nn.SiLU(),
            nn.Conv2d(w, m, 1),
        )
        self.prior = build_token_prior(config.prior, self.quantizer.vocab_sizes, side * side)

    def _encode_grid(self, t: Tensor) -> Tensor:
        """B×(h·w)×(G·d) continuous tokens, row-major over the grid."""
        return self.encoder(t).flatten(2).transpose(1, 2)

    def _indices(self, images: Tensor) -> Tensor:
        return self.quantizer(self._encode_grid(self._input_grid(images))).indices

    def _decode_features(self, vectors: Tensor) -> Tensor:
        side = self.token_grid[0]
        return self.decoder(vectors.transpose(1, 2).reshape(vectors.shape[0], -1, side, side))

    def latent_grid(self, features: Tensor) -> Tensor:
        return features  # the decoder writes the grid itself

    def _token_pass(self, t: Tensor, num_tokens: int | None) -> dict:
        out = self.quantizer(self._encode_grid(t))
        lengths = torch.full((t.shape[0],), self.max_tokens, device=t.device)
        return {
            "features": self._decode_features(out.quantized),
            "quantizer": out,
            "lengths": lengths,
        }
