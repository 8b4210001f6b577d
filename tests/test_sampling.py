"""Token priors as generators: filtering, seeded sampling, completion, and `vcodec sample` / `complete`."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import vcodec
from vcodec.cli.main import main
from vcodec.entropy import AutoregressiveTokenPrior
from vcodec.entropy.autoregressive import ARPriorConfig
from vcodec.tokenizers.sampling import filtered_probabilities, sample_indices


def test_filtering_keeps_the_top_k_and_the_nucleus():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.count_nonzero(filtered_probabilities(logits, top_k=2)) == 2
    kept = filtered_probabilities(logits, top_p=0.7)  # 0.5 + 0.3 reach 0.7: two ids
    assert kept[0, :2].sum().item() == pytest.approx(1) and kept[0, 2:].sum() == 0
    assert filtered_probabilities(logits, top_p=0.01)[0, 0] == 1  # the likeliest id always stays
    cold = filtered_probabilities(logits, temperature=0.1)
    assert cold[0, 0] > 0.99
    with pytest.raises(ValueError, match="temperature must be positive"):
        filtered_probabilities(logits, temperature=0)


def test_a_prior_trained_on_a_rule_samples_by_the_rule():
    """Sequences where each id is the previous one plus 1 (mod 8), from a random start: the trained prior
    must continue any prefix by the rule, which a per-position prior could not."""
    vocab, length = 8, 12
    starts = torch.randint(vocab, (512, 1), generator=torch.Generator().manual_seed(0))
    data = ((starts + torch.arange(length)) % vocab).unsqueeze(-1)
    prior = AutoregressiveTokenPrior((vocab,), length, ARPriorConfig(width=32, depth=1, heads=2))
    prior.fit(data, steps=300, batch=64, lr=5e-3)
    samples = sample_indices(prior, 16, length, temperature=0.5, seed=1)[..., 0]
    assert ((samples[:, 1:] - samples[:, :-1]) % vocab == 1).float().mean() > 0.95
    prefix = torch.tensor([[[5], [6]]])
    completed = sample_indices(prior, 4, length, prefix=prefix, temperature=0.5, seed=2)[..., 0]
    assert (completed[:, :2] == torch.tensor([5, 6])).all() and (
        completed[:, 2] == 7
    ).float().mean() >= 0.75


@pytest.mark.parametrize("name, tokens", [("tok1d-64", 8), ("vq2d-f8", None)])
def test_shipped_tokenizers_sample_reproducibly_and_decode(name, tokens):
    tok = vcodec.load(name)
    ids = tok.sample(3, num_tokens=tokens, top_k=50, seed=7)
    assert torch.equal(ids, tok.sample(3, num_tokens=tokens, top_k=50, seed=7))
    assert not torch.equal(ids, tok.sample(3, num_tokens=tokens, top_k=50, seed=8))
    assert ids.min() >= 0 and ids.max() < tok.vocab_sizes[0]
    assert tok.decode(ids).shape == (3, 3, tok.image_size, tok.image_size)


def test_completion_keeps_the_first_tokens():
    tok = vcodec.load("tok1d-64")
    image = torch.rand(1, 3, 128, 128)
    completed = tok.complete(image, keep=5, count=3, seed=0)
    assert completed.shape == (3, 64) and (completed[:, :5] == tok.encode(image)[:, :5]).all()
    with pytest.raises(ValueError, match="keep must be an integer in 0…64"):
        tok.complete(image, keep=65)


def test_held_out_bits_per_token_of_the_shipped_prior_are_below_uniform():
    from vcodec.eval.datasets import development_images

    tok = vcodec.load("tok1d-64")
    crops = torch.stack(
        [
            torch.from_numpy(im[:128, :128]).permute(2, 0, 1).float() / 255
            for im in development_images().values()
        ]
    )  # not training photos
    with torch.no_grad():
        bits = tok.prior.bits(tok.as_indices(tok.encode(crops))).mean().item()
    assert bits < np.log2(tok.vocab_sizes[0])


def test_the_cli_samples_and_completes(tmp_path):
    out = tmp_path / "samples"
    result = CliRunner().invoke(
        main, ["sample", "-n", "3", "-k", "4", "--seed", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "contact-sheet.png",
        "sample-000.png",
        "sample-001.png",
        "sample-002.png",
    ]
    assert Image.open(out / "sample-000.png").size == (128, 128)
    again = CliRunner().invoke(
        main, ["sample", "-n", "3", "-k", "4", "--seed", "1", "--out", str(out)]
    )
    assert again.exit_code == 1 and "use --force" in again.output
    forced = tmp_path / "again"
    CliRunner().invoke(main, ["sample", "-n", "3", "-k", "4", "--seed", "1", "--out", str(forced)])
    assert (forced / "sample-002.png").read_bytes() == (
        out / "sample-002.png"
    ).read_bytes()  # seeded
    Image.fromarray(np.full((90, 120, 3), 128, np.uint8)).save(tmp_path / "grey.png")
    result = CliRunner().invoke(
        main,
        [
            "complete",
            str(tmp_path / "grey.png"),
            "--keep",
            "4",
            "-n",
            "2",
            "--out",
            str(tmp_path / "done"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "done" / "contact-sheet.png").size == (
        5 * 130 - 2,
        128,
    )  # image, all, 4, 2 samples


@pytest.mark.parametrize(
    "args, message",
    [
        (["-n", "0"], "0 is not in the range"),
        (["-k", "65"], "num_tokens must be an integer in 1…64"),
        (["--prior", "vq2d-f8"], "models the ids of vq2d-f8, not of tok1d-64"),
        (["-m", "checkerboard-small-v2"], "not an image tokenizer"),
        (["--temperature", "0"], "0 is not in the range"),
    ],
)
def test_the_cli_refuses_bad_requests(tmp_path, args, message):
    result = CliRunner().invoke(main, ["sample", *args, "--out", str(tmp_path / "s")])
    assert result.exit_code != 0 and message in result.output, result.output
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_a_standalone_token_prior_trains_exports_and_samples(tmp_path, monkeypatch):
    from test_train import smooth_photos

    from vcodec.kinds import token_prior

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(token_prior, "HELD_IN_CROPS", 128)
    photos = smooth_photos(tmp_path, count=2, side=160)  # 128² crops
    (tmp_path / "prior.toml").write_text(f"""
