"""Pixel-domain inter prediction: exact quarter-pel interpolation and block motion search."""

import numpy as np
import pytest
import skimage.data
import torch

from vcodec.errors import BitstreamError
from vcodec.inter import SubpelReference, block_motion, decode_vectors, encode_vectors, predict
from vcodec.inter.interpolation import TAPS, block_field


@pytest.fixture(scope="module")
def frame() -> torch.Tensor:
    """A 64×96 piece of a photo (detail and flat areas), C×H×W uint8."""
    return (
        torch.from_numpy(skimage.data.astronaut()[150:214, 180:276]).permute(2, 0, 1).contiguous()
    )


def slow_prediction(frame: np.ndarray, field: np.ndarray, margin: int) -> np.ndarray:
    """The same prediction pixel by pixel in Python integers: 8 taps across, 8 down, one rounding."""
    channels, height, width = frame.shape
    reach = 4 * margin
    out = np.zeros_like(frame)
    for y in range(height):
        for x in range(width):
            vy, vx = (int(np.clip(v, -reach, reach)) for v in field[:, y, x])
            row, col = y + (vy >> 2), x + (vx >> 2)
            for c in range(channels):
                total = 0
                for i, ty in enumerate(TAPS[vy & 3]):
                    across = 0
                    for j, tx in enumerate(TAPS[vx & 3]):
                        r = min(max(row + i - 3, 0), height - 1)
                        s = min(max(col + j - 3, 0), width - 1)
                        across += tx * int(frame[c, r, s])
                    total += ty * across
                out[c, y, x] = min(max((total + 2048) >> 12, 0), 255)
    return out


def test_interpolation_is_the_integer_filter_exactly(frame):
    small = frame[:, :12, :16].contiguous()
    field = torch.from_numpy(np.random.default_rng(1).integers(-30, 31, (2, 12, 16)))
    reference = SubpelReference(small, margin=6)
    expected = slow_prediction(small.numpy(), field.numpy(), margin=6)
    assert np.array_equal(predict(reference, field).numpy(), expected)


def test_whole_pixel_vectors_copy_pixels_and_zero_is_the_frame(frame):
    reference = SubpelReference(frame, margin=8)
    zero = torch.zeros(2, *frame.shape[-2:], dtype=torch.long)
    assert torch.equal(predict(reference, zero), frame)
    moved = predict(reference, zero + torch.tensor([8, -12]).reshape(2, 1, 1))  # (2, −3) pixels
    assert torch.equal(moved[:, :-2, 3:], frame[:, 2:, :-3])


def test_the_prediction_is_the_same_on_one_and_two_threads(frame):
    field = torch.from_numpy(np.random.default_rng(2).integers(-40, 41, (2, *frame.shape[-2:])))
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(predict(SubpelReference(frame, margin=12), field))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(*results)


def test_the_search_finds_a_quarter_pel_pan(frame):
    """A frame moved by (1¼, −1¾) pixels: the blocks away from the edges find that vector."""
    truth = torch.tensor([5, -7]).reshape(2, 1, 1)
    field = truth.expand(2, *frame.shape[-2:])
    current = predict(SubpelReference(frame, margin=8), field)
    vectors = block_motion(current, frame, block=16, search=8)
    assert vectors.shape == (2, 4, 6)
    inner = (vectors[:, 1:-1, 1:-1] == truth).all(0)
    assert inner.float().mean() >= 0.75, vectors


def test_a_static_frame_keeps_every_vector_zero(frame):
    vectors = block_motion(frame, frame, block=16, search=8)
    assert not vectors.any()


def test_block_vectors_spread_over_their_pixels():
    vectors = torch.arange(12).reshape(2, 2, 3)
    field = block_field(vectors, 4, 7, 10)
    assert field.shape == (2, 7, 10)
    assert field[0, 6, 9] == vectors[0, 1, 2] and field[1, 0, 4] == vectors[1, 0, 1]


def test_any_vector_field_round_trips_and_smooth_motion_is_cheap():
    from vcodec.errors import BitstreamError
    from vcodec.inter.vectors import vector_bits

    rng = np.random.default_rng(4)
    for rows, cols, spread in ((1, 1, 0), (1, 7, 5), (6, 1, 64), (5, 9, 64), (12, 20, 3)):
        field = torch.from_numpy(rng.integers(-spread, spread + 1, (2, rows, cols)))
        assert torch.equal(decode_vectors(encode_vectors(field, 16), rows, cols, 16), field)
    pan = torch.tensor([5, -7]).reshape(2, 1, 1).expand(2, 12, 20)
    assert len(encode_vectors(pan, 16)) <= 12  # 240 vectors: all but the first are predicted
    noise = torch.from_numpy(rng.integers(-64, 65, (2, 12, 20)))
    assert vector_bits(pan, 16) < vector_bits(noise, 16) / 30
    with pytest.raises(BitstreamError):
        decode_vectors(b"\xff\x00", 2, 2, 16)
    far = encode_vectors(torch.full((2, 1, 2), 64), 16)
    with pytest.raises(BitstreamError, match="beyond"):
        decode_vectors(far, 1, 2, 8)


def test_mostly_zero_differences_cost_a_fraction_of_one_laplace():
    from vcodec.entropy import laplace, sparse

    rng = np.random.default_rng(3)
    values = np.where(rng.random(2000) < 0.9, 0, rng.integers(-40, 41, 2000))
    data = sparse.encode(values, 128)
    assert np.array_equal(sparse.decode(data, values.size, 128, "values"), values)
    assert len(data) < 0.6 * len(laplace.encode(values, 128))
    edges = np.array([-128, 128, 0, 127, -1])  # the ends of the range code too
    assert np.array_equal(sparse.decode(sparse.encode(edges, 128), 5, 128, "values"), edges)
    assert sparse.encode(np.zeros(0, dtype=np.int64), 128) == b""
    with pytest.raises(BitstreamError):
        sparse.decode(b"", 5, 128, "values")
    with pytest.raises(BitstreamError):
        sparse.decode(b"\x07", 0, 128, "values")
