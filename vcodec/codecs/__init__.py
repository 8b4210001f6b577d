"""Learned image codecs; :func:`build_codec` makes one from its config."""

from vcodec.codecs.base import CodecConfig, LearnedImageCodec
from vcodec.codecs.factorized import FactorizedPriorCodec
from vcodec.codecs.hyperprior import CheckerboardCodec, ScaleHyperpriorCodec

ARCHITECTURES: dict[str, type[LearnedImageCodec]] = {
    "factorized": FactorizedPriorCodec,
    "scale-hyperprior": ScaleHyperpriorCodec,
    "mean-scale-checkerboard": CheckerboardCodec,
}


def build_codec(config: CodecConfig, name: str = "unnamed") -> LearnedImageCodec:
    """An untrained codec of the given architecture (``config.architecture``)."""
    if config.architecture not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture '{config.architecture}' (known: {known})")
    model = ARCHITECTURES[config.architecture](config)
    model.name = name
    return model


__all__ = [
    "ARCHITECTURES", "CheckerboardCodec", "CodecConfig", "FactorizedPriorCodec", "LearnedImageCodec",
    "ScaleHyperpriorCodec", "build_codec",
]
