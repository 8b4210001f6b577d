"""Small integer symbols (motion vector differences) under a discrete Laplace the encoder picks.

The encoder tries each of 32 scales and sends the cheapest as one byte before the range-coded
symbols: an adaptive model at the cost of a byte, with nothing for the decoder to learn or drift on.
"""

from __future__ import annotations

import constriction
import numpy as np

from vcodec.entropy.coder import range_bytes, range_decoder, range_encoder
from vcodec.errors import BitstreamError

SCALES = 0.15 * 1.2 ** np.arange(32)  # the Laplace scales a section may choose from (one byte)


def probabilities(scale: float, reach: int) -> np.ndarray:
    """A discrete Laplace distribution over −reach…reach (index 0 is −reach)."""
    weights = np.exp(-np.abs(np.arange(-reach, reach + 1)) / scale)
    return weights / weights.sum()


def _model(scale: float, reach: int):
    return constriction.stream.model.Categorical(probabilities(scale, reach), perfect=False)


def bits(values: np.ndarray, scale: float, reach: int) -> float:
    """Ideal code length of ``values`` (in −reach…reach) under the scale's Laplace (infinite where a
    value's probability underflows: that scale cannot code it)."""
    with np.errstate(divide="ignore"):
        return float(-np.log2(probabilities(scale, reach)[values + reach]).sum())


def cheapest(values: np.ndarray, reach: int) -> tuple[int, float]:
    """The index of the scale that codes ``values`` in the fewest bits, and those bits."""
    costs = [bits(values, scale, reach) for scale in SCALES]
    choice = int(np.argmin(costs))
    return choice, costs[choice]


def encode(values: np.ndarray, reach: int) -> bytes:
    """Integers in −reach…reach → the byte naming the cheapest scale, then the range-coded values
    (empty for no values)."""
    if values.size == 0:
        return b""
    choice, _ = cheapest(values, reach)
    return encode_chosen(values, reach, choice, _model(SCALES[choice], reach))


def decode(data: bytes, count: int, reach: int, what: str) -> np.ndarray:
    """The ``count`` values of :func:`encode` (int64); BitstreamError naming ``what`` when the bytes
    cannot be them."""
    return decode_chosen(
        data, count, reach, what, len(SCALES), lambda choice: _model(SCALES[choice], reach)
    )


def encode_chosen(values: np.ndarray, reach: int, choice: int, model) -> bytes:
    """A section of integers in −reach…reach: the byte ``choice`` naming the model, then the values
    range-coded under ``model``."""
    encoder = range_encoder()
    encoder.encode((values + reach).astype(np.int32), model)
    return bytes([choice]) + range_bytes(encoder)


def decode_chosen(
    data: bytes, count: int, reach: int, what: str, choices: int, model_of
) -> np.ndarray:
    """The ``count`` values of a section :func:`encode_chosen` wrote (int64; none from an empty
    section), ``model_of(choice)`` giving the model its first byte names (one of ``choices``);
    BitstreamError naming ``what`` when the bytes cannot be them."""
    if count == 0:
        if data:
            raise BitstreamError(f"{what} where none are coded")
        return np.zeros(0, dtype=np.int64)
    if len(data) < 1 or data[0] >= choices:
        raise BitstreamError(f"{what} are corrupt")
    with range_decoder(data[1:], what) as decoder:
        symbols = decoder.decode(model_of(data[0]), count)
    return symbols.astype(np.int64) - reach
