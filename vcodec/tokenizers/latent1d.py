"""A 1D tokenizer in a trained image codec's latent space (FlexTok's design; :mod:`.latent`): a
TiTok-style transformer turns the codec's latent grid into K nested tokens and back.

    image ─g_a─▶ t ─patchify─▶ ViT encoder + K queries ─▶ FSQ ─▶ ids (any prefix decodes)
    ids ─▶ ViT decoder ─▶ t̂ ─g_s─▶ image

With ``linear`` (the default) each side also has a linear path that starts as the nested transform
code of the grid, and the transformers start at zero and learn what it misses. Nested dropout on a
linear autoencoder finds the principal components in order (Rippel et al. 2014); here they are
written down instead of learned: the synthesis-weighted KLT across channels and a 2D DCT across
positions give coefficients of known variance, and each FSQ channel, in token order, either starts
the strongest coefficient not yet sent (±3 standard deviations over its levels) or refines one
already sent (its levels across the last step), whichever cuts the expected error more: embedded
coding, as in bit-plane image coders. So quality rises with k before the first step, where a
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
    linear: bool = True  # a linear path started as the embedded KLT × DCT code of the grid
    architecture: str = "latent-1d"

    def __post_init__(self) -> None:
        levels = list(self.quantizer_options.get("levels", ()))
        if self.linear and (
            self.quantizer != "fsq"
            or len(levels) != self.token_dim
            or any(n % 2 == 0 for n in levels)
        ):
            raise ValueError(
                f"the linear path (linear = true) needs quantizer fsq with {self.token_dim} odd "
                f"levels a token (a refinement centres its levels), got {self.quantizer} "
                f"{self.quantizer_options}; set linear = false or start from configs/ltok1d-128.toml"
            )
        if self.depth == 0 and not (self.linear and self.nested_dropout in ("slice", "none")):
            raise ValueError(
                "depth 0 (no transformers) needs the linear path and nested_dropout slice or none"
            )
        side = CODEC_STRIDE * self.patch_size
        if self.image_size % side:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of {side} (the codec's stride "
                f"{CODEC_STRIDE} × patch_size {self.patch_size})"
            )
        super().__post_init__()

    def summary(self) -> str:
        grid = self.image_size // CODEC_STRIDE
        space = f"the {grid}×{grid} latent grid of `{self.codec}` (frozen g_a and g_s)"
        if self.depth:
            linear = ", embedded KLT × DCT linear path" if self.linear else ""
            networks = (
                f"ViT encoder/decoder over {space}{linear}, latent patch {self.patch_size}, width "
                f"{self.width}, {self.depth}+{self.depth} layers"
            )
        else:
            networks = f"embedded KLT × DCT code of {space}, no transformers (depth 0)"
        return (
            f"{networks}, {self.image_size}² input, K={self.num_tokens} tokens, quantizer "
            f"{self.quantizer} {self.quantizer_options}, nested dropout {self.nested_dropout}"
        )


def dct_matrix(size: int) -> Tensor:
    """The orthonormal DCT-II as a size×size matrix (rows: frequencies)."""
    position = torch.arange(size, dtype=torch.float64)
    basis = torch.cos(math.pi * (position[None, :] + 0.5) * position[:, None] / size)
    basis *= math.sqrt(2 / size)
    basis[0] /= math.sqrt(2)
    return basis.float()


def embedded_plan(variance: Tensor, levels: list[int]) -> tuple[Tensor, Tensor, Tensor]:
    """Which coefficient each FSQ channel carries, at which stage, and its scale: channel by channel
    (``levels`` each, odd), greedily the choice that cuts the expected squared error most, between
    starting the strongest unsent coefficient (±3σ over its levels, error ≈ step²/12) and refining a
    sent one (its levels spread across its current step, error ÷ levels²). Returns (chosen, stage,
    spread): a channel's code times its spread is what it adds to its coefficient."""
    variance = variance.detach().double().cpu()
    order = torch.argsort(variance, descending=True).tolist()
    error = variance.clone()  # expected squared error of each coefficient as sent so far
    step = torch.zeros_like(error)  # the quantization step each sent coefficient has reached
    stages = torch.zeros(variance.numel(), dtype=torch.long)
    chosen, stage, spread, unsent = [], [], [], 0
    for level in levels:
        half = level // 2
        new = order[unsent] if unsent < len(order) else None
        start_step = 3 * variance[new].sqrt() / half if new is not None else 0.0
        cut_new = error[new] - start_step**2 / 12 if new is not None else -1.0
        refinable = torch.where(stages > 0, error * (1 - 1 / level**2), -1.0)
        best = int(torch.argmax(refinable))
        if new is not None and cut_new >= refinable[best]:
            coefficient, scale, step[new] = new, start_step * half, start_step
            unsent += 1
        else:  # the residual lies within ±step/2: ``level`` centres across it
            coefficient, scale = best, step[best] * half / level
            step[best] /= level
        error[coefficient] = step[coefficient] ** 2 / 12
        chosen.append(coefficient)
        stage.append(int(stages[coefficient]))
        stages[coefficient] += 1
        spread.append(float(scale))
    return (
        torch.tensor(chosen),
        torch.tensor(stage),
        torch.tensor(spread, dtype=torch.float32).clamp_min(1e-6),
    )


