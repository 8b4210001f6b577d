"""Tokenizers: the protocol, prefix decoding, token bitstreams, clear errors, and that training learns."""

import pytest
import torch

from vcodec.entropy.container import Container, Kind
from vcodec.errors import BitstreamError
from vcodec.tokenizers import Tokenizer, Transformer1DConfig, Transformer1DTokenizer

SMALL = dict(image_size=32, patch_size=8, width=32, depth=1, heads=2, num_tokens=8, token_dim=4)


def tiny_tokenizer(mode="slice", quantizer="fsq", options=None, seed=0, name="tiny-tok"):
    torch.manual_seed(seed)
    config = Transformer1DConfig(
        **SMALL,
        quantizer=quantizer,
        nested_dropout=mode,
        quantizer_options=options or {"levels": (5, 5, 5)},
    )
    tokenizer = Transformer1DTokenizer(config, name)
    tokenizer.train()(torch.rand(4, 3, 32, 32))  # initialise data-dependent codebooks
    tokenizer.eval()
    tokenizer.prior.fit(tokenizer.as_indices(tokenizer.encode(torch.rand(16, 3, 32, 32))))
    return tokenizer


def smooth_images(batch=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    phase = torch.rand(batch, 3, 1, 1, generator=g) * 6
    return 0.5 + 0.4 * torch.sin(3 * xx + 2 * yy + phase)


def assert_training_reduces_the_loss(tokenizer, steps: int, lr: float) -> None:
    """A few steps of the real tokenizer objective on a fixed batch halve the loss."""
    from vcodec.train.objectives import Reconstruction

    objective, x = Reconstruction(tokenizer, 0.0, 0), smooth_images(8)
    optimizer = torch.optim.Adam(tokenizer.train().parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss, _ = objective.loss(tokenizer, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5, losses


@pytest.fixture(params=["slice", "mask"])
def tokenizer(request):
    return tiny_tokenizer(request.param)


def test_follows_the_protocol_and_every_prefix_decodes(tokenizer):
    assert isinstance(tokenizer, Tokenizer)
    assert tokenizer.vocab_sizes == (125,) and tokenizer.max_tokens == 8
    x = smooth_images()
    ids = tokenizer.encode(x)
    assert ids.shape == (4, 8) and ids.dtype == torch.long
    assert torch.equal(tokenizer.encode(x, num_tokens=3), ids[:, :3])
    for k in range(1, 9):
        decoded = tokenizer.decode(ids[:, :k])
        assert decoded.shape == x.shape and 0 <= decoded.min() and decoded.max() <= 1
    assert tokenizer.embed(ids).shape == (4, 8, 4)


def test_tokens_round_trip_through_bytes_exactly(tokenizer):
    x = smooth_images()
    for k in (1, 5, 8):
        streams = tokenizer.compress(x, num_tokens=k)
        assert len(streams) == 4
        for i, data in enumerate(streams):
            assert Container.from_bytes(data).kind == Kind.TOKENS
            assert torch.equal(
                tokenizer.decompress_tokens(data), tokenizer.encode(x[i : i + 1], num_tokens=k)
            )
        torch.testing.assert_close(
            tokenizer.decompress(streams[0]), tokenizer.decode(tokenizer.encode(x[:1], k))
        )


def test_factorized_tokens_round_trip_through_embed_and_bytes():
    tokenizer = tiny_tokenizer(
        quantizer="factorized-vq", options={"codebook_sizes": (16, 32), "codebook_dim": 4}
    )
    x = smooth_images()
    ids = tokenizer.encode(x, num_tokens=6)
    assert ids.shape == (4, 6, 2) and tokenizer.vocab_sizes == (16, 32)
    embedded = tokenizer.embed(ids)
    assert embedded.shape == (4, 6, 4)
    torch.testing.assert_close(tokenizer.embed(ids.clone()), embedded)
    data = tokenizer.compress(x[:1], num_tokens=6)[0]
    assert torch.equal(tokenizer.decompress_tokens(data), ids[:1])


def test_bad_arguments_raise_value_errors_that_say_what_was_expected(tokenizer):
    x = smooth_images()
    ids = tokenizer.encode(x)
    cases = [
        (lambda: tokenizer.encode(x, num_tokens=0), "1…8"),
        (lambda: tokenizer.encode(x, num_tokens=9), "1…8"),
        (lambda: tokenizer.encode(x, num_tokens="4"), "1…8"),
        (lambda: tokenizer.encode(torch.rand(1, 3, 48, 48)), "B×3×32×32"),
        (lambda: tokenizer.encode(torch.full((1, 3, 32, 32), float("nan"))), "NaN"),
        (lambda: tokenizer.encode((x * 255).to(torch.uint8)), "float"),
        (lambda: tokenizer.decode(ids.float()), "integers"),
        (lambda: tokenizer.decode(ids + 200), r"\[0, 125\)"),
        (lambda: tokenizer.decode(torch.zeros(2, 9, dtype=torch.long)), "1 ≤ N ≤ 8"),
        (lambda: tokenizer.decode(torch.zeros(2, 3, 2, dtype=torch.long)), "B×N"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_foreign_and_corrupt_streams_raise_bitstream_errors(tokenizer):
    data = tokenizer.compress(smooth_images(1))[0]
    other = tiny_tokenizer(tokenizer.config.nested_dropout, seed=1, name="tiny-tok")
    with pytest.raises(BitstreamError, match="not by"):
        other.decompress(data)
    image_stream = Container(
        kind=Kind.IMAGE,
        model="tiny-tok",
        weights_hash=tokenizer.weights_hash,
        width=32,
        height=32,
        sections=[b""],
    ).to_bytes()
    with pytest.raises(BitstreamError, match="not tokens"):
        tokenizer.decompress(image_stream)
    with pytest.raises(BitstreamError):
        tokenizer.decompress(data[:-3])


def test_a_few_training_steps_reduce_the_loss():
    torch.manual_seed(0)
    config = Transformer1DConfig(
        **SMALL, quantizer="fsq", quantizer_options={"levels": (5, 5, 5)}, nested_dropout="none"
    )
    tokenizer = Transformer1DTokenizer(config)
    assert_training_reduces_the_loss(tokenizer, steps=40, lr=2e-3)


def test_static_prior_codes_skewed_tokens_near_their_entropy_and_below_raw_size():
    from vcodec.entropy.categorical import StaticTokenPrior

    torch.manual_seed(0)
    vocab, positions = 256, 32
    probabilities = torch.softmax(torch.randn(positions, vocab) * 2, dim=-1)
    tokens = torch.stack(
        [torch.multinomial(p, 400, replacement=True) for p in probabilities], dim=1
    )[..., None]
    prior = StaticTokenPrior((vocab,), positions)
    with pytest.raises(RuntimeError, match="update"):
        prior.compress(tokens[0])
    prior.fit(tokens)
    actual = sum(len(prior.compress(t)) for t in tokens[:50])
    estimate = prior.bits(tokens[:50]).sum().item() / 8
    assert actual < 0.85 * 50 * positions * 8 / 8  # raw: 8 bits per token
    assert abs(actual - estimate) / estimate < 0.1  # (each stream rounds up to 4 bytes)
    for t in tokens[:5]:
        assert torch.equal(prior.decompress(prior.compress(t), positions), t)
        assert torch.equal(prior.decompress(prior.compress(t[:7]), 7), t[:7])


def test_tiles_cover_any_image_and_reassemble_exactly():
    from vcodec.eval.methods import tiles, untile

    image = torch.randint(0, 256, (40, 70, 3), dtype=torch.uint8).numpy()
    x, grid = tiles(image, 32)
    assert grid == (2, 3) and x.shape == (6, 3, 32, 32)
    assert (untile(x, grid, 40, 70) == image).all()


def test_tokenizers_join_the_rd_evaluation_with_real_bytes(tmp_path, monkeypatch):
    import json

    import numpy as np
    from click.testing import CliRunner
    from PIL import Image

    from vcodec.cli.main import main
    from vcodec.zoo import save_checkpoint

    save_checkpoint(
        tiny_tokenizer(), tmp_path / "zoo" / "tiny-tok", {"description": "test"}, "# test\n"
    )
    monkeypatch.setenv("VCODEC_CHECKPOINTS", str(tmp_path / "zoo"))
    for i in range(2):
        array = (smooth_images(1, 48, seed=i)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(array[:40]).save(tmp_path / f"im{i}.png")
    result = CliRunner().invoke(
        main,
        [
            "eval",
            "images",
            str(tmp_path),
            "--methods",
            "tiny-tok,jpeg",
            "--out",
            str(tmp_path / "out"),
            "--sweep",
            "jpeg=20,40,60,80",
            "--per-image",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "tiny-tok.json").read_text())
    assert data["results"]["tokens"] == [1, 2, 4, 8]
    rows = [r for r in data["per_image"] if r["tokens"] == 8]
    assert all(r["bytes"] > 4 * 30 for r in rows)  # four 32² tiles, each its own container
    bpp = data["results"]["bpp"]
    assert bpp == sorted(bpp) and all(p < b for p, b in zip(data["results"]["payload-bpp"], bpp))


def tiny_conv_tokenizer(seed=0):
    from vcodec.tokenizers import Conv2DConfig, Conv2DTokenizer

    torch.manual_seed(seed)
    config = Conv2DConfig(
        image_size=32,
        factor=8,
        channels=8,
        token_dim=4,
        quantizer="vq",
        quantizer_options={"codebook_size": 16},
    )
    tokenizer = Conv2DTokenizer(config, "tiny-vq2d")
    tokenizer.train()(torch.rand(4, 3, 32, 32))
    tokenizer.eval()
    tokenizer.prior.fit(tokenizer.as_indices(tokenizer.encode(torch.rand(16, 3, 32, 32))))
    return tokenizer


def test_2d_tokenizer_gives_a_grid_that_round_trips_through_bytes():
    tokenizer = tiny_conv_tokenizer()
    assert (
        isinstance(tokenizer, Tokenizer)
        and tokenizer.token_grid == (4, 4)
        and tokenizer.max_tokens == 16
    )
    x = smooth_images()
    ids = tokenizer.encode(x)
    assert ids.shape == (4, 4, 4) and ids.dtype == torch.long
    assert tokenizer.decode(ids).shape == x.shape
    assert tokenizer.embed(ids).shape == (4, 16, 4)
    for i, data in enumerate(tokenizer.compress(x)):
        assert torch.equal(tokenizer.decompress_tokens(data), ids[i : i + 1])
    with pytest.raises(ValueError, match="whole 4×4 grid"):
        tokenizer.encode(x, num_tokens=8)
    with pytest.raises(ValueError, match="B×4×4"):
        tokenizer.decode(ids[:, :2])
    with pytest.raises(ValueError, match="B×4×4"):
        tokenizer.decode(ids.flatten(1)[:, :5])


def test_2d_tokenizer_trains():
    assert_training_reduces_the_loss(tiny_conv_tokenizer(), steps=30, lr=3e-3)
