"""A 2D tokenizer in a trained image codec's latent space (:mod:`.latent`): one token per latent
position, made of G factorized FSQ sub-tokens (as FQGAN's sub-tokens: G small vocabularies instead of
one huge one).

Each side is a linear map plus a residual conv mixer that starts at zero:

    image ─g_a─▶ t (M×h×w) ─(1×1 linear + mixer)─▶ Σ|levels| channels ─FSQ per sub-token─▶ ids (h×w×G)
    ids ─codes─▶ (1×1 linear + mixer) ─▶ t̂ ─g_s─▶ image

The linear maps start as the synthesis-weighted KLT of the training latents (:meth:`fit_linear`,
called on 1,024 latent windows when the training data is set up): the principal directions of t measured in the pixel error g_s
makes of them, the strongest on the sub-token channels with the most levels, each scaled so that one
level is one quantization step. Such a transform coder is already a working tokenizer before the
first step; training the mixers refines it. FSQ clamps instead of squashing with tanh, so a level is
the same step everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from vcodec.entropy import build_token_prior
from vcodec.latent_grid import STRIDE as CODEC_STRIDE  # pixels per latent position
from vcodec.layers.blocks import ResBlock
from vcodec.quantizers import build_quantizer
from vcodec.tokenizers.base import LearnedTokenizer
from vcodec.tokenizers.latent import CodecLatentSpace, fit_fsq_transform


def _default_levels() -> list[list[int]]:
    return [[31, 15, 9], [9, 7, 7, 5], [5, 5, 5, 5, 3], [5, 3, 3, 3, 3, 3, 3]]


@dataclass
class Latent2DConfig:
    """Architecture of a :class:`LatentConv2DTokenizer`."""

    codec: str = "checkerboard-medium-v2"  # the image codec whose g_a and g_s it works between
    image_size: int = 256
    width: int = 128  # channels of the mixers
    blocks: int = 2  # residual blocks in each mixer
    levels: list = field(default_factory=_default_levels)  # FSQ levels, one list per sub-token
    step: float = 0.6  # the linear start's quantization step, in √(pixel squared error) units
    prior: str = "autoregressive"
    architecture: str = "latent-2d"

    def __post_init__(self) -> None:
        if self.image_size % CODEC_STRIDE:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of the codec's stride {CODEC_STRIDE}"
            )
        if not self.levels or not all(isinstance(token, (list, tuple)) for token in self.levels):
            raise ValueError(
                f"levels must be one list of FSQ levels per sub-token, e.g. [[9, 7], [5, 5, 5]], "
                f"got {self.levels}"
            )
        if min(self.width, self.blocks + 1) < 1 or self.step <= 0:
            raise ValueError("width and step must be positive, blocks not negative")
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

    @property
    def token_dim(self) -> int:
        """Quantized channels per position: the levels of all sub-tokens."""
        return sum(len(token) for token in self.levels)

    def summary(self) -> str:
        """One line for model cards and result descriptions."""
        side = self.grid_side
        return (
            f"linear (synthesis-weighted KLT start) plus conv mixers ({self.blocks} residual blocks, "
            f"width {self.width}) on the {side}×{side} latent grid of `{self.codec}` (frozen g_a and "
            f"g_s), {self.image_size}² input, one token per position of {len(self.levels)} FSQ "
            f"sub-tokens with levels {[list(token) for token in self.levels]}"
        )


def _mixer(channels_in: int, width: int, channels_out: int, blocks: int, kernel: int) -> nn.Module:
    """A residual conv stack whose output starts at zero (so the linear path alone decides at first)."""
    last = nn.Conv2d(width, channels_out, 1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(
        nn.Conv2d(channels_in, width, kernel, padding=kernel // 2),
        *(ResBlock(width, width) for _ in range(blocks)),
        nn.GroupNorm(min(32, width // 4), width),
        nn.SiLU(),
        last,
    )


class LatentConv2DTokenizer(CodecLatentSpace, LearnedTokenizer):
    """(S/16)² tokens of G sub-token ids each, over the codec's latent grid, decoded through its g_s."""

    def __init__(self, config: Latent2DConfig, codec: nn.Module, name: str = "unnamed"):
        """``codec``: the loaded image codec ``config.codec`` names (``vcodec.zoo.build`` loads it)."""
        self._attach_codec(codec)
        super().__init__()
        self.config, self.name = config, name
        side, w, m, d = config.grid_side, config.width, codec.config.m, config.token_dim
        self.image_size, self.token_grid = config.image_size, (side, side)
        self.project = nn.Conv2d(m, d, 1)
        self.encoder = _mixer(m, w, d, config.blocks, kernel=1)
        self.quantizer = build_quantizer("fsq", d, levels=config.levels, hard_clamp=True)
        self.unproject = nn.Conv2d(d, m, 1)
        self.decoder = _mixer(d, w, m, config.blocks, kernel=3)
        self.register_buffer("linear_fitted", torch.zeros((), dtype=torch.bool))
        self.prior = build_token_prior(config.prior, self.quantizer.vocab_sizes, side * side)

    def _encode_grid(self, t: Tensor) -> Tensor:
        """B×(h·w)×D continuous tokens, row-major over the grid."""
        return (self.project(t) + self.encoder(t)).flatten(2).transpose(1, 2)

    def _indices(self, images: Tensor) -> Tensor:
        return self.quantizer(self._encode_grid(self._input_grid(images))).indices

    def _decode_features(self, vectors: Tensor) -> Tensor:
        side = self.token_grid[0]
        codes = vectors.transpose(1, 2).reshape(vectors.shape[0], -1, side, side)
        return self.unproject(codes) + self.decoder(codes)

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

    @torch.no_grad()
    def fit_linear(self, t: Tensor, metric: Tensor) -> None:
        """Start the linear maps as the KLT of latents ``t`` (B×M×h×w) under the synthesis's Gram
        kernel ``metric`` (:func:`~vcodec.tokenizers.latent.synthesis_metric`; its centre tap weighs
        a position's own error). Directions go to FSQ channels by variance and levels; each channel's
        step is ``config.step``, or coarser where its levels could not span ±3 standard deviations.
        Once per model: a trained or loaded one keeps its maps."""
        if bool(self.linear_fitted):
            return
        fit_fsq_transform(
            self.project, self.unproject, t, metric, self.config.levels, self.config.step
        )
        self.linear_fitted.fill_(True)
