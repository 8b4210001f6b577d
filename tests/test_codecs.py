import pytest
import torch
from conftest import tiny_codec

from vcodec import zoo
from vcodec.codecs import CodecConfig
from vcodec.errors import BitstreamError, VcodecError
from vcodec.registry import architectures, build_model
from vcodec.threads import torch_threads
from vcodec.zoo import save_checkpoint


@pytest.mark.parametrize("architecture", sorted(architectures("image-codec")))
@pytest.mark.parametrize("quality", [1, 3])
def test_decode_equals_the_models_own_reconstruction(architecture, quality, image):
    """Bit-exact: the decoder outputs g_s of exactly the ŷ the encoder quantized."""
    model = tiny_codec(architecture)
    data = model.compress(image, quality=quality)
    decoded = model.decompress(data)
    assert decoded.shape == image.shape
    assert torch.equal(decoded, model.reconstruction(image, quality))


@pytest.mark.parametrize("architecture", sorted(architectures("image-codec")))
def test_fixed_point_coding_path_matches_the_float_forward_pass(architecture, image):
    """The exact integer entropy-parameter path changes the reconstruction only negligibly."""
    model = tiny_codec(architecture)
    with torch.inference_mode():
        float_path = model(model.pad(image), 2)["x_hat"][..., :40, :56].clamp(0, 1)
    mse = (model.reconstruction(image, 2) - float_path).pow(2).mean().item()
    assert mse < 1e-6


@pytest.mark.parametrize("architecture", sorted(architectures("image-codec")))
def test_training_forward_gives_likelihoods_and_gradients(architecture):
    model = build_model(CodecConfig(architecture, n=16, m=24, lambdas=(0.01, 0.02)))
    x = torch.rand(2, 3, 64, 64)
    out = model(x, torch.tensor([1, 2]))
    assert out["x_hat"].shape == x.shape
    bits = sum(-torch.log2(lik).sum() for lik in out["likelihoods"].values())
    bits.backward()
    assert model.y_gain.log_gain.grad is not None and model.g_a[0].weight.grad is not None


@pytest.mark.parametrize("size", [(1, 1), (17, 5), (64, 64), (3, 130)])
def test_any_size_round_trips(size):
    model = tiny_codec()
    x = torch.rand(1, 3, *size)
    assert model.decompress(model.compress(x)).shape == x.shape


def test_refuses_other_models_streams(image):
    data = tiny_codec(seed=0).compress(image)
    with pytest.raises(BitstreamError, match="made by model"):
        tiny_codec(seed=1).decompress(data)


def test_refuses_batches_and_bad_quality(image):
    model = tiny_codec()
    with pytest.raises(VcodecError, match="one image"):
        model.compress(torch.rand(2, 3, 8, 8))
    with pytest.raises(VcodecError, match="quality 9 is out of range"):
        model.compress(image, quality=9)


def test_every_corruption_or_truncation_is_caught_or_harmless(image):
    model = tiny_codec()
    data = model.compress(image)
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            model.decompress(data[:cut])
    for pos in range(len(data)):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        with pytest.raises(BitstreamError):
            model.decompress(bytes(bad))


def test_weights_hash_survives_a_checkpoint_round_trip(tiny_zoo, image):
    import vcodec

    model = vcodec.load("tiny")
    assert model.decompress(model.compress(image)).shape == image.shape
    reloaded = vcodec.load(tiny_zoo / "tiny")
    assert reloaded.weights_hash == model.weights_hash


def test_greyscale_and_rgba_tensors(image):
    model = tiny_codec()
    grey = image.mean(dim=1, keepdim=True)
    decoded = model.decompress(model.compress(grey))
    assert decoded.shape == grey.shape
    rgba = torch.cat((image, torch.zeros_like(image[:, :1])), dim=1)  # fully transparent: white
    white = model.decompress(model.compress(rgba))
    assert torch.equal(white, model.decompress(model.compress(torch.ones_like(image))))


def test_declared_size_beyond_the_decoder_limit_is_refused(image):
    from vcodec.entropy.container import Container

    model = tiny_codec()
    container = Container.from_bytes(model.compress(image))
    container.width, container.height = (
        8000,
        8000,
    )  # within the container's limits, beyond the codec's
    with pytest.raises(BitstreamError, match="beyond"):
        model.decompress(container.to_bytes())


@pytest.mark.parametrize("architecture", sorted(architectures("image-codec")))
def test_latents_decode_identically_with_one_or_two_threads(architecture):
    """Entropy parameters are integer-exact, so a stream made on 2 threads decodes the same ŷ on 1."""
    model = tiny_codec(architecture)
    x = torch.rand(1, 3, 96, 80, generator=torch.Generator().manual_seed(3))
    with torch_threads(2):
        container = model.parse(model.compress(x, quality=3))
    latents = {}
    for threads in (1, 2):
        with torch_threads(threads), torch.inference_mode():
            latents[threads] = model.decode_latent(
                container.sections, 3, model.latent_shape(96, 80)
            )
    assert torch.equal(latents[1], latents[2])
    with torch.inference_mode():
        decoded = model.g_s(latents[1])[..., :96, :80].clamp(0, 1)
    assert torch.equal(decoded, model.reconstruction(x, 3))


