"""Every trainable architecture by name, image codecs, video codecs and tokenizers alike: configs from their JSON
form and untrained models from configs (what the zoo and the trainer share)."""

from __future__ import annotations

from torch import nn

from vcodec.codecs import ARCHITECTURES as CODEC_ARCHITECTURES
from vcodec.codecs import CodecConfig, build_codec
from vcodec.codecs.video import LearnedVideoCodec, VideoCodecConfig
from vcodec.tokenizers import (Causal3DConfig, CausalVideoTokenizer, Conv2DConfig, Conv2DTokenizer, Transformer1DConfig,
                               Transformer1DTokenizer)
from vcodec.tokenizers.prior import TokenPriorConfig, TokenPriorModel

TOKENIZER_ARCHITECTURES = {"transformer-1d": (Transformer1DConfig, Transformer1DTokenizer),
                           "conv-2d": (Conv2DConfig, Conv2DTokenizer)}
VIDEO_ARCHITECTURES = {"temporal-checkerboard": (VideoCodecConfig, LearnedVideoCodec)}
VIDEO_TOKENIZER_ARCHITECTURES = {"causal-3d": (Causal3DConfig, CausalVideoTokenizer)}
PRIOR_ARCHITECTURES = {"token-prior": (TokenPriorConfig, TokenPriorModel)}
ARCHITECTURES = sorted([*CODEC_ARCHITECTURES, *TOKENIZER_ARCHITECTURES, *VIDEO_ARCHITECTURES,
                        *VIDEO_TOKENIZER_ARCHITECTURES, *PRIOR_ARCHITECTURES])

ModelConfig = CodecConfig | Transformer1DConfig | Conv2DConfig | VideoCodecConfig | Causal3DConfig | TokenPriorConfig


def config_from_dict(data: dict) -> ModelConfig:
    """The config a checkpoint or run stores (``{"architecture": …, …}``), as its dataclass."""
    architecture = data.get("architecture")
    if architecture in TOKENIZER_ARCHITECTURES:
        return TOKENIZER_ARCHITECTURES[architecture][0].from_dict(data)
    if architecture in VIDEO_ARCHITECTURES:
        return VideoCodecConfig.from_dict(data)
    if architecture in VIDEO_TOKENIZER_ARCHITECTURES:
        return Causal3DConfig.from_dict(data)
    if architecture in PRIOR_ARCHITECTURES:
        return TokenPriorConfig.from_dict(data)
    if architecture in CODEC_ARCHITECTURES:
        return CodecConfig.from_dict(data)
    raise ValueError(f"unknown architecture {architecture!r} (known: {', '.join(ARCHITECTURES)})")


def is_tokenizer(config: ModelConfig) -> bool:
    return config.architecture in TOKENIZER_ARCHITECTURES


def is_video_codec(config: ModelConfig) -> bool:
    return config.architecture in VIDEO_ARCHITECTURES


def is_video_tokenizer(config: ModelConfig) -> bool:
    return config.architecture in VIDEO_TOKENIZER_ARCHITECTURES


def is_token_prior(config: ModelConfig) -> bool:
    return config.architecture in PRIOR_ARCHITECTURES


def model_kind(config: ModelConfig) -> str:
    """What a checkpoint holds, as configs and model cards name it."""
    if is_token_prior(config):
        return "token-prior"
    if is_tokenizer(config):
        return "tokenizer"
    if is_video_tokenizer(config):
        return "video-tokenizer"
    return "video-codec" if is_video_codec(config) else "image-codec"


def build_model(config: ModelConfig, name: str = "unnamed") -> nn.Module:
    """An untrained image codec, video codec, (image or video) tokenizer or token prior."""
    if is_token_prior(config):
        return TokenPriorModel(config, name=name)
    if is_tokenizer(config):
        return TOKENIZER_ARCHITECTURES[config.architecture][1](config, name)
    if is_video_codec(config) or is_video_tokenizer(config):
        model = {**VIDEO_ARCHITECTURES, **VIDEO_TOKENIZER_ARCHITECTURES}[config.architecture][1](config)
        model.name = name
        return model
    return build_codec(config, name)
