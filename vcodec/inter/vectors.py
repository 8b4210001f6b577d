"""The motion section of a predicted frame: block vectors coded against their neighbours' median.

As in H.264, each vector is predicted by the component-wise median of its left, upper and upper-right
neighbours (upper-left where there is no upper-right; the left one alone on the first row; zero for
the first block), and the differences are range-coded under the zero share and Laplace tail the
encoder picks (:mod:`vcodec.entropy.sparse`). Smooth motion then costs little more than a still frame.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vcodec.entropy import sparse
from vcodec.errors import BitstreamError
from vcodec.inter.interpolation import QUARTER


def _median(a: int, b: int, c: int) -> int:
    return max(min(a, b), min(max(a, b), c))


def _predictor(field: list[list[list[int]]], axis: int, row: int, col: int) -> int:
    """The median prediction of component ``axis`` of block (row, col) from decoded neighbours."""
    values = field[axis]
    if row == 0:
        return values[0][col - 1] if col else 0
    up = values[row - 1][col]
    left = values[row][col - 1] if col else up
    if col + 1 < len(values[0]):
        corner = values[row - 1][col + 1]
    else:  # the last column: the upper-left neighbour (the one above on a one-column field)
        corner = values[row - 1][col - 1] if col else up
    return _median(left, up, corner)


def _walk(rows: int, cols: int, step) -> list[list[list[int]]]:
    """Visit the blocks in raster order, building the field as ``step(axis, row, col, predicted)``
    gives each component (the encoder returns the true value, the decoder adds the difference)."""
    field = [[[0] * cols for _ in range(rows)] for _ in range(2)]
    for row in range(rows):
        for col in range(cols):
            for axis in range(2):
                field[axis][row][col] = step(axis, row, col, _predictor(field, axis, row, col))
    return field


def reach(search: int) -> int:
    """The largest difference between a vector and its prediction, in quarter pels."""
    return 2 * search * QUARTER


def _differences(vectors: Tensor, coded: Tensor | None) -> np.ndarray:
    """Each coded component of each vector minus its prediction, in coding order."""
    values = vectors.tolist()
    mask = None if coded is None else coded.tolist()
    differences: list[int] = []

    def record(axis: int, row: int, col: int, predicted: int) -> int:
        if mask is None or mask[row][col]:
            differences.append(values[axis][row][col] - predicted)
        return values[axis][row][col]

    _walk(vectors.shape[1], vectors.shape[2], record)
    return np.array(differences, dtype=np.int64)


def encode_vectors(vectors: Tensor, search: int, coded: Tensor | None = None) -> bytes:
    """A 2×rows×cols field of quarter-pel vectors within ±``search`` pixels → bytes. With ``coded``
    (rows×cols bool), only those vectors are coded; the others are ones the decoder already has
    (``given`` to :func:`decode_vectors`), which still predict their neighbours."""
    return sparse.encode(_differences(vectors, coded), reach(search))


def decode_vectors(
    data: bytes,
    rows: int,
    cols: int,
    search: int,
    coded: Tensor | None = None,
    given: Tensor | None = None,
) -> Tensor:
    """The field :func:`encode_vectors` wrote (``given``: its uncoded vectors); BitstreamError when
    the bytes cannot be one."""
    mask = None if coded is None else coded.tolist()
    known = None if given is None else given.tolist()
    count = 2 * (rows * cols if mask is None else int(coded.sum()))
    differences = iter(sparse.decode(data, count, reach(search), "motion vectors").tolist())

    def step(axis: int, row: int, col: int, predicted: int) -> int:
        if mask is None or mask[row][col]:
            return predicted + next(differences)
        return known[axis][row][col]

    field = torch.tensor(_walk(rows, cols, step), dtype=torch.long).reshape(2, rows, cols)
    if field.numel() and field.abs().max() > search * QUARTER:
        raise BitstreamError(f"a motion vector reaches beyond ±{search} pixels")
    return field


def vector_bits(vectors: Tensor, search: int) -> float:
    """What :func:`encode_vectors` would spend on the range-coded part, ideally (encoder decisions)."""
    return sparse.cheapest(_differences(vectors, None), reach(search))[1]
