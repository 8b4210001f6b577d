"""Range coding of integer symbols with integer CDF tables, on top of constriction.

A latent tensor is coded as (value, table index) pairs: each element names the CDF table of its
distribution (a scale-table entry for a Gaussian, a channel for a factorized prior). Elements are
grouped by table and each group is coded with one fixed categorical model, which is constriction's
fast path (no per-symbol Python work). Values that fall outside their table are coded as the table's
escape symbol followed by the value itself under a wide Laplace model.

The tables are integers (CompressAI's ``_quantized_cdf``/``_cdf_length``/``_offset``) stored with the
model, so encoder and decoder see the same probabilities bit for bit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import constriction
import numpy as np

from vcodec.errors import BitstreamError

_WORD_BITS = 32  # constriction's range coder: 32-bit words, a 64-bit state
ESCAPE_LIMIT = 1 << 15  # escaped values live in [-ESCAPE_LIMIT, ESCAPE_LIMIT]
_ESCAPE_MODEL = constriction.stream.model.QuantizedLaplace(-ESCAPE_LIMIT, ESCAPE_LIMIT, 0.0, 64.0)


@dataclass
class CdfTables:
    """Integer CDF tables: row t holds ``lengths[t]`` CDF values; symbol 0 of table t is ``offsets[t]``.

    The last symbol of each table (``lengths[t] - 2``) is the escape symbol.
    """

    cdfs: np.ndarray  # int32, T × L
    lengths: np.ndarray  # int32, T
    offsets: np.ndarray  # int32, T
    _models: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.cdfs = np.ascontiguousarray(self.cdfs, dtype=np.int64)
        self.lengths = np.ascontiguousarray(self.lengths, dtype=np.int64).reshape(-1)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64).reshape(-1)
        if not (len(self.cdfs) == len(self.lengths) == len(self.offsets)) or len(self.cdfs) == 0:
            raise ValueError("CDF tables, lengths and offsets must have the same, non-zero count")

    @property
    def count(self) -> int:
        return len(self.lengths)

    def model(self, table: int) -> constriction.stream.model.Categorical:
        """The constriction model of one table (built once, then cached)."""
        if table not in self._models:
            cdf = self.cdfs[table, : self.lengths[table]]
            pmf = np.diff(cdf).astype(np.float64)
            self._models[table] = constriction.stream.model.Categorical(pmf, perfect=False)
        return self._models[table]

    @functools.cached_property
    def offsets32(self) -> np.ndarray:
        return self.offsets.astype(np.int32)

    @functools.cached_property
    def escapes32(self) -> np.ndarray:
        """The escape symbol of each table (its last symbol)."""
        return (self.lengths - 2).astype(np.int32)


def _groups(indexes: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts elements by table, and where each table's run starts and ends."""
    # a stable sort of 16-bit keys is a radix sort in NumPy: several times faster than on int64
    order = np.argsort(indexes.astype(np.int16 if count <= 1 << 15 else np.int64), kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(indexes, minlength=count))))
    return order, bounds


def range_encoder() -> constriction.stream.queue.RangeEncoder:
    return constriction.stream.queue.RangeEncoder()


def range_bytes(encoder: constriction.stream.queue.RangeEncoder) -> bytes:
    """What an encoder wrote: little-endian 32-bit words, the last cut to the bytes it needs.

    constriction ends a stream with a whole word; any point of the final interval would do, and the
    one with the most trailing zero bytes is often 1–3 bytes shorter (a short token stream's largest
    overhead). The cut word's leading bytes come last, and :func:`range_decoder` puts the zeros back.
    """
    position, (lower, width) = encoder.pos()
    data = encoder.get_compressed().astype("<u4").tobytes()
    tail = _shortest_tail(lower, width)
    # only when the stream ends as expected: one word after ``position``, holding lower rounded up
    if tail is None or len(data) != 4 * (position + 1) or data[-4:] != _word_point(lower):
        return data
    return data[:-4] + tail


def _word_point(lower: int) -> bytes:
    """The final word constriction writes: ``lower`` rounded up to whole words (b"" on a carry)."""
    point = -(-lower >> _WORD_BITS) << _WORD_BITS
    return (point >> _WORD_BITS).to_bytes(4, "little") if point < 1 << 2 * _WORD_BITS else b""


