"""Learned image and video codecs (built by name through :mod:`vcodec.registry`)."""

from vcodec.codecs.base import CodecConfig, LearnedImageCodec
from vcodec.codecs.channel import ChannelCheckerboardCodec
from vcodec.codecs.factorized import FactorizedPriorCodec
from vcodec.codecs.hyperprior import CheckerboardCodec, ScaleHyperpriorCodec

__all__ = [
    "ChannelCheckerboardCodec",
    "CheckerboardCodec",
    "CodecConfig",
    "FactorizedPriorCodec",
    "LearnedImageCodec",
    "ScaleHyperpriorCodec",
]