[model]
architecture = "token-prior"
tokenizer = "tok1d-64"
width = 16
depth = 1
heads = 2

[data]
path = "{photos}"
crop = 128

[train]
steps = 20
batch = 4
lr = 0.003
log_every = 5
""")
    result = CliRunner().invoke(
        main, ["train", str(tmp_path / "prior.toml"), "--export", str(tmp_path / "my-prior")]
    )
    assert result.exit_code == 0, result.output
    history = [
        h["loss"]
        for h in torch.load(tmp_path / "runs" / "prior" / "last.pt", weights_only=False)["history"]
    ]
    assert history[-1] < history[0] and history[0] < np.log2(1000) + 1  # bits per token, falling
    card = (tmp_path / "my-prior" / "MODEL_CARD.md").read_text()
    assert "held out" in card and "static per-position prior" in card
    prior = vcodec.load(tmp_path / "my-prior")
    assert (
        prior.tokenizer.name == "tok1d-64"
        and (tmp_path / "my-prior" / "model.safetensors").stat().st_size < 200_000
    )
    out = tmp_path / "samples"
    result = CliRunner().invoke(
        main,
        ["sample", "-n", "2", "-k", "4", "--prior", str(tmp_path / "my-prior"), "--out", str(out)],
    )
    assert result.exit_code == 0 and (out / "sample-001.png").is_file(), result.output
    result = CliRunner().invoke(
        main,
        [
            "sample",
            "-m",
            "vq2d-f8",
            "--prior",
            str(tmp_path / "my-prior"),
            "--out",
            str(tmp_path / "s2"),
        ],
    )
    assert result.exit_code == 1 and "models the ids of tok1d-64, not of vq2d-f8" in result.output