def _shortest_tail(lower: int, width: int) -> bytes | None:
    """The fewest leading bytes of a final word whose point (zeros after them) lies in
    [lower, lower + width) of the 64-bit state, or None when that takes the whole word."""
    for keep in (1, 2, 3):
        shift = 2 * _WORD_BITS - 8 * keep
        point = -(-lower >> shift) << shift
        if point < min(lower + width, 1 << 2 * _WORD_BITS):
            return (point >> shift).to_bytes(keep, "little")
    return None


def _whole_words(data: bytes) -> np.ndarray:
    """A stream of :func:`range_bytes` as the 32-bit words constriction reads (a cut word refilled)."""
    cut = len(data) % 4
    if cut:
        word = int.from_bytes(data[-cut:], "little") << 8 * (4 - cut)
        data = data[:-cut] + word.to_bytes(4, "little")
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


@contextmanager
def range_decoder(data: bytes, what: str) -> Iterator[constriction.stream.queue.RangeDecoder]:
    """A range decoder over ``data``: any failure while decoding inside the block becomes one
    :class:`BitstreamError` that names ``what``."""
    try:
        yield constriction.stream.queue.RangeDecoder(_whole_words(data))
    except (ValueError, RuntimeError, AssertionError) as err:
        raise BitstreamError(f"{what} is corrupt ({err})") from None


def encode(values: np.ndarray, indexes: np.ndarray, tables: CdfTables) -> bytes:
    """Range-code integer ``values`` (any shape), each under the table its ``indexes`` entry names."""
    encoder = range_encoder()
    encode_into(encoder, values, indexes, tables)
    return range_bytes(encoder)


def encode_into(
    encoder: constriction.stream.queue.RangeEncoder,
    values: np.ndarray,
    indexes: np.ndarray,
    tables: CdfTables,
) -> None:
    """:func:`encode` onto an open encoder, so several groups can share one stream (decode them with
    :func:`decode_from` in the same order)."""
    values = np.asarray(values, dtype=np.int32).reshape(-1)
    indexes = np.asarray(indexes, dtype=np.intp).reshape(-1)
    if values.shape != indexes.shape:
        raise ValueError("values and indexes must have the same number of elements")
    if len(indexes) and (indexes.min() < 0 or indexes.max() >= tables.count):
        raise ValueError("table index out of range")
    if np.any(np.abs(values) > ESCAPE_LIMIT):
        raise ValueError(f"latent value beyond ±{ESCAPE_LIMIT} cannot be coded")
    order, bounds = _groups(indexes, tables.count)
    values, indexes = values[order], indexes[order]
    symbols = values - tables.offsets32[indexes]
    escape = tables.escapes32[indexes]
    escaped = (symbols < 0) | (symbols >= escape)
    np.copyto(symbols, escape, where=escaped)
    for table in np.flatnonzero(np.diff(bounds)):
        encoder.encode(symbols[bounds[table] : bounds[table + 1]], tables.model(int(table)))
    encoder.encode(values[escaped], _ESCAPE_MODEL)


def decode(data: bytes, indexes: np.ndarray, tables: CdfTables) -> np.ndarray:
    """Inverse of :func:`encode`: the values, in the shape of ``indexes``.

    Raises :class:`BitstreamError` when ``data`` cannot be a stream for these indexes.
    """
    with range_decoder(data, "entropy-coded data") as decoder:
        return decode_from(decoder, indexes, tables)


def decode_from(
    decoder: constriction.stream.queue.RangeDecoder, indexes: np.ndarray, tables: CdfTables
) -> np.ndarray:
    """Inverse of :func:`encode_into`: the next values of an open decoder, in the shape of ``indexes``
    (run it inside :func:`range_decoder`, which turns a corrupt stream into a BitstreamError)."""
    shape = np.shape(indexes)
    indexes = np.asarray(indexes, dtype=np.intp).reshape(-1)
    order, bounds = _groups(indexes, tables.count)
    sorted_values = np.empty(len(indexes), dtype=np.int32)
    for table in np.flatnonzero(np.diff(bounds)):
        lo, hi = bounds[table], bounds[table + 1]
        sorted_values[lo:hi] = decoder.decode(tables.model(int(table)), int(hi - lo))
    sorted_indexes = indexes[order]
    escaped = sorted_values == tables.escapes32[sorted_indexes]
    sorted_values += tables.offsets32[sorted_indexes]
    sorted_values[escaped] = decoder.decode(_ESCAPE_MODEL, int(escaped.sum()))
    values = np.empty_like(sorted_values)
    values[order] = sorted_values
    return values.reshape(shape)
