"""Binary flags (a video codec's coded/skipped blocks) in few bytes: their share, then the flags
range-coded under a Bernoulli model of that share."""

from __future__ import annotations

import constriction
import numpy as np
import torch
from torch import Tensor

from vcodec.entropy.coder import range_bytes, range_decoder, range_encoder
from vcodec.errors import BitstreamError


def encode_flags(blocks: Tensor) -> bytes:
    """Which blocks are coded: a byte p (0: none, 255: all, else their share in 255ths) and, in between,
    the flags range-coded as Bernoulli(p/255)."""
    flags = blocks.reshape(-1).numpy().astype(np.int32)
    coded = int(flags.sum())
    if coded == 0 or coded == flags.size:
        return bytes([255 if coded else 0])
    share = min(max(round(255 * coded / flags.size), 1), 254)
    encoder = range_encoder()
    encoder.encode(flags, _bernoulli(share))
    return bytes([share]) + range_bytes(encoder)


def decode_flags(data: bytes, shape: tuple[int, int]) -> Tensor:
    if not data:
        raise BitstreamError("predicted frame has no block flags")
    share, rest = data[0], data[1:]
    count = shape[0] * shape[1]
    if share in (0, 255):
        if rest:
            raise BitstreamError("block flags carry unexpected bytes")
        return torch.full(shape, share == 255, dtype=torch.bool)
    with range_decoder(rest, "block flags") as decoder:
        flags = decoder.decode(_bernoulli(share), count)
    return torch.from_numpy(flags.astype(bool)).reshape(shape)


def _bernoulli(share: int):
    return constriction.stream.model.Categorical(
        np.array([255 - share, share], dtype=np.float64) / 255, perfect=False
    )
