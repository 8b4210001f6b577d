"""Mostly-zero small integers (motion vector differences): a zero share and a Laplace over the rest.

A predicted vector is usually exactly right (a still background, a rigid object) and otherwise off by
anything from a quarter pel to many pixels. One Laplace cannot be both peaked and wide, so it spends
about 2.5 bits on each correct component where the empirical entropy is about 0.5. Here the encoder
picks, per section, one of 16 zero shares and one of 16 scales for the nonzero magnitudes (a
symmetric discrete Laplace starting at ±1) and sends both as one byte before the range-coded values.

The tables are integers built once from the byte, so encoder and decoder see the same probabilities.
"""

from __future__ import annotations

import functools

import constriction
import numpy as np

from vcodec.entropy.laplace import decode_chosen, encode_chosen

ZERO_SHARES = 1 / (1 + np.exp(-np.linspace(-2.0, 6.5, 16)))  # P(0): 0.12 … 0.9985
SCALES = 0.4 * 1.35 ** np.arange(16)  # of the nonzero magnitudes: 0.4 … 36 units
TOTAL = 1 << 16  # the integer tables' sum
CHOICES = len(ZERO_SHARES) * len(SCALES)


@functools.lru_cache(maxsize=8)
def _tables(reach: int) -> np.ndarray:
    """CHOICES × (2·reach + 1) integer frequencies over −reach…reach, each at least 1 (any value
    codes, at about 16 bits where the model does not expect it)."""
    magnitude = np.abs(np.arange(-reach, reach + 1))
    rows = []
    for zero in ZERO_SHARES:
        for scale in SCALES:
            tail = np.where(magnitude > 0, np.exp(-(magnitude - 1) / scale), 0.0)
            pmf = np.where(magnitude == 0, zero, (1 - zero) * tail / tail.sum())
            rows.append(np.maximum(1, np.round(pmf * TOTAL)))
    return np.array(rows, dtype=np.int64)


@functools.lru_cache(maxsize=2 * CHOICES)
def _model(choice: int, reach: int):
    return constriction.stream.model.Categorical(
        _tables(reach)[choice].astype(np.float64), perfect=False
    )


def costs(values: np.ndarray, reach: int) -> np.ndarray:
    """The ideal code length of ``values`` (in −reach…reach) under each choice, in bits."""
    tables = _tables(reach)
    counts = np.bincount(values + reach, minlength=2 * reach + 1)
    return -(np.log2(tables / tables.sum(1, keepdims=True)) @ counts)


def cheapest(values: np.ndarray, reach: int) -> tuple[int, float]:
    """The choice (byte) that codes ``values`` in the fewest bits, and those bits."""
    bits = costs(values, reach)
    choice = int(np.argmin(bits))
    return choice, float(bits[choice])


def encode(values: np.ndarray, reach: int) -> bytes:
    """Integers in −reach…reach → the byte naming the cheapest model, then the range-coded values
    (empty for no values)."""
    if values.size == 0:
        return b""
    if np.abs(values).max() > reach:
        raise ValueError(f"values must lie within ±{reach}")
    choice, _ = cheapest(values, reach)
    return encode_chosen(values, reach, choice, _model(choice, reach))


def decode(data: bytes, count: int, reach: int, what: str) -> np.ndarray:
    """The ``count`` values of :func:`encode` (int64); BitstreamError naming ``what`` when the bytes
    cannot be them."""
    return decode_chosen(data, count, reach, what, CHOICES, lambda choice: _model(choice, reach))