@pytest.mark.parametrize("architecture", sorted(architectures("image-codec")))
def test_payload_corruption_behind_a_valid_crc_raises_or_decodes(architecture, image):
    """Bytes the CRC cannot protect (a forger recomputes it) give BitstreamError or a valid image."""
    from vcodec.entropy.container import Container

    model = tiny_codec(architecture)
    container = Container.from_bytes(model.compress(image))
    rng = torch.Generator().manual_seed(0)
    outcomes = set()
    for trial in range(60):
        sections = [bytearray(s) for s in container.sections]
        target = sections[trial % len(sections)]
        if target:
            target[int(torch.randint(len(target), (1,), generator=rng))] ^= 1 << (trial % 8)
        forged = Container(
            container.kind,
            container.model,
            container.weights_hash,
            container.width,
            container.height,
            container.quality,
            container.grey,
            [bytes(s) for s in sections],
        )
        try:
            decoded = model.decompress(forged.to_bytes())
        except BitstreamError:
            outcomes.add("error")
            continue
        assert decoded.shape == image.shape and torch.isfinite(decoded).all()
        outcomes.add("decoded")
    assert outcomes


def test_input_pixels_must_be_finite_floats(image):
    model = tiny_codec()
    with pytest.raises(VcodecError, match="float pixels"):
        model.compress((image * 255).to(torch.uint8))
    with pytest.raises(VcodecError, match="NaN"):
        model.compress(image * float("nan"))
    with pytest.raises(VcodecError, match="quality 0"):
        model.compress(image, quality=0)


def test_loading_other_weights_refreshes_every_derived_table(image):
    model, other = tiny_codec(seed=0), tiny_codec(seed=1)
    model.compress(image)  # builds and caches tables, exact networks and the hash
    model.load_state_dict(other.state_dict())
    assert model.weights_hash == other.weights_hash
    assert torch.equal(model.decompress(other.compress(image)), other.reconstruction(image))


def test_a_checkpoint_stores_only_the_taps_a_masked_convolution_uses(tmp_path, image):
    from safetensors.torch import load_file, save_file

    codec = tiny_codec(name="packed")
    save_checkpoint(
        codec, tmp_path / "packed", {}, "# test\n"
    )  # rounds codec's weights as it ships them
    before = codec.compress(image, quality=2)
    stored = load_file(tmp_path / "packed" / "model.safetensors")
    assert (
        "context.weight" not in stored and stored["context.weight.taps"].shape[-1] == 12
    )  # 12 of 5×5
    loaded = zoo.load(tmp_path / "packed")
    assert loaded.weights_hash == codec.weights_hash and loaded.compress(image, quality=2) == before
    # a checkpoint written before packing (full kernels, unused taps not zero) loads with its own hash
    old = tiny_codec(name="packed", seed=3)
    full = {k: v.contiguous() for k, v in old.state_dict().items()}
    save_file(full, str(tmp_path / "packed" / "model.safetensors"))
    assert zoo.load(tmp_path / "packed").weights_hash == old.weights_hash


@pytest.mark.parametrize("architecture", architectures("image-codec"))
def test_synthesis_in_channels_last_layout_matches_the_default_layout(architecture):
    model = tiny_codec(architecture).eval()
    y_hat = torch.randn(1, model.config.m, 3, 5, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        fast = model.synthesize(y_hat, 45, 70)
        plain = torch.nn.Sequential.forward(model.g_s, y_hat)[..., :45, :70].clamp(
            0, 1
        )  # default layout
    assert fast.shape == (1, 3, 45, 70) and fast.is_contiguous()
    assert torch.allclose(fast, plain, atol=1e-5)


def test_the_default_quality_is_the_one_whose_lambda_is_nearest_0_013(image):
    from vcodec.entropy.container import Container

    tiny = tiny_codec()  # λ 0.0035, 0.013, 0.0483
    assert tiny.default_quality == 2
    assert (
        Container.from_bytes(tiny.compress(image[..., :32, :32])).quality == 2
    )  # what compress uses unasked
    nine = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932, 0.18, 0.36)
    for lambdas, default in ((nine, 4), (nine[4:], 1)):  # nine[4:] are all above 0.013: the lowest
        codec = build_model(
            CodecConfig("mean-scale-checkerboard", n=16, m=24, lambdas=lambdas), "q"
        )
        assert codec.default_quality == default, lambdas
