"""Near-lossless residual coding: the layer that takes a learned codec past its top quality.

A learned image codec's quality saturates where its transforms do (about 32 dB for the shipped
ones). Above that, this layer codes the 8-bit residual between the source and the base decode,
quantized so that no sample is off by more than ``max_error`` levels: near-lossless coding as in
JPEG-LS, on top of a learned lossy layer as in Bai et al., "Deep Lossy Plus Residual Coding for
Lossless and Near-lossless Image Compression" (TPAMI 2024). ``max_error = 0`` is lossless.

Symbols are coded channel by channel (green first, then red and blue) in four polyphase steps of
each 2×2 cell, so every step is one vectorised range-coding call. A symbol's context is the mean
magnitude of symbols already decoded around it, in its own channel and at its place in the earlier
channels. Each context is coded with one of a fixed bank of two-sided geometric tables; the encoder
picks the cheapest table per context and writes its index in the section (semi-adaptive, like
JPEG's optimised Huffman tables). Contexts come from decoded integer symbols only, never from the
base image: a base decode that differs by a level on another machine moves those samples by a
level but cannot derail the decoder.

Section layout: version u8 | max_error u8 | one table index u8 per context (255: unused) | range-coded
bytes.
"""

from __future__ import annotations

import functools

import numpy as np

from vcodec.entropy import coder
from vcodec.entropy.coder import CdfTables
from vcodec.errors import BitstreamError

VERSION = 1
MAX_ERROR = 127  # the largest max_error a section may declare (a step of 255 levels)
PHASES = ((0, 0), (1, 1), (0, 1), (1, 0))  # the order of the four samples of each 2×2 cell
# Context buckets of the activity (8 × the mean magnitude of the decoded neighbours): bucket i holds
# activities below EDGES[i], the last bucket everything above.
EDGES = np.array([1, 3, 5, 7, 10, 14, 20, 28, 40, 56, 80])
BUCKETS = len(EDGES) + 1
UNUSED = 255
TABLE_COUNT = 64
PRECISION = 16  # bits of the integer CDFs
_HEADER = 2


def channel_order(channels: int) -> tuple[int, ...]:
    """Green first for RGB: it predicts the magnitudes of red and blue best."""
    return (1, 0, 2) if channels == 3 else tuple(range(channels))


def half_width(max_error: int) -> int:
    """The largest symbol magnitude: residuals lie in [-255, 255], quantized in steps of 2·max_error+1."""
    return (255 + max_error) // (2 * max_error + 1)


def context_count(channels: int) -> int:
    return channels * len(PHASES) * BUCKETS


@functools.lru_cache(maxsize=8)
def table_bank(width: int) -> CdfTables:
    """:data:`TABLE_COUNT` two-sided geometric distributions over [-width, width] (and the coder's
    escape symbol), from sharply peaked to nearly flat.

    Only IEEE +, ×, / and int() are used, which every platform rounds alike, so encoder and decoder
    build the same integer tables everywhere (exp or log could differ in the last bit).
    """
    symbols = 2 * width + 1
    budget = (1 << PRECISION) - symbols - 1  # every symbol and the escape get at least 1
    cdfs = np.zeros((TABLE_COUNT, symbols + 2), dtype=np.int64)
    flatness = 0.997  # 1 − θ of table 0; each next table multiplies it by 0.922
    for table in range(TABLE_COUNT):
        theta = 1.0 - flatness
        flatness *= 0.922
        weights = [1.0]
        for _ in range(width):  # θ^|k|, cut to 0 before it could become subnormal
            weights.append(weights[-1] * theta if weights[-1] > 1e-30 else 0.0)
        total = weights[0] + 2.0 * sum(weights[1:])
        frequencies = [1 + int(weights[abs(k)] / total * budget) for k in range(-width, width + 1)]
        frequencies[width] += (1 << PRECISION) - 1 - sum(frequencies)  # the rest to the mode
        cdfs[table, 1:] = np.cumsum([*frequencies, 1])
    lengths = np.full(TABLE_COUNT, symbols + 2)
    offsets = np.full(TABLE_COUNT, -width)
    return CdfTables(cdfs, lengths, offsets)


@functools.lru_cache(maxsize=8)
def _table_bits(width: int) -> np.ndarray:
    """Bits of each symbol under each table (TABLE_COUNT × symbols): the encoder's choice of tables."""
    cdfs = table_bank(width).cdfs
    return PRECISION - np.log2(np.diff(cdfs, axis=1)[:, :-1].astype(np.float64))


