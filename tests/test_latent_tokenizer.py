"""Tokenizers in an image codec's latent space (latent-1d, latent-2d): the protocol, the frozen codec
they decode through, their declared dependency, and their training objective on cached latents."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from vcodec import registry, zoo
from vcodec.errors import VcodecError
from vcodec.tokenizers.latent import impulse_responses, metric_energy, synthesis_metric
from vcodec.tokenizers.latent1d import (
    Latent1DConfig,
    LatentTransformer1DTokenizer,
    embedded_plan,
)
from vcodec.tokenizers.latent2d import Latent2DConfig

LATENT = ("latent-1d", "latent-2d")


def _tiny(architecture: str, **overrides):
    torch.manual_seed(0)
    config = registry.architecture(architecture).tiny_config(**overrides)
    model = zoo.build(config, "tiny-latent").eval()
    model.update()
    model.codec_dtype = torch.float32  # exact comparisons with g_a and g_s called directly
    return model


@pytest.fixture(scope="module", params=LATENT)
def any_tokenizer(request):
    return _tiny(request.param)


@pytest.fixture(scope="module", params=[2, 0], ids=["transformers", "depth0"])
def tokenizer_1d(request):
    """A tiny latent-1d tokenizer with its linear start fitted (so its encoder codes in stages)."""
    model = _tiny("latent-1d", depth=request.param)
    torch.manual_seed(4)
    strength = torch.cat([torch.tensor([30.0]), torch.linspace(1, 0.1, 127)])
    t = torch.randn(64, 128, 2, 2) * strength[:, None, None]
    model.fit_linear(t, torch.eye(128)[..., None, None])
    assert int(model.stage.max()) >= 1
    return model


def test_the_config_needs_a_whole_latent_grid():
    with pytest.raises(ValueError, match="not a multiple of 32"):
        Latent1DConfig(image_size=48, patch_size=2)
    with pytest.raises(ValueError, match="not a multiple of the codec's stride 16"):
        Latent2DConfig(image_size=40)
    assert Latent1DConfig().summary().startswith("ViT encoder/decoder over the 16×16 latent grid")
    assert Latent1DConfig(depth=0).summary().startswith("embedded KLT × DCT code of the 16×16")
    with pytest.raises(ValueError, match="depth 0"):
        Latent1DConfig(depth=0, linear=False)
    assert Latent2DConfig().num_tokens == 256
    with pytest.raises(ValueError, match="one list of FSQ levels per sub-token"):
        Latent2DConfig(levels=[7, 5, 5])


def test_the_1d_linear_start_is_a_nested_transform_code_so_quality_rises_with_k():
    """Before any training, each further token of the fitted linear path lowers the error: it starts
    or refines the next most useful KLT × DCT coefficients of a rank-4 grid."""
    model = _tiny("latent-1d")
    torch.manual_seed(2)
    basis, mean = torch.linalg.qr(torch.randn(128, 4))[0], torch.randn(128, 1, 1)
    strength = torch.tensor([8.0, 4.0, 2.0, 1.0])[:, None, None]
    t = torch.einsum("mr,brhw->bmhw", basis, torch.randn(256, 4, 2, 2) * strength) + mean
    model.fit_linear(t, torch.eye(128)[..., None, None])
    with torch.no_grad():
        errors = [
            float((model.latent_grid(model._token_pass(t, k)["features"]) - t).pow(2).sum())
            / float((t - mean).pow(2).sum())
            for k in range(1, 5)
        ]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.3, errors
    assert torch.equal(model.as_indices(model.encode_grid(t[:2])), model.encode_grid(t[:2]))


def test_the_embedded_plan_refines_strong_coefficients_before_starting_weak_ones():
    variance = torch.tensor([400.0, 1.0, 0.5, 0.25, 1e-4])
    chosen, stage, spread = embedded_plan(variance, [5, 3, 5, 3, 5, 3])
    # 400 is refined to a step of 30 / 3 / 5 / 3 before 1 starts; 0.5, 0.25 and 1e-4 never pay
    assert chosen.tolist() == [0, 0, 0, 0, 1, 1] and stage.tolist() == [0, 1, 2, 3, 0, 1]
    assert torch.allclose(spread[:3], torch.tensor([60.0, 10.0, 4.0]))


def test_the_encoder_codes_refinements_within_half_their_step():
    """Through the tokenizer's own encoder (stages in turn, each on what the quantized earlier ones
    left) and its decoder's sums, a dominant coefficient comes back within half the step of its last
    refinement wherever it lies inside its first channel's range (give or take FSQ's bin edges,
    which its 1 + 10⁻³ input scale puts 0.1 % inside the midpoints)."""
    model = _tiny("latent-1d", depth=0)
    torch.manual_seed(3)
    direction = torch.linalg.qr(torch.randn(128, 1))[0][:, 0]
    strength = torch.randn(512) * 10  # one strong DC component, across every position
    t = direction[None, :, None, None] * strength[:, None, None, None]
    t = t + torch.randn(512, 128, 2, 2) * 0.01
    model.fit_linear(t, torch.eye(128)[..., None, None])
    top = int(model.chosen[0])
    channels = torch.nonzero(model.chosen == top).squeeze(1)
    assert len(channels) >= 3 and model.stage[channels].tolist() == list(range(len(channels)))
    with torch.no_grad():
        coefficients = model._spectrum(model.project(t))[:, top]
        codes = model.quantizer(model._encode_grid(t)).quantized.flatten(1)
        decoded = (codes[:, channels] * model.spread[channels]).sum(1)
    half = 5 // 2  # the tiny config's levels are all 5
    last_step = float(model.spread[channels[-1]]) / half
    inside = coefficients.abs() <= float(model.spread[channels[0]])
    error = (decoded - coefficients).abs()[inside]
    edges = 1e-3 * float(model.spread[channels[0]])
    assert inside.float().mean() > 0.9 and float(error.max()) <= last_step / 2 + edges


def test_the_2d_linear_start_is_a_transform_coder_of_the_latents_it_is_fitted_to():
    """fit_linear puts the principal directions of the latents on the FSQ channels with one level per
    quantization step: latents of rank 5 come back within the steps' error before any training, and
    a fitted (trained, loaded) model is not fitted again."""
    model = _tiny("latent-2d", levels=[[21, 21], [21, 21, 21]], step=0.05)
    torch.manual_seed(1)
    basis, mean = torch.randn(128, 5), torch.randn(128, 1, 1)
    t = torch.einsum("mr,brhw->bmhw", basis, torch.randn(32, 5, 2, 2)) + mean
    identity = torch.eye(128)[..., None, None]  # a synthesis whose pixel error is the latent error

    @torch.no_grad()
    def relative_error() -> float:
        t_hat = model._token_pass(t, None)["features"]
        return float((t_hat - t).pow(2).sum() / (t - mean).pow(2).sum())

    assert relative_error() > 0.5
    model.fit_linear(t, identity)
    assert relative_error() < 0.02
    weights = model.project.weight.clone()
    model.fit_linear(t * 2, identity)
    assert torch.equal(model.project.weight, weights) and bool(model.state_dict()["linear_fitted"])


def test_a_2d_latent_tokenizer_gives_g_sub_token_ids_per_position():
    model = _tiny("latent-2d")
    ids = model.encode(torch.rand(2, 3, 32, 32))
    assert ids.shape == (2, 2, 2, 2) and model.vocab_sizes == (25, 27)  # 2×2 grid, 5·5 and 3·3·3
    assert model.decode(ids).shape == (2, 3, 32, 32)
    stream = model.compress(torch.rand(1, 3, 32, 32))[0]
    assert model.decompress_tokens(stream).shape == (1, 2, 2, 2)
    with pytest.raises(ValueError, match="whole 2×2 grid"):
        model.encode(torch.rand(1, 3, 32, 32), num_tokens=2)


def test_any_prefix_decodes_and_token_streams_round_trip(tokenizer_1d):
    """With transformers or without (depth 0: the linear path alone, no transformer weights)."""
    tokenizer = tokenizer_1d
    if not tokenizer.config.depth:  # the linear path alone: no transformer weights
        children = {name for name, _ in tokenizer.named_children()}
        assert children == {"quantizer", "tail_dropout", "prior", "project", "unproject"}
    images = torch.rand(2, 3, 32, 32)
    ids = tokenizer.encode(images)
    assert ids.shape == (2, tokenizer.max_tokens)
    for k in range(1, tokenizer.max_tokens + 1):
        assert tokenizer.decode(ids[:, :k]).shape == (2, 3, 32, 32)
    for k in (1, tokenizer.max_tokens):
        stream = tokenizer.compress(images[:1], num_tokens=k)[0]
        assert torch.equal(tokenizer.decompress_tokens(stream), ids[:1, :k])
    with pytest.raises(ValueError, match="32×32 images"):
        tokenizer.encode(torch.rand(1, 3, 64, 64))


def test_the_codec_is_frozen_and_not_among_the_weights(any_tokenizer):
    tokenizer = any_tokenizer
    codec = tokenizer.codec
    assert not any(key.startswith(("g_a", "g_s", "codec")) for key in tokenizer.state_dict())
    assert all(not p.requires_grad for p in codec.parameters())
    tokenizer.train()
    try:
        y = codec.g_a(torch.rand(2, 3, 32, 32))
        out = tokenizer.forward_latent(y)
        (out["t_hat"] - out["t"]).pow(2).mean().backward()
    finally:
        tokenizer.eval()
    assert all(p.grad is None for p in codec.parameters())
    assert all(p.grad is not None for p in tokenizer.quantizer.parameters() if p.requires_grad)
    assert next(tokenizer.parameters()).grad is not None
    tokenizer.zero_grad(set_to_none=True)


def test_the_grid_is_what_the_codec_synthesis_reads(any_tokenizer):
    """t lies in the space g_s reads: within half a quantization step of the codec's own ŷ at its top
    quality (y·gain rounded, times the inverse gain)."""
    tokenizer = any_tokenizer
    codec, x = tokenizer.codec, torch.rand(1, 3, 32, 32)
    y = codec.g_a(x)
    top = torch.tensor([codec.num_qualities - 1])
    y_hat = codec.y_gain.ungain(torch.round(y.double() * codec.y_gain.coding_gain(top)), top)
    step = codec.y_gain.coding_inverse_gain(top).float()
    t = tokenizer._input_grid(x)
    assert ((t - y_hat).abs() <= 0.5 * step + 1e-5).all()
    assert not torch.equal(t, y_hat)  # unrounded


def test_the_synthesis_metric_is_exact_for_a_linear_synthesis():
    """For a linear, shift-invariant synthesis, the Gram kernel gives exactly the pixel squared error
    of any latent error, correlated across positions and channels or not (away from the borders)."""
    torch.manual_seed(1)
    synthesis = nn.ConvTranspose2d(6, 3, 48, stride=16, padding=16)
    t = torch.randn(2, 6, 8, 8)
    responses = impulse_responses(synthesis, t, stride=16)
    assert responses.shape == (6, 3, 48, 48)  # trimmed to the kernel's 3×3 cells
    metric = synthesis_metric(responses, 16)
    assert metric.shape == (6, 6, 5, 5)
    inside = torch.zeros(1, 1, 8, 8)
    inside[..., 1:-1, 1:-1] = 1
    white = torch.randn(2, 6, 8, 8) * inside
    smooth = nn.functional.avg_pool2d(torch.randn(2, 6, 10, 10), 3, stride=1) * inside
    for delta in (white, smooth, smooth.sum(1, keepdim=True).expand(-1, 6, -1, -1)):
        with torch.no_grad():
            true = (synthesis(t + delta) - synthesis(t)).pow(2).flatten(1).sum(1)
        assert torch.allclose(metric_energy(delta, metric), true, rtol=1e-4)


def test_the_dependency_is_declared_and_checked_when_loading(any_tokenizer, tmp_path):
    tokenizer = any_tokenizer
    folder = tmp_path / "tiny-latent"
    zoo.save_checkpoint(tokenizer, folder, {}, "# tiny\n")
    record = json.loads((folder / "config.json").read_text())
    assert record["codec"] == {
        "name": "checkerboard-medium-v2",
        "weights_hash": tokenizer.codec.weights_hash.hex(),
    }
    loaded = zoo.load(folder)
    loaded.codec_dtype = tokenizer.codec_dtype
    images = torch.rand(1, 3, 32, 32)
    assert torch.equal(loaded.encode(images), tokenizer.encode(images))
    stream = tokenizer.compress(images)[0]
    assert torch.equal(loaded.decompress(stream), tokenizer.decompress(stream))

    record["codec"]["weights_hash"] = "00" * 8
    (folder / "config.json").write_text(json.dumps(record))
    with pytest.raises(VcodecError, match="built on checkerboard-medium-v2 with weights 0000"):
        zoo.load(folder)
    record["model"]["codec"] = record["codec"]["name"] = "no-such-codec"
    (folder / "config.json").write_text(json.dumps(record))
    with pytest.raises(VcodecError, match="is built on no-such-codec: unknown model"):
        zoo.load(folder)


@pytest.mark.parametrize("architecture", LATENT)
def test_trains_on_cached_latents_through_the_linearised_synthesis(architecture, tmp_path):
    """The trainer feeds windows of the codec's latents (crop/16 a side) after fitting the linear
    start to a sample of its own; the losses are finite, the codec does not change, and the
    synthesis metric carries over a resume."""
    from test_train import tiny_data

    from vcodec.train.loop import TrainConfig, Trainer

    config = TrainConfig(
        registry.architecture(architecture).tiny_config(image_size=64),
        data=str(tiny_data(tmp_path)),
        steps=6,
        batch=4,
        crop=64,
        lr=3e-3,
        log_every=2,
    )
    trainer = Trainer(config, tmp_path / "run")
    assert bool(trainer.model.linear_fitted)  # fitted to many windows before the first step
    drawn = trainer.crops.rng.bit_generator.state
    assert trainer.crops.sample(3, seed=1).shape == (3, 128, 4, 4)
    assert trainer.crops.rng.bit_generator.state == drawn  # the batches that follow are unchanged
    assert trainer.crops.batch(2).shape == (2, 128, 4, 4)
    codec_before = {k: v.clone() for k, v in trainer.model.codec.state_dict().items()}
    trainer.run()
    history = trainer.state.history
    assert np.isfinite([entry["loss"] for entry in history]).all()
    metric = trainer.objective.metric
    assert metric.shape[:2] == (128, 128) and metric.shape[-1] == metric.shape[-2]
    for key, value in trainer.model.codec.state_dict().items():
        assert torch.equal(value, codec_before[key]), key
    again = Trainer(config, tmp_path / "run")
    assert again.resume() and torch.equal(again.objective.metric, metric)


def test_a_latent_tokenizer_refuses_pixel_losses(tmp_path):
    from vcodec.train.objectives import LatentReconstruction, LossConfig

    model = zoo.build(registry.architecture("latent-1d").tiny_config())
    assert isinstance(model, LatentTransformer1DTokenizer)
    with pytest.raises(ValueError, match="no ms_ssim or adversarial"):
        LatentReconstruction(model, 1e-3, 0, loss=LossConfig(ms_ssim=0.5))


def test_the_grid_methods_are_the_halves_of_encode_and_decode(any_tokenizer):
    tokenizer = any_tokenizer
    images = torch.rand(2, 3, 32, 32)
    grid = tokenizer.decoder_space(tokenizer.codec.g_a(images))
    ids = tokenizer.encode_grid(grid)
    assert torch.equal(tokenizer.as_indices(tokenizer.encode(images)), ids)
    if len(tokenizer.token_grid) == 1:
        ids = ids[:, :2]  # a prefix
    expected = tokenizer.decode(tokenizer._public(ids))
    decoded = tokenizer.codec.g_s(tokenizer.decode_grid(tokenizer._public(ids))).clamp(0, 1)
    assert torch.allclose(decoded, expected)


def test_inference_runs_the_codec_in_bfloat16_close_to_float32(any_tokenizer):
    """With ``codec_dtype = bfloat16`` encode and decode run g_a and g_s under autocast and still
    return float32 that stays close to the float32 networks; training passes ignore it."""
    tokenizer, images = any_tokenizer, torch.rand(2, 3, 32, 32)
    ids = tokenizer.encode(images)
    exact = tokenizer.decode(ids)
    tokenizer.codec_dtype = torch.bfloat16
    try:
        fast_ids, fast = tokenizer.encode(images), tokenizer.decode(ids)
        with torch.no_grad():
            grid = tokenizer._input_grid(images)
        trained = tokenizer(images)["x_hat"]  # gradients on: float32 whatever codec_dtype says
    finally:
        tokenizer.codec_dtype = torch.float32
    assert fast.dtype == grid.dtype == torch.float32
    assert (fast - exact).abs().max() < 0.05 and not torch.equal(fast, exact)
    assert (fast_ids == ids).float().mean() >= 0.75
    assert torch.equal(trained, tokenizer(images)["x_hat"])
