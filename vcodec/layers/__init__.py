"""Shared building blocks: Ballé-style analysis/synthesis transforms and hyper transforms."""

from vcodec.layers.transforms import (
    CheckerboardConv2d,
    analysis_transform,
    hyper_analysis,
    hyper_synthesis,
    synthesis_transform,
)

__all__ = [
    "CheckerboardConv2d",
    "analysis_transform",
    "synthesis_transform",
    "hyper_analysis",
    "hyper_synthesis",
]