def quantize(target: np.ndarray, base: np.ndarray, max_error: int) -> np.ndarray:
    """The residual symbols: target − base in steps of 2·max_error+1, rounded to the nearest step."""
    residual = target.astype(np.int32) - base.astype(np.int32)
    return np.sign(residual) * ((np.abs(residual) + max_error) // (2 * max_error + 1))


def reconstruct(base: np.ndarray, symbols: np.ndarray, max_error: int) -> np.ndarray:
    """Base plus dequantized residual, clipped to 8 bits: within max_error of the target everywhere."""
    return np.clip(base.astype(np.int32) + symbols * (2 * max_error + 1), 0, 255).astype(np.uint8)


def refine(target: np.ndarray, base: np.ndarray, max_error: int) -> np.ndarray:
    """What :func:`decode` of :func:`encode`'s section gives, without coding anything."""
    return reconstruct(base, quantize(target, base, max_error), max_error)


def _step_buckets(magnitudes: np.ndarray, channel: int, earlier: tuple[int, ...], phase: int):
    """Context buckets of one step's positions, from the magnitudes decoded so far (zeros elsewhere)."""
    height, width = magnitudes.shape[1:]
    py, px = PHASES[phase]
    rows, cols = (height - py + 1) // 2, (width - px + 1) // 2

    def neighbours(plane: np.ndarray, offsets) -> np.ndarray:
        padded = np.pad(plane, 1)
        return sum(
            padded[1 + py + dy :: 2, 1 + px + dx :: 2][:rows, :cols].astype(np.int64)
            for dy, dx in offsets
        )

    parts = []
    own = (0, 4, 4, 8)[phase]  # neighbours of this phase already decoded (those of earlier phases)
    if own:
        ring = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
        parts.append(8 * neighbours(magnitudes[channel], ring) // own)
    if earlier:
        cross = [(-1, 0), (1, 0), (0, -1), (0, 1)]
        weighted = sum(
            4 * neighbours(magnitudes[c], [(0, 0)]) + neighbours(magnitudes[c], cross)
            for c in earlier
        )
        parts.append(weighted // len(earlier))
    if not parts:
        return np.zeros((rows, cols), dtype=np.int64)
    activity = sum(parts) // len(parts)
    return np.searchsorted(EDGES, activity, side="right")


def _steps(channels: int):
    """(step number, channel, channels coded before it, phase) in coding order."""
    order = channel_order(channels)
    for i, channel in enumerate(order):
        for phase in range(len(PHASES)):
            yield i * len(PHASES) + phase, channel, order[:i], phase


def _positions(channel: int, phase: int) -> tuple:
    py, px = PHASES[phase]
    return (channel, slice(py, None, 2), slice(px, None, 2))


def _symbol_width(max_error: int, earlier: tuple[int, ...]) -> int:
    """The largest coded magnitude: a residual symbol, or twice that for a predicted channel's error."""
    return half_width(max_error) * (2 if earlier else 1)


def _fit_weights(symbols: np.ndarray, channel: int, earlier: tuple[int, ...]) -> np.ndarray:
    """Integer weights (in quarters, Σ|w| ≤ 4) that predict a channel's symbols from the earlier
    channels' at the same place: least squares, shrunk and rounded towards zero (an encoder choice)."""
    if not earlier:
        return np.zeros(0, dtype=np.int64)
    inputs = np.stack([symbols[c].reshape(-1) for c in earlier], axis=1).astype(np.float64)
    fit = np.linalg.lstsq(inputs, symbols[channel].reshape(-1).astype(np.float64), rcond=None)[0]
    fit = 4 * np.nan_to_num(fit)
    total = np.abs(fit).sum()
    if total > 4:
        fit *= 4 / total
    return np.trunc(fit).astype(np.int64)


def _prediction(symbols: np.ndarray, earlier: tuple[int, ...], weights: np.ndarray) -> np.ndarray:
    """A channel's predicted symbols from the earlier channels' (all of one plane); within ± the
    half width because Σ|w| ≤ 4 quarters."""
    if not earlier:
        return np.zeros(symbols.shape[1:], dtype=np.int32)
    weighted = sum(int(w) * symbols[c].astype(np.int64) for w, c in zip(weights, earlier))
    return ((weighted + 2) // 4).astype(np.int32)


def encode(target: np.ndarray, base: np.ndarray, max_error: int) -> tuple[bytes, np.ndarray]:
    """Code a C×H×W uint8 ``target`` given the decoder's ``base`` (same shape): the section, and the
    reconstruction :func:`decode` will give (every sample within ``max_error`` of the target)."""
    if target.shape != base.shape or target.ndim != 3:
        raise ValueError(f"target {target.shape} and base {base.shape} must both be C×H×W")
    if not 0 <= max_error <= MAX_ERROR:
        raise ValueError(f"max_error must be in 0–{MAX_ERROR}, got {max_error}")
    symbols = quantize(target, base, max_error)
    order = channel_order(len(symbols))
    weights = [_fit_weights(symbols, c, order[:i]) for i, c in enumerate(order)]
    coded = np.stack(
        [symbols[c] - _prediction(symbols, order[:i], weights[i]) for i, c in enumerate(order)]
    )[np.argsort(order)]  # back to channel order
    magnitudes = np.zeros_like(coded)
    steps = []
    for step, channel, earlier, phase in _steps(len(symbols)):
        where = _positions(channel, phase)
        contexts = step * BUCKETS + _step_buckets(magnitudes, channel, earlier, phase)
        width = _symbol_width(max_error, earlier)
        steps.append((coded[where].reshape(-1), contexts.reshape(-1), width))
        magnitudes[where] = np.abs(coded[where])
    choice = _choose_tables(steps, context_count(len(symbols)))
    encoder = coder.range_encoder()
    for values, contexts, width in steps:
        coder.encode_into(encoder, values, choice[contexts], table_bank(width))
    header = bytes([VERSION, max_error]) + np.concatenate(weights).astype(np.int8).tobytes()
    header += choice.astype(np.uint8).tobytes()
    return header + coder.range_bytes(encoder), reconstruct(base, symbols, max_error)


def _choose_tables(steps, contexts: int) -> np.ndarray:
    """The cheapest table of each context for its symbols (UNUSED where a context has none)."""
    choice = np.full(contexts, UNUSED, dtype=np.int64)
    for values, ctx, width in steps:
        used = np.unique(ctx)
        counts = np.zeros((len(used), 2 * width + 1), dtype=np.float64)
        np.add.at(counts, (np.searchsorted(used, ctx), values + width), 1)
        choice[used] = (counts @ _table_bits(width).T).argmin(axis=1)
    return choice


def _weight_count(channels: int) -> int:
    return channels * (channels - 1) // 2


def decode(section: bytes, base: np.ndarray) -> np.ndarray:
    """The refined C×H×W uint8 image from a section :func:`encode` wrote for this ``base``."""
    channels = len(base)
    weights_end = _HEADER + _weight_count(channels)
    start = weights_end + context_count(channels)
    if len(section) < start:
        raise BitstreamError("refinement layer is truncated")
    version, max_error = section[0], section[1]
    if version != VERSION:
        raise BitstreamError(f"refinement layer has version {version}, this vcodec reads {VERSION}")
    if max_error > MAX_ERROR:
        raise BitstreamError(f"refinement layer declares a max error of {max_error}")
    weights = np.frombuffer(section[_HEADER:weights_end], dtype=np.int8).astype(np.int64)
    choice = np.frombuffer(section[weights_end:start], dtype=np.uint8).astype(np.intp)
    if np.any((choice >= TABLE_COUNT) & (choice != UNUSED)):
        raise BitstreamError("refinement layer names a table that does not exist")
    order = channel_order(channels)
    per_channel = np.split(weights, np.cumsum(range(channels))[:-1])  # channel i has i weights
    if any(np.abs(w).sum() > 4 for w in per_channel):
        raise BitstreamError("refinement layer declares channel weights beyond ±1")
    coded = np.zeros(base.shape, dtype=np.int32)
    magnitudes = np.zeros_like(coded)  # |coded| so far, as the encoder kept it
    symbols = np.zeros(base.shape, dtype=np.int32)
    with coder.range_decoder(section[start:], "refinement layer") as decoder:
        for step, channel, earlier, phase in _steps(channels):
            where = _positions(channel, phase)
            contexts = step * BUCKETS + _step_buckets(magnitudes, channel, earlier, phase)
            tables = choice[contexts]
            if np.any(tables == UNUSED):
                raise BitstreamError("refinement layer uses a context it declared unused")
            width = _symbol_width(max_error, earlier)
            values = coder.decode_from(decoder, tables, table_bank(width))
            if np.any(np.abs(values) > width):
                raise BitstreamError("refinement layer holds a residual beyond 8 bits")
            coded[where] = values
            magnitudes[where] = np.abs(values)
            if phase == len(PHASES) - 1:  # the channel is whole: undo its prediction
                i = order.index(channel)
                symbols[channel] = coded[channel] + _prediction(symbols, earlier, per_channel[i])
    if np.any(np.abs(symbols) > half_width(max_error)):
        raise BitstreamError("refinement layer holds a residual beyond 8 bits")
    return reconstruct(base, symbols, max_error)
