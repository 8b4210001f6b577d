"""Quantizers: VQ, FSQ, LFQ, residual VQ (vector-quantize-pytorch), factorized VQ, nested dropout.

All share :class:`Quantizer`'s contract: B×N×D in, :class:`QuantizerOutput` out (indices B×N×G),
``embed(indices)`` back to vectors, codebook usage and perplexity reported.
"""

from vcodec.quantizers.base import Quantizer, QuantizerOutput
from vcodec.quantizers.factorized import FactorizedVectorQuantizer
from vcodec.quantizers.library import (
    FiniteScalarQuantizer,
    LookupFreeQuantizer,
    ResidualVectorQuantizer,
    VectorQuantizer,
)
from vcodec.quantizers.nested_dropout import NestedDropout

QUANTIZERS = {
    "vq": VectorQuantizer,
    "fsq": FiniteScalarQuantizer,
    "lfq": LookupFreeQuantizer,
    "rvq": ResidualVectorQuantizer,
    "factorized-vq": FactorizedVectorQuantizer,
}


def build_quantizer(kind: str, dim: int, **options) -> Quantizer:
    """A quantizer by name (vq, fsq, lfq, rvq, factorized-vq) for D=``dim`` tokens."""
    if kind not in QUANTIZERS:
        raise ValueError(f"unknown quantizer {kind!r} (choose from {', '.join(QUANTIZERS)})")
    return QUANTIZERS[kind](dim, **options)


__all__ = [
    "FactorizedVectorQuantizer",
    "FiniteScalarQuantizer",
    "LookupFreeQuantizer",
    "NestedDropout",
    "QUANTIZERS",
    "Quantizer",
    "QuantizerOutput",
    "ResidualVectorQuantizer",
    "VectorQuantizer",
    "build_quantizer",
]
