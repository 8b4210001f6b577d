"""Shared building blocks: Ballé-style analysis/synthesis transforms and hyper transforms."""

from vcodec.layers.transforms import (
    analysis_transform,
    hyper_analysis,
    hyper_synthesis,
    synthesis_transform,
)

__all__ = ["analysis_transform", "synthesis_transform", "hyper_analysis", "hyper_synthesis"]
