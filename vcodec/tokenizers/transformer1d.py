"""A 1D transformer tokenizer (TiTok, Yu et al. 2024) trained with nested tail dropout, so any prefix
of its K tokens decodes and quality rises with the prefix length (One-D-Piece / FlexTok).

    image ─patchify─▶ patches + pos ┐
          K learned latent queries ─┴▶ ViT encoder ─▶ K latents ─▶ quantizer ─▶ token ids (K×G)
    token ids ─embed─▶ + latent pos ─(tail dropped / masked)─┐
          pixel queries + pos ──────────────────────────────┴▶ ViT decoder ─▶ patches ─▶ image
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from einops import rearrange
from torch import Tensor, nn

from vcodec.entropy import build_token_prior
from vcodec.quantizers import NestedDropout, build_quantizer
from vcodec.tokenizers.base import LearnedTokenizer


@dataclass
class Transformer1DConfig:
    """Architecture of a :class:`Transformer1DTokenizer`."""

    image_size: int = 128
    patch_size: int = 16
    width: int = 192
    depth: int = 4  # transformer layers in the encoder and in the decoder
    heads: int = 4
    num_tokens: int = 64
    token_dim: int = 8
    quantizer: str = "vq"
    quantizer_options: dict = field(default_factory=lambda: {"codebook_size": 1024})
    prior: str = (
        "static"  # token entropy model: "static" (per position) or "autoregressive" (transformer)
    )
    nested_dropout: str = "slice"  # "slice" (One-D-Piece), "mask" (FlexTok) or "none" (fixed K)
    architecture: str = "transformer-1d"

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}"
            )
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")
        if self.nested_dropout not in ("slice", "mask", "none"):
            raise ValueError(
                f"nested_dropout must be slice, mask or none, got {self.nested_dropout!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line for model cards and result descriptions."""
        return (
            f"TiTok-style ViT encoder/decoder, {self.image_size}² input, patch {self.patch_size}, width "
            f"{self.width}, {self.depth}+{self.depth} layers, K={self.num_tokens} tokens, quantizer "
            f"{self.quantizer} {self.quantizer_options}, nested dropout {self.nested_dropout}"
        )

    @classmethod
    def from_dict(cls, data: dict) -> "Transformer1DConfig":
        return cls(**data)


def _transformer(config: Transformer1DConfig) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        config.width,
        config.heads,
        4 * config.width,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    return nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)


def _positions(count: int, width: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(1, count, width) * 0.02)


