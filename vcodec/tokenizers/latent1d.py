"""A 1D tokenizer in a trained image codec's latent space (FlexTok's design; :mod:`.latent`): a
TiTok-style transformer turns the codec's latent grid into K nested tokens and back.

    image ─g_a─▶ t ─patchify─▶ ViT encoder + K queries ─▶ FSQ ─▶ ids (any prefix decodes)
    ids ─▶ ViT decoder ─▶ t̂ ─g_s─▶ image
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from vcodec.tokenizers.latent import CodecLatentSpace
from vcodec.tokenizers.transformer1d import Transformer1DConfig, Transformer1DTokenizer
from vcodec.train.latents import STRIDE as CODEC_STRIDE  # pixels per latent position


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
    quantizer_options: dict = field(default_factory=lambda: {"levels": [7, 5, 5, 5, 5]})
    prior: str = "autoregressive"
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
        return (
            f"ViT encoder/decoder over the {grid}×{grid} latent grid of `{self.codec}` (frozen g_a and "
            f"g_s), {self.image_size}² input, latent patch {self.patch_size}, width {self.width}, "
            f"{self.depth}+{self.depth} layers, K={self.num_tokens} tokens, quantizer {self.quantizer} "
            f"{self.quantizer_options}, nested dropout {self.nested_dropout}"
        )


class LatentTransformer1DTokenizer(CodecLatentSpace, Transformer1DTokenizer):
    """Transformer1DTokenizer over the codec's latent grid (``patch_size`` latent positions a side),
    decoded through the codec's g_s."""

    def __init__(self, config: Latent1DConfig, codec: nn.Module, name: str = "unnamed"):
        """``codec``: the loaded image codec ``config.codec`` names (``vcodec.zoo.build`` loads it)."""
        self._attach_codec(codec)
        super().__init__(config, name)

    def _grid_side(self) -> int:
        return self.config.image_size // (CODEC_STRIDE * self.config.patch_size)

    def _input_layer(self) -> nn.Module:
        p = self.config.patch_size
        return nn.Conv2d(self.codec.config.m, self.config.width, p, stride=p)

    def _output_features(self) -> int:
        return self.codec.config.m * self.config.patch_size**2

    def latent_grid(self, features: Tensor) -> Tensor:
        """The decoder's B×P×F features as a B×M×h×w latent grid (t̂)."""
        return self._unpatchify(features)