# what a Transformer1DTokenizer builds for its transformers (absent with depth 0)
TRANSFORMER_PARTS = (
    "patch_embed",
    "patch_pos",
    "latent_queries",
    "encoder",
    "to_token",
    "from_token",
    "latent_pos",
    "pixel_queries",
    "decoder",
    "to_pixels",
)


class LatentTransformer1DTokenizer(CodecLatentSpace, Transformer1DTokenizer):
    """Transformer1DTokenizer over the codec's latent grid (``patch_size`` latent positions a side),
    decoded through the codec's g_s; its decoder reads the token codes (a prefix, zero beyond)."""

    def __init__(self, config: Latent1DConfig, codec: nn.Module, name: str = "unnamed"):
        """``codec``: the loaded image codec ``config.codec`` names (``vcodec.zoo.build`` loads it)."""
        self._attach_codec(codec)
        super().__init__(config, name)
        if config.linear:
            m, side, channels = codec.config.m, self._latent_side(), len(self._channel_levels())
            self.project, self.unproject = nn.Conv2d(m, m, 1), nn.Conv2d(m, m, 1)
            self.register_buffer("dct", dct_matrix(side), persistent=False)
            # per FSQ channel: the coefficient it carries, its stage there (0 starts it, later ones
            # refine it) and the scale of its code (embedded_plan)
            self.register_buffer("chosen", torch.arange(channels))
            self.register_buffer("stage", torch.zeros(channels, dtype=torch.long))
            self.register_buffer("spread", torch.ones(channels))
            self.register_buffer("linear_fitted", torch.zeros((), dtype=torch.bool))
            for layer in (self.to_token[-1], self.to_pixels[-1]):  # the transformers start at zero
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        if not config.depth:  # the linear path alone: no transformer weights to carry
            for part in TRANSFORMER_PARTS:
                delattr(self, part)

    def _grid_side(self) -> int:
        return self.config.image_size // (CODEC_STRIDE * self.config.patch_size)

    def _latent_side(self) -> int:
        return self.config.image_size // CODEC_STRIDE

    def _input_layer(self) -> nn.Module:
        p = self.config.patch_size
        return nn.Conv2d(self.codec.config.m, self.config.width, p, stride=p)

    def _output_features(self) -> int:
        return self.codec.config.m * self.config.patch_size**2

    def latent_grid(self, features: Tensor) -> Tensor:
        """The decoder's B×P×F features as a B×M×h×w latent grid (t̂)."""
        return self._unpatchify(features)

    # --- the linear path: KLT across channels, DCT across positions, an embedded plan of coefficients ---
    def _spectrum(self, grid: Tensor) -> Tensor:
        """B×(M·h·w) DCT coefficients of each channel of a B×M×h×w grid."""
        return torch.einsum("fh,bchw,gw->bcfg", self.dct, grid, self.dct).flatten(1)

    def _with_linear_tokens(self, t: Tensor, correction: Tensor) -> Tensor:
        """The continuous B×K×d tokens: each channel's part of its coefficient (what earlier stages
        left of it, over its spread) plus the transformer's ``correction``. Stage by stage, since a
        refinement codes what the quantized earlier stages left."""
        coefficients = self._spectrum(self.project(t))
        tokens = correction.flatten(1)
        decoded = torch.zeros_like(coefficients)  # the coefficients as the codes so far give them
        last = int(self.stage.max())
        for stage in range(last + 1):
            channels = torch.nonzero(self.stage == stage).squeeze(1)
            carried = self.chosen[channels]
            part = (coefficients[:, carried] - decoded[:, carried]) / self.spread[channels]
            tokens = tokens.index_add(1, channels, part)
            if stage < last:
                codes = self.quantizer.values(tokens.unflatten(1, correction.shape[1:]))
                sent = codes.flatten(1)[:, channels] * self.spread[channels]
                decoded = decoded.index_add(1, carried, sent)
        return tokens.unflatten(1, correction.shape[1:])

    def _linear_features(self, codes: Tensor) -> Tensor:
        """Decoder features (B×P×F) of the linear path from B×K×d codes (zero where dropped)."""
        m, side = self.codec.config.m, self._latent_side()
        spectrum = codes.new_zeros(codes.shape[0], m * side * side)
        spectrum = spectrum.index_add(1, self.chosen, codes.flatten(1) * self.spread)
        grid = torch.einsum(
            "fh,bcfg,gw->bchw", self.dct, spectrum.unflatten(1, (m, side, side)), self.dct
        )
        p = self.config.patch_size
        return rearrange(self.unproject(grid), "b c (h p) (w q) -> b (h w) (c p q)", p=p, q=p)

    @torch.no_grad()
    def fit_linear(self, t: Tensor, metric: Tensor) -> None:
        """Start the linear path as the embedded transform code of latents ``t`` (B×M×h×w) under the
        synthesis's Gram kernel ``metric``: the KLT across channels, the DCT across positions, and
        the FSQ channels' embedded plan over the coefficients' variances (:func:`embedded_plan`).
        Once per model: a trained or loaded one keeps its maps."""
        if not self.config.linear or bool(self.linear_fitted):
            return
        analysis, synthesis, mean, _ = synthesis_weighted_klt(t, metric)
        set_linear_maps(self.project, self.unproject, analysis, synthesis, mean)
        variance = self._spectrum(self.project(t)).pow(2).mean(0)
        plan = embedded_plan(variance, self._channel_levels())
        for buffer, value in zip((self.chosen, self.stage, self.spread), plan):
            buffer.copy_(value)
        self.linear_fitted.fill_(True)

    def _channel_levels(self) -> list[int]:
        """The FSQ levels of every channel in token order (odd, as the config checks)."""
        return list(self.config.quantizer_options["levels"]) * self.max_tokens

    # --- the token passes: the decoder reads codes, so the linear path can read them too ---------------
    def _encode_grid(self, t: Tensor) -> Tensor:
        if not self.config.depth:
            shape = (t.shape[0], self.max_tokens, self.config.token_dim)
            return self._with_linear_tokens(t, t.new_zeros(shape))
        tokens = super()._encode_grid(t)
        return self._with_linear_tokens(t, tokens) if self.config.linear else tokens

    def _vectors(self, indices: Tensor) -> Tensor:
        """The B×n×d codes of a prefix of ids (what :meth:`_decode_features` reads)."""
        return self.quantizer.embed(indices)

    def _decode_features(self, codes: Tensor) -> Tensor:
        """The decoder's B×P×F features from the codes of a prefix of n tokens."""
        if not self.config.depth:
            return self._decode(None, codes)
        n = codes.shape[1]
        vectors = self.from_token(codes) + self.latent_pos[:, :n]
        if self.config.nested_dropout == "mask" and n < self.max_tokens:
            fill = self.tail_dropout.mask_token.expand(codes.shape[0], self.max_tokens - n, -1)
            vectors = torch.cat([vectors, fill], dim=1)
        return self._decode(vectors, codes)

    def _decode(self, vectors: Tensor | None, codes: Tensor) -> Tensor:
        """Transformer features of ``vectors`` (none with depth 0) plus, with ``linear``, the linear
        path's of ``codes`` (a prefix, or all K with zeros where dropped)."""
        features = super()._decode_features(vectors) if self.config.depth else 0
        if not self.config.linear:
            return features
        tail = self.max_tokens - codes.shape[1]
        return features + self._linear_features(nn.functional.pad(codes, (0, 0, 0, tail)))

    def _token_pass(self, t: Tensor, num_tokens: int | None) -> dict:
        out = self.quantizer(self._encode_grid(t))
        if self.config.depth:
            vectors, lengths = self._drop_tail(
                self.from_token(out.quantized) + self.latent_pos, num_tokens
            )
        else:  # only the lengths: the linear path reads the codes
            vectors, lengths = None, self._drop_tail(out.quantized, num_tokens)[1]
        kept = (
            torch.arange(self.max_tokens, device=t.device)[None, :, None] < lengths[:, None, None]
        )
        codes = out.quantized * kept
        return {"features": self._decode(vectors, codes), "quantizer": out, "lengths": lengths}
