"""Inter-frame prediction in pixels: exact sub-pixel motion compensation and block motion search.

The pieces a hybrid video codec predicts with, as H.264/HEVC define them, in integer arithmetic so
that every machine forms the same prediction from the same decoded reference:

- :mod:`vcodec.inter.interpolation` — quarter-pel interpolation with HEVC's 8-tap luma filters;
- :mod:`vcodec.inter.search` — block motion estimation: integer search, then half- and quarter-pel
  refinement on the interpolated reference;
- :mod:`vcodec.inter.vectors` — the vectors' section: differences from the neighbours' median,
  range-coded.
"""

from vcodec.inter.interpolation import QUARTER, SubpelReference, predict
from vcodec.inter.search import block_motion
from vcodec.inter.vectors import decode_vectors, encode_vectors

__all__ = [
    "QUARTER",
    "SubpelReference",
    "block_motion",
    "decode_vectors",
    "encode_vectors",
    "predict",
]
