"""Learned image and video codecs (built by name through :mod:`vcodec.registry`)."""

from vcodec.codecs.base import CodecConfig, LearnedImageCodec
from vcodec.codecs.checkerboard_channel import CheckerboardChannelCodec
from vcodec.codecs.factorized import FactorizedPriorCodec
from vcodec.codecs.hyperprior import CheckerboardCodec, ScaleHyperpriorCodec

__all__ = [
    "CheckerboardChannelCodec",
    "CheckerboardCodec",
    "CodecConfig",
    "FactorizedPriorCodec",
    "LearnedImageCodec",
    "ScaleHyperpriorCodec",
]
