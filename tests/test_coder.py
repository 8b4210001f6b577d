import numpy as np
import pytest
import torch

from vcodec.entropy import coder
from vcodec.entropy.continuous import GaussianModel, scale_table
from vcodec.errors import BitstreamError


@pytest.fixture(scope="module")
def gaussian_tables():
    model = GaussianModel()
    model.update()
    return model.tables


def test_round_trip_with_many_tables(gaussian_tables):
    rng = np.random.default_rng(0)
    indexes = rng.integers(0, gaussian_tables.count, size=(3, 7, 11))
    scales = np.asarray(scale_table())[indexes]
    values = np.round(rng.normal(0, scales)).astype(np.int64)
    data = coder.encode(values, indexes, gaussian_tables)
    assert np.array_equal(coder.decode(data, indexes, gaussian_tables), values)


def test_escaped_values_round_trip(gaussian_tables):
    indexes = np.zeros(
        6, dtype=np.int64
    )  # the narrowest table: anything beyond a few steps escapes
    values = np.array([0, 1, -1, 500, -32768, 32768])
    assert np.array_equal(
        coder.decode(coder.encode(values, indexes, gaussian_tables), indexes, gaussian_tables),
        values,
    )


def test_streams_end_on_the_byte_they_need_and_still_decode():
    """Streams end with the shortest final word; short streams are then often 1–3 bytes shorter."""
    import constriction

    rng = np.random.default_rng(1)
    cut, saved = 0, 0
    for _ in range(600):
        size = int(rng.integers(2, 200))
        pmf = rng.dirichlet(np.full(size, rng.choice([0.05, 0.5, 5.0])))
        model = constriction.stream.model.Categorical(pmf, perfect=False)
        symbols = rng.choice(size, size=int(rng.integers(1, 40)), p=pmf).astype(np.int32)
        encoder = coder.range_encoder()
        encoder.encode(symbols, model)
        whole = encoder.clone().get_compressed().astype("<u4").tobytes()
        data = coder.range_bytes(encoder)
        kept = 4 * ((len(data) - 1) // 4)  # every word but the last is constriction's
        assert len(data) <= len(whole) == kept + 4 and data[:kept] == whole[:kept]
        cut += len(data) % 4 != 0
        saved += len(whole) - len(data)
        with coder.range_decoder(data, "test") as decoder:
            assert np.array_equal(decoder.decode(model, len(symbols)), symbols)
        with coder.range_decoder(whole, "test") as decoder:  # whole-word streams still decode
            assert np.array_equal(decoder.decode(model, len(symbols)), symbols)
    assert cut > 400 and saved > 600


def test_values_beyond_the_escape_range_are_refused(gaussian_tables):
    with pytest.raises(ValueError, match="cannot be coded"):
        coder.encode(np.array([40000]), np.array([3]), gaussian_tables)


def test_rate_matches_information_content(gaussian_tables):
    """The range coder's output is within 1% (+ a flush word) of −log2 p under the tables."""
    rng = np.random.default_rng(1)
    indexes = rng.integers(10, 120, size=20000)
    scales = np.asarray(scale_table())[indexes]
    values = np.round(rng.normal(0, scales)).astype(np.int64)
    bits = 0.0
    for v, t in zip(values, indexes):
        cdf = gaussian_tables.cdfs[t]
        s = v - gaussian_tables.offsets[t]
        bits -= np.log2((cdf[s + 1] - cdf[s]) / 65536)
    size = len(coder.encode(values, indexes, gaussian_tables))
    assert abs(size * 8 - bits) <= 0.01 * bits + 64


def test_garbage_raises_bitstream_error_or_decodes(gaussian_tables):
    rng = np.random.default_rng(2)
    indexes = rng.integers(0, gaussian_tables.count, size=500)
    for trial in range(200):
        data = rng.integers(0, 256, size=int(rng.integers(0, 64)), dtype=np.uint8).tobytes()
        try:
            out = coder.decode(data, indexes, gaussian_tables)
        except BitstreamError:
            continue
        assert out.shape == indexes.shape


def test_decoded_values_feed_a_model_as_tensors(gaussian_tables):
    model = GaussianModel()
    model.update()
    y = torch.randn(1, 4, 5, 6) * 3
    scales, means = torch.full_like(y, 2.0), torch.randn_like(y)
    data, y_hat = model.compress(y, scales, means)
    assert torch.equal(model.decompress(data, scales, means), y_hat)
    y, means = y.double(), means.double()
    assert torch.equal(y_hat - means, torch.round(y - means))


def test_rd_quantization_trades_bits_for_squared_error():
    model = GaussianModel()
    model.update()
    torch.manual_seed(0)
    y, scales, means = (
        torch.randn(1, 8, 500) * 3,
        torch.rand(1, 8, 500) * 4 + 0.2,
        torch.randn(1, 8, 500),
    )
    nearest = torch.round(y.double() - means) + means
    assert torch.equal(
        model.rd_values(y, scales, means, 1e9), nearest
    )  # distortion dominates: plain rounding
    chosen = model.rd_values(y, scales, means, 0.5)
    moved = chosen != nearest
    assert (
        moved.any() and ((chosen - means).abs() <= (nearest - means).abs()).all()
    )  # only ever towards the mean

    def bits(v):
        return float(model.bits(v, scales, means).sum())

    def error(v):
        return float((y - v).pow(2).sum())

    assert bits(chosen) < bits(nearest) and 0.5 * error(chosen) + bits(chosen) < 0.5 * error(
        nearest
    ) + bits(nearest)
    data, values = model.compress(chosen, scales, means)
    assert torch.equal(values, chosen) and torch.equal(
        model.decompress(data, scales, means), chosen
    )
