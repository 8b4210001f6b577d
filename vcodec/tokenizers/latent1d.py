"""A 1D tokenizer in a trained image codec's latent space (FlexTok's design; :mod:`.latent`): a
TiTok-style transformer turns the codec's latent grid into K nested tokens and back.

    image ─g_a─▶ t ─patchify─▶ ViT encoder + K queries ─▶ FSQ ─▶ ids (any prefix decodes)
    ids ─▶ ViT decoder ─▶ t̂ ─g_s─▶ image

With ``linear`` (the default) each side also has a linear path that starts as the nested transform
code of the grid, and the transformers start at zero and learn what it misses. Nested dropout on a
linear autoencoder finds the principal components in order (Rippel et al. 2014); here they are
written down instead of learned: the synthesis-weighted KLT across channels, a 2D DCT across
positions, and the K·d strongest coefficients in order of variance, d to a token, each scaled to
±3 standard deviations of its FSQ channel. So quality rises with k before the first step, where a
transformer trained from scratch on a CPU budget leaves its later tokens unused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from einops import rearrange
from torch import Tensor, nn

from vcodec.latent_grid import STRIDE as CODEC_STRIDE  # pixels per latent position
from vcodec.tokenizers.latent import (
    CodecLatentSpace,
    set_linear_maps,
    synthesis_weighted_klt,
)
from vcodec.tokenizers.transformer1d import Transformer1DConfig, Transformer1DTokenizer


@dataclass
class Latent1DConfig(Transformer1DConfig):
    """Architecture of a :class:`LatentTransformer1DTokenizer`; ``patch_size`` counts latent positions."""

    codec: str = "checkerboard-medium-v2"  # the image codec whose g_a and g_s it works between
    image_size: int = 256
    patch_size: int = 2
    width: int = 160
    depth: int = 4
    heads: int = 4
    num_tokens: int = 128
    token_dim: int = 5
    quantizer: str = "fsq"
    quantizer_options: dict = field(
        default_factory=lambda: {"levels": [7, 5, 5, 5, 5], "hard_clamp": True}
    )
    prior: str = "autoregressive"
    linear: bool = True  # a linear path started as the nested KLT × DCT code of the grid
    architecture: str = "latent-1d"

    def __post_init__(self) -> None:
        side = CODEC_STRIDE * self.patch_size
        if self.image_size % side:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of {side} (the codec's stride "
                f"{CODEC_STRIDE} × patch_size {self.patch_size})"
            )
        super().__post_init__()

    def summary(self) -> str:
        grid = self.image_size // CODEC_STRIDE
        linear = ", linear KLT × DCT path" if self.linear else ""
        return (
            f"ViT encoder/decoder over the {grid}×{grid} latent grid of `{self.codec}` (frozen g_a and "
            f"g_s){linear}, {self.image_size}² input, latent patch {self.patch_size}, width "
            f"{self.width}, {self.depth}+{self.depth} layers, K={self.num_tokens} tokens, quantizer "
            f"{self.quantizer} {self.quantizer_options}, nested dropout {self.nested_dropout}"
        )


def dct_matrix(size: int) -> Tensor:
    """The orthonormal DCT-II as a size×size matrix (rows: frequencies)."""
    position = torch.arange(size, dtype=torch.float64)
    basis = torch.cos(math.pi * (position[None, :] + 0.5) * position[:, None] / size)
    basis *= math.sqrt(2 / size)
    basis[0] /= math.sqrt(2)
    return basis.float()


class LatentTransformer1DTokenizer(CodecLatentSpace, Transformer1DTokenizer):
    """Transformer1DTokenizer over the codec's latent grid (``patch_size`` latent positions a side),
    decoded through the codec's g_s; its decoder reads the token codes (a prefix, zero beyond)."""

    def __init__(self, config: Latent1DConfig, codec: nn.Module, name: str = "unnamed"):
        """``codec``: the loaded image codec ``config.codec`` names (``vcodec.zoo.build`` loads it)."""
        self._attach_codec(codec)
        super().__init__(config, name)
        if config.linear:
            m, side, coefficients = codec.config.m, self._latent_side(), self._coefficients()
            self.project, self.unproject = nn.Conv2d(m, m, 1), nn.Conv2d(m, m, 1)
            self.register_buffer("dct", dct_matrix(side), persistent=False)
            # per FSQ channel: the coefficient it carries, and its ±range in the FSQ clamp
            self.register_buffer("chosen", torch.arange(coefficients))
            self.register_buffer("spread", torch.ones(coefficients))
            self.register_buffer("linear_fitted", torch.zeros((), dtype=torch.bool))
            for layer in (self.to_token[-1], self.to_pixels[-1]):  # the transformers start at zero
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def _grid_side(self) -> int:
        return self.config.image_size // (CODEC_STRIDE * self.config.patch_size)

    def _latent_side(self) -> int:
        return self.config.image_size // CODEC_STRIDE

    def _coefficients(self) -> int:
        return self.config.num_tokens * self.config.token_dim

    def _input_layer(self) -> nn.Module:
        p = self.config.patch_size
        return nn.Conv2d(self.codec.config.m, self.config.width, p, stride=p)

    def _output_features(self) -> int:
        return self.codec.config.m * self.config.patch_size**2

    def latent_grid(self, features: Tensor) -> Tensor:
        """The decoder's B×P×F features as a B×M×h×w latent grid (t̂)."""
        return self._unpatchify(features)

    # --- the linear path: KLT across channels, DCT across positions, the strongest coefficients --------
    def _spectrum(self, grid: Tensor) -> Tensor:
        """B×(M·h·w) DCT coefficients of each channel of a B×M×h×w grid."""
        return torch.einsum("fh,bchw,gw->bcfg", self.dct, grid, self.dct).flatten(1)

    def _linear_tokens(self, t: Tensor) -> Tensor:
        coefficients = self._spectrum(self.project(t))[:, self.chosen] / self.spread
        return coefficients.unflatten(1, (self.max_tokens, self.config.token_dim))

    def _linear_features(self, codes: Tensor) -> Tensor:
        """Decoder features (B×P×F) of the linear path from B×K×d codes (zero where dropped)."""
        m, side = self.codec.config.m, self._latent_side()
        spectrum = codes.new_zeros(codes.shape[0], m * side * side)
        spectrum[:, self.chosen] = codes.flatten(1) * self.spread
        grid = torch.einsum(
            "fh,bcfg,gw->bchw", self.dct, spectrum.unflatten(1, (m, side, side)), self.dct
        )
        p = self.config.patch_size
        return rearrange(self.unproject(grid), "b c (h p) (w q) -> b (h w) (c p q)", p=p, q=p)

    @torch.no_grad()
    def fit_linear(self, t: Tensor, metric: Tensor) -> None:
        """Start the linear path as the nested transform code of latents ``t`` (B×M×h×w) under the
        synthesis's Gram kernel ``metric``: the KLT across channels, the DCT across positions, and the
        K·d coefficients of largest variance, strongest first, each scaled so ±3 standard deviations
        fill its FSQ channel. Once per model: a trained or loaded one keeps its maps."""
        if not self.config.linear or bool(self.linear_fitted):
            return
        analysis, synthesis, mean, _ = synthesis_weighted_klt(t, metric)
        set_linear_maps(self.project, self.unproject, analysis, synthesis, mean)
        variance = self._spectrum(self.project(t)).pow(2).mean(0)
        strongest = torch.argsort(variance, descending=True)[: self._coefficients()]
        self.chosen.copy_(strongest)
        self.spread.copy_(3 * variance[strongest].sqrt().clamp_min(1e-6))
        self.linear_fitted.fill_(True)

    # --- the token passes: the decoder reads codes, so the linear path can read them too ---------------
    def _encode_grid(self, t: Tensor) -> Tensor:
        tokens = super()._encode_grid(t)
        return tokens + self._linear_tokens(t) if self.config.linear else tokens

    def _vectors(self, indices: Tensor) -> Tensor:
        """The B×n×d codes of a prefix of ids (what :meth:`_decode_features` reads)."""
        return self.quantizer.embed(indices)

    def _decode_features(self, codes: Tensor) -> Tensor:
        """The decoder's B×P×F features from the codes of a prefix of n tokens."""
        n = codes.shape[1]
        vectors = self.from_token(codes) + self.latent_pos[:, :n]
        if self.config.nested_dropout == "mask" and n < self.max_tokens:
            fill = self.tail_dropout.mask_token.expand(codes.shape[0], self.max_tokens - n, -1)
            vectors = torch.cat([vectors, fill], dim=1)
        return self._decode(vectors, codes)

    def _decode(self, vectors: Tensor, codes: Tensor) -> Tensor:
        """Transformer features of ``vectors`` plus, with ``linear``, the linear path's of ``codes``
        (a prefix, or all K with zeros where dropped)."""
        features = super()._decode_features(vectors)
        if not self.config.linear:
            return features
        tail = self.max_tokens - codes.shape[1]
        return features + self._linear_features(nn.functional.pad(codes, (0, 0, 0, tail)))

    def _token_pass(self, t: Tensor, num_tokens: int | None) -> dict:
        out = self.quantizer(self._encode_grid(t))
        vectors, lengths = self._drop_tail(
            self.from_token(out.quantized) + self.latent_pos, num_tokens
        )
        kept = (
            torch.arange(self.max_tokens, device=t.device)[None, :, None] < lengths[:, None, None]
        )
        codes = out.quantized * kept
        return {"features": self._decode(vectors, codes), "quantizer": out, "lengths": lengths}
