"""Visual tokenizers behind one protocol (:class:`Tokenizer`): images ↔ token ids ↔ bytes."""

from vcodec.tokenizers.base import LearnedTokenizer, Tokenizer, TokenModel
from vcodec.tokenizers.causal3d import Causal3DConfig, CausalVideoTokenizer
from vcodec.tokenizers.conv2d import Conv2DConfig, Conv2DTokenizer
from vcodec.tokenizers.latent1d import Latent1DConfig, LatentTransformer1DTokenizer
from vcodec.tokenizers.latent2d import Latent2DConfig, LatentConv2DTokenizer
from vcodec.tokenizers.transformer1d import Transformer1DConfig, Transformer1DTokenizer

__all__ = [
    "Causal3DConfig",
    "CausalVideoTokenizer",
    "Conv2DConfig",
    "Conv2DTokenizer",
    "Latent1DConfig",
    "Latent2DConfig",
    "LatentConv2DTokenizer",
    "LatentTransformer1DTokenizer",
    "LearnedTokenizer",
    "TokenModel",
    "Tokenizer",
    "Transformer1DConfig",
    "Transformer1DTokenizer",
]
