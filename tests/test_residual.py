"""The near-lossless residual layer: the error bound, exact decoding, deterministic tables, and
clear errors for damaged sections; and the image codec qualities built on it."""

import hashlib

import numpy as np
import pytest
import torch
from conftest import tiny_codec

from vcodec.defaults import REFINEMENT_MAX_ERRORS
from vcodec.entropy import residual
from vcodec.errors import BitstreamError, VcodecError
from vcodec.io.images import to_uint8
from vcodec.testing.tiny import tiny_video_codec


def textured(
    channels: int, height: int, width: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A target with edges and noise, and a blurred, shifted base: residuals like a codec's."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    target = (128 + 100 * np.sin(xx / 3.0) * np.cos(yy / 5.0))[None] + rng.normal(
        0, 12, (channels, height, width)
    )
    target = np.clip(np.round(target), 0, 255).astype(np.uint8)
    base = np.clip(target.astype(np.int32) + rng.integers(-20, 21, target.shape) + 3, 0, 255)
    return target, base.astype(np.uint8)


@pytest.mark.parametrize("max_error", [0, 1, 4, 127])
@pytest.mark.parametrize("shape", [(3, 33, 47), (1, 8, 9), (3, 1, 1), (3, 2, 5)])
def test_round_trip_is_exact_and_within_the_bound(max_error, shape):
    target, base = textured(*shape)
    section, reconstruction = residual.encode(target, base, max_error)
    decoded = residual.decode(section, base)
    assert np.array_equal(decoded, reconstruction)
    assert np.array_equal(decoded, residual.refine(target, base, max_error))
    assert np.abs(decoded.astype(int) - target).max() <= max_error
    if max_error == 0:
        assert np.array_equal(decoded, target)


def test_extreme_residuals_and_uncorrelated_channels_code():
    rng = np.random.default_rng(1)
    target = rng.integers(0, 256, (3, 20, 30)).astype(np.uint8)
    base = (255 - target).astype(np.uint8)  # residuals up to ±255
    for max_error in (0, 2):
        section, _ = residual.encode(target, base, max_error)
        assert np.abs(residual.decode(section, base).astype(int) - target).max() <= max_error


def test_smaller_errors_cost_more_bits_and_contexts_pay_off():
    target, base = textured(3, 64, 64)
    sizes = [len(residual.encode(target, base, e)[0]) for e in (6, 4, 2, 1, 0)]
    assert sizes == sorted(sizes)
    # a zero residual costs almost nothing beyond the section's header
    quiet, _ = residual.encode(target, target.copy(), 2)
    assert len(quiet) < 2 + 3 + residual.context_count(3) + 64


def test_tables_are_valid_cdfs_and_identical_everywhere():
    """The tables come from IEEE +, ×, / only; their digest is fixed so that a change that would
    make encoder and decoder disagree on another machine shows here."""
    digest = hashlib.sha256()
    for max_error in (0, 1, 6):
        for width in (residual.half_width(max_error), 2 * residual.half_width(max_error)):
            tables = residual.table_bank(width)
            steps = np.diff(tables.cdfs, axis=1)
            assert (steps >= 1).all() and (tables.cdfs[:, -1] == 1 << residual.PRECISION).all()
            digest.update(tables.cdfs.astype("<i8").tobytes())
    assert digest.hexdigest()[:16] == "204a704b7fd77b89"


def test_damaged_sections_raise_bitstream_errors():
    target, base = textured(3, 24, 24)
    section, _ = residual.encode(target, base, 3)
    header = 2 + 3 + residual.context_count(3)
    for bad, message in (
        (section[: header - 1], "truncated"),
        (bytes([9]) + section[1:], "version"),
        (section[:1] + bytes([200]) + section[2:], "max error"),
        (section[:2] + bytes([127, 127, 127]) + section[5:], "weights"),
        (section[:5] + bytes([100]) + section[6:], "table"),
    ):
        with pytest.raises(BitstreamError, match=message):
            residual.decode(bad, base)
    rng = np.random.default_rng(0)
    for _ in range(200):  # random damage: an error or some image, never a crash
        damaged = bytearray(section)
        damaged[int(rng.integers(header, len(section)))] ^= int(rng.integers(1, 256))
        try:
            assert residual.decode(bytes(damaged), base).shape == base.shape
        except BitstreamError:
            pass


# --- the image codec's qualities above the learned ones ------------------------------------------


def test_codec_qualities_above_the_learned_ones_bound_the_error(image):
    model = tiny_codec()
    assert model.max_quality == model.num_qualities + len(REFINEMENT_MAX_ERRORS)
    previous = None
    for quality in range(model.num_qualities, model.max_quality + 1):
        data = model.compress(image, quality=quality)
        decoded = model.decompress(data)
        assert torch.equal(decoded, model.reconstruction(image, quality))
        assert len(model.parse(data).sections) == model.sections + model.refined(quality)
        error = np.abs(to_uint8(decoded).astype(int) - to_uint8(image).astype(int)).max()
        if model.refined(quality):
            assert error <= model.max_error(quality)
        assert previous is None or error <= previous
        previous = error


def test_greyscale_sources_refine_one_channel():
    model = tiny_codec()
    x = torch.rand(1, 1, 21, 30, generator=torch.Generator().manual_seed(3))
    data = model.compress(x, quality=model.max_quality)
    decoded = model.decompress(data)
    assert decoded.shape == x.shape
    assert np.abs(to_uint8(decoded).astype(int) - to_uint8(x).astype(int)).max() <= 1


def test_streams_with_a_missing_or_extra_layer_are_refused(image):
    model = tiny_codec()
    refined = model.parse(model.compress(image, quality=model.max_quality))
    plain = model.parse(model.compress(image, quality=model.num_qualities))
    refined.sections = refined.sections[:-1]
    plain.sections = [*plain.sections, b""]
    for container in (refined, plain):
        with pytest.raises(BitstreamError, match="sections"):
            model.decompress(container.to_bytes())


def test_out_of_range_quality_names_both_ranges(image):
    model = tiny_codec()
    with pytest.raises(VcodecError, match="1–3 learned"):
        model.compress(image, quality=model.max_quality + 1)


def test_video_codecs_keep_to_the_learned_qualities():
    codec = tiny_video_codec()
    with pytest.raises(VcodecError, match="video model has qualities"):
        codec.check_quality(codec.num_qualities + 1)


def test_the_command_line_codes_and_describes_a_near_lossless_quality(tiny_zoo, tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from vcodec.cli.main import main

    rng = np.random.default_rng(4)
    source = rng.integers(0, 256, (30, 44, 3), dtype=np.uint8)
    Image.fromarray(source).save(tmp_path / "in.png")
    runner = CliRunner()
    stream, out = tmp_path / "s.vcd", tmp_path / "out.png"
    assert (
        runner.invoke(
            main, ["encode", str(tmp_path / "in.png"), str(stream), "-m", "tiny", "-q", "7"]
        ).exit_code
        == 0
    )
    result = runner.invoke(main, ["info", str(stream)])
    assert (
        "quality:  7 (quality 3 + near-lossless layer: every pixel within 2 levels)"
        in result.output
    )
    assert runner.invoke(main, ["decode", str(stream), str(out)]).exit_code == 0
    assert np.abs(np.asarray(Image.open(out)).astype(int) - source).max() <= 2
