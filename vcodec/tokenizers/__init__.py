"""Visual tokenizers behind one protocol (:class:`Tokenizer`): images ↔ token ids ↔ bytes."""

from vcodec.tokenizers.base import LearnedTokenizer, Tokenizer
from vcodec.tokenizers.transformer1d import Transformer1DConfig, Transformer1DTokenizer

__all__ = ["LearnedTokenizer", "Tokenizer", "Transformer1DConfig", "Transformer1DTokenizer"]
