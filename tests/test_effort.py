"""Encoder effort: refined latents decode with the unchanged decoder to the encoder's own
reconstruction, never cost more than the plain encode, repeat exactly, and effort 0 is the plain path."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_codec
from PIL import Image

from vcodec import defaults, zoo
from vcodec.cli.main import main
from vcodec.codecs.effort import rd_cost
from vcodec.errors import VcodecError
from vcodec.eval.datasets import development_images
from vcodec.testing.tiny import tiny_video_codec


@pytest.fixture()
def few_steps(monkeypatch):
    """Tiny models need only a few refinement steps to exercise every path."""
    monkeypatch.setattr(defaults, "EFFORT_ITERATIONS", (0, 4, 6, 8))


def cost(codec, data: bytes, x: torch.Tensor, quality: int) -> float:
    """What the encoder minimises, measured on the real stream: bits per pixel + λ·255²·MSE."""
    decoded = codec.decompress(data)
    return float(rd_cost(8 * len(data), decoded, x, codec.config.lambdas[quality - 1]))


def test_effort_zero_is_the_plain_encode(image):
    model = tiny_codec()
    assert model.compress(image, quality=2, effort=0) == model.compress(image, quality=2)


@pytest.mark.parametrize("level", [1, 3])
def test_every_effort_decodes_to_the_encoders_reconstruction(image, few_steps, level):
    model = tiny_codec("mean-scale-checkerboard-channel")
    data = model.compress(image, quality=2, effort=level)
    assert torch.equal(model.decompress(data), model.reconstruction(image, 2, effort=level))
    assert cost(model, data, image, 2) <= cost(model, model.compress(image, quality=2), image, 2)


def test_same_image_same_effort_same_bytes(image, few_steps):
    model = tiny_codec()
    assert model.compress(image, quality=3, effort=2) == model.compress(image, quality=3, effort=2)


def test_refinement_leaves_the_weights_without_gradients_as_they_were(image):
    """Refining computes only the latent's gradient; the weights' own flags come back unchanged."""
    from vcodec.codecs.effort import refine_latent

    model = tiny_codec()
    model.h_s.requires_grad_(False)
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    refine_latent(model, image, 2, iterations=2)
    assert all(p.grad is None for p in model.parameters())
    assert {n: p.requires_grad for n, p in model.named_parameters()} == before


def test_bad_effort_levels_are_refused(image):
    model = tiny_codec()
    for level in (-1, 4, 1.5, True):
        with pytest.raises(VcodecError, match="effort must be 0–3"):
            model.compress(image, effort=level)


def test_refinement_lowers_the_real_cost_of_the_default_codec():
    """On a textured crop of a development image, effort 1's SGA steps give a stream whose
    bits + λ·D, with the decoder's own output, is lower than the plain encode's."""
    codec = zoo.load("checkerboard-medium")
    crop = development_images()["astronaut"][64:160, 96:224]
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255
    plain, refined = (codec.compress(x, quality=2, effort=level) for level in (0, 1))
    assert cost(codec, refined, x, 2) < cost(codec, plain, x, 2)


def test_video_intra_frames_use_the_effort(few_steps):
    codec = tiny_video_codec()
    g = torch.Generator().manual_seed(1)
    frames = [torch.rand(1, 3, 64, 64, generator=g) for _ in range(3)]
    encoded = list(codec.encode_states(iter(frames), 2, 2, 1.0, effort=1))
    packets = [packet for packet, _, _ in encoded]
    decoded = list(codec.decode_states(iter(packets), 64, 64, 2))
    assert all(torch.equal(a, b) for (_, a, _), b in zip(encoded, decoded))


def test_the_command_line_takes_an_effort(tiny_zoo, tmp_path, few_steps):
    photo = tmp_path / "p.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(photo)
    runner = CliRunner()
    result = runner.invoke(main, ["encode", str(photo), str(tmp_path / "p.vcd"), "-m", "tiny"])
    assert result.exit_code == 0, result.output
    args = ["encode", str(photo), str(tmp_path / "e.vcd"), "-m", "tiny", "--effort", "2"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0 and "effort 2" in result.output, result.output
    assert (
        runner.invoke(main, ["decode", str(tmp_path / "e.vcd"), str(tmp_path / "e.png")]).exit_code
        == 0
    )
    result = runner.invoke(main, [*args[:-1], "7"])
    assert result.exit_code == 2 and "--effort" in result.output


def test_eval_codes_each_effort_as_a_method_of_its_own(tiny_zoo, tmp_path, few_steps):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(folder / "a.png")
    out = tmp_path / "results"
    args = [
        "eval",
        "images",
        str(folder),
        "--methods",
        "tiny",
        "--effort",
        "0,1",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (out / "tiny.json").is_file() and (out / "tiny-effort1.json").is_file()
    result = CliRunner().invoke(main, [*args[:-4], "--effort", "9", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "effort must be 0–3" in result.output


def test_the_search_runs_the_synthesis_in_bfloat16_where_native_and_still_has_gradients():
    from vcodec.precision import in_bfloat16_where_native, native_bfloat16

    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.ConvTranspose2d(8, 3, 5, 2, 2, 1), torch.nn.Sigmoid())
    y = torch.randn(1, 8, 8, 8, requires_grad=True)
    out = in_bfloat16_where_native(network, y)
    out.sum().backward()
    exact = network(y)
    assert out.dtype == torch.float32 and y.grad is not None and y.grad.abs().sum() > 0
    assert (out - exact).abs().max() < 0.02
    assert torch.equal(out, exact) != native_bfloat16(y.device)  # rounded only where native