class Transformer1DTokenizer(LearnedTokenizer):
    """TiTok-style encoder/decoder over a fixed ``image_size``² input with ``num_tokens`` 1D tokens."""

    def __init__(self, config: Transformer1DConfig, name: str = "unnamed"):
        super().__init__()
        self.config, self.name = config, name
        self.image_size, self.token_grid = config.image_size, (config.num_tokens,)
        w, k = config.width, config.num_tokens
        self.grid = self._grid_side()
        patches = self.grid**2
        self.patch_embed = self._input_layer()
        self.patch_pos, self.latent_queries = _positions(patches, w), _positions(k, w)
        self.encoder = _transformer(config)
        self.to_token = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, config.token_dim))
        self.quantizer = build_quantizer(
            config.quantizer, config.token_dim, **config.quantizer_options
        )
        self.from_token = nn.Linear(config.token_dim, w)
        self.latent_pos = _positions(k, w)
        mode = config.nested_dropout
        self.tail_dropout = NestedDropout(k, w, mode=mode) if mode != "none" else None
        self.pixel_queries = _positions(patches, w)
        self.decoder = _transformer(config)
        self.to_pixels = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, self._output_features()))
        self.prior = build_token_prior(config.prior, self.quantizer.vocab_sizes, k)

    # --- what the transformers read and write: pixel patches here (a subclass may read other grids) ---
    def _grid_side(self) -> int:
        """Side of the grid of positions the encoder reads and the decoder writes."""
        return self.config.image_size // self.config.patch_size

    def _input_layer(self) -> nn.Module:
        """Embeds the input grid (:meth:`_input_grid`) into grid_side² positions of ``width``."""
        p = self.config.patch_size
        return nn.Conv2d(3, self.config.width, p, stride=p)

    def _output_features(self) -> int:
        """Features the decoder writes per position."""
        return 3 * self.config.patch_size**2

    def _input_grid(self, images: Tensor) -> Tensor:
        """What :attr:`patch_embed` reads, from B×3×S×S images in [0, 1]."""
        return images * 2 - 1

    def _unpatchify(self, features: Tensor) -> Tensor:
        """The decoder's B×P×F features as a B×C×H×W grid (each position a patch_size² patch)."""
        p = self.config.patch_size
        return rearrange(features, "b (h w) (c p q) -> b c (h p) (w q)", h=self.grid, p=p, q=p)

    def _output_image(self, features: Tensor) -> Tensor:
        """Images from the decoder's B×P×F features."""
        return self._unpatchify(features) * 0.5 + 0.5

    # --- the token transformer ---------------------------------------------------------------------
    def _encode_grid(self, grid: Tensor) -> Tensor:
        """B×K×token_dim continuous tokens of an input grid."""
        patches = self.patch_embed(grid).flatten(2).transpose(1, 2) + self.patch_pos
        queries = self.latent_queries.expand(grid.shape[0], -1, -1)
        return self.to_token(
            self.encoder(torch.cat([patches, queries], dim=1))[:, -self.max_tokens :]
        )

    def _decode_features(self, vectors: Tensor) -> Tensor:
        """The decoder's B×P×F output features from (a prefix of) the token vectors."""
        queries = self.pixel_queries.expand(vectors.shape[0], -1, -1)
        decoded = self.decoder(torch.cat([queries, vectors], dim=1))[:, : self.grid**2]
        return self.to_pixels(decoded)

    def _latents(self, images: Tensor) -> Tensor:
        """B×K×token_dim continuous tokens of B×3×S×S images in [0, 1]."""
        return self._encode_grid(self._input_grid(images))

    def _indices(self, images: Tensor) -> Tensor:
        return self.quantizer(self._latents(images)).indices

    def _vectors(self, indices: Tensor) -> Tensor:
        n = indices.shape[1]
        vectors = self.from_token(self.quantizer.embed(indices)) + self.latent_pos[:, :n]
        if self.config.nested_dropout == "mask" and n < self.max_tokens:
            fill = self.tail_dropout.mask_token.expand(indices.shape[0], self.max_tokens - n, -1)
            vectors = torch.cat([vectors, fill], dim=1)
        return vectors

    def _pixels(self, vectors: Tensor) -> Tensor:
        return self._output_image(self._decode_features(vectors))

    def _token_pass(self, grid: Tensor, num_tokens: int | None) -> dict:
        """Training pass of an input grid: {"features", "quantizer", "lengths"}, the tail dropped at a
        random length in training mode (``num_tokens`` fixes it)."""
        out = self.quantizer(self._encode_grid(grid))
        vectors, lengths = self._drop_tail(
            self.from_token(out.quantized) + self.latent_pos, num_tokens
        )
        return {"features": self._decode_features(vectors), "quantizer": out, "lengths": lengths}

    def _drop_tail(self, vectors: Tensor, num_tokens: int | None) -> tuple[Tensor, Tensor]:
        """The token vectors with the tail dropped (at random in training mode, or after
        ``num_tokens``), and the length kept per sample."""
        if self.tail_dropout is not None:
            return self.tail_dropout(vectors, num_tokens)
        vectors = vectors[:, : num_tokens or self.max_tokens]
        return vectors, torch.full((vectors.shape[0],), vectors.shape[1], device=vectors.device)

    def forward(self, images: Tensor, num_tokens: int | None = None) -> dict:
        """Training pass: {"x_hat", "quantizer" (QuantizerOutput), "lengths" (tokens kept per sample)}.

        In training mode the tail is dropped at a random length; ``num_tokens`` fixes it.
        """
        out = self._token_pass(self._input_grid(images), num_tokens)
        return {
            "x_hat": self._output_image(out.pop("features")),
            "quantizer": out["quantizer"],
            "lengths": out["lengths"],
        }
