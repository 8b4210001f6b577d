"""Token priors: the autoregressive transformer codes exactly, deterministically, and below the static prior
on sequences with structure."""

import numpy as np
import pytest
import torch

from vcodec.entropy import AutoregressiveTokenPrior, StaticTokenPrior, build_token_prior
from vcodec.entropy.autoregressive import ARPriorConfig
from vcodec.errors import BitstreamError
from vcodec.threads import torch_threads

VOCAB, LENGTH = 64, 16


def markov_tokens(count: int, seed: int = 1) -> torch.Tensor:
    """count×LENGTH×1 ids where each token is 5·previous + {0, 1, 2} (mod VOCAB): ~1.6 bits each."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.zeros(count, LENGTH, dtype=torch.long)
    tokens[:, 0] = torch.randint(0, VOCAB, (count,), generator=g)
    for n in range(1, LENGTH):
        tokens[:, n] = (tokens[:, n - 1] * 5 + torch.randint(0, 3, (count,), generator=g)) % VOCAB
    return tokens[..., None]


@pytest.fixture(scope="module")
def trained() -> AutoregressiveTokenPrior:
    torch.manual_seed(0)
    prior = AutoregressiveTokenPrior((VOCAB,), LENGTH, ARPriorConfig(width=32, depth=1, heads=2))
    history = prior.fit(markov_tokens(1500), steps=400, batch=64)
    assert history[-1] < 0.6 * history[0]
    return prior


def test_round_trip_is_exact_for_every_prefix_length(trained):
    for tokens in markov_tokens(6, seed=7):
        for n in (1, 5, LENGTH):
            assert torch.equal(trained.decompress(trained.compress(tokens[:n]), n), tokens[:n])


def test_frequencies_do_not_depend_on_batch_threads_or_prefix(trained):
    tokens = markov_tokens(3, seed=3)
    together = trained.exact.frequencies(tokens)[0]
    alone = trained.exact.frequencies(tokens[1:2])[0]
    with torch_threads(1):
        one_thread = trained.exact.frequencies(tokens)[0]
    prefix = trained.exact.frequencies(tokens[:, :5])[0]
    assert np.array_equal(together[1], alone[0]) and np.array_equal(together, one_thread)
    assert np.array_equal(prefix, together[:, :5])
    assert (together >= 1).all() and (together.sum(-1) <= 1 << 16).all()


def test_the_learned_prior_beats_the_static_one_on_structured_tokens(trained):
    static = StaticTokenPrior((VOCAB,), LENGTH)
    static.fit(markov_tokens(1500))
    test = markov_tokens(100, seed=9)
    learned = sum(len(trained.compress(t)) for t in test)
    counted = sum(len(static.compress(t)) for t in test)
    raw = 100 * LENGTH * np.log2(VOCAB) / 8
    assert learned < 0.6 * counted and learned < 0.6 * raw


def test_garbage_never_crashes_the_decoder(trained):
    rng = np.random.default_rng(0)
    for size in (0, 3, 4, 8, 40):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        try:
            tokens = trained.decompress(data, LENGTH)
        except BitstreamError:
            continue
        assert tokens.shape == (LENGTH, 1) and 0 <= tokens.min() and tokens.max() < VOCAB


def test_static_positions_fit_to_their_own_samples():
    prior = StaticTokenPrior((4,), positions=2)
    prior.fit_positions([torch.tensor([[0], [0], [0], [1]]), torch.tensor([[3], [3]])])
    p = torch.softmax(prior.logits[0], -1)
    assert p[0].argmax() == 0 and p[1].argmax() == 3
    assert torch.allclose(p[0], torch.tensor([3.5, 1.5, 0.5, 0.5]) / 6)
    with pytest.raises(ValueError, match="2 positions"):
        prior.fit_positions([torch.tensor([[0]])])
    tokens = torch.tensor([[1], [3]])
    assert torch.equal(prior.decompress(prior.compress(tokens), 2), tokens)


def test_several_streams_and_the_builder():
    prior = build_token_prior("autoregressive", (8, 16), 6)
    tokens = torch.stack([torch.randint(0, 8, (6,)), torch.randint(0, 16, (6,))], dim=-1)
    assert torch.equal(prior.decompress(prior.compress(tokens), 6), tokens)
    assert prior.bits(tokens[None]).shape == (1, 6, 2)
    with pytest.raises(ValueError, match="unknown token prior"):
        build_token_prior("ngram", (8,), 6)


def test_a_tokenizer_with_the_autoregressive_prior_round_trips():
    from test_tokenizers import SMALL, smooth_images

    from vcodec.tokenizers import Transformer1DConfig, Transformer1DTokenizer

    torch.manual_seed(0)
    config = Transformer1DConfig(
        **SMALL, quantizer="fsq", quantizer_options={"levels": (5, 5, 5)}, prior="autoregressive"
    )
    tokenizer = Transformer1DTokenizer(config, "tiny-ar").eval()
    ids = tokenizer.as_indices(tokenizer.encode(torch.rand(64, 3, 32, 32)))
    tokenizer.prior.fit(ids, steps=50, batch=16)
    x = smooth_images(2)
    for data, i in zip(tokenizer.compress(x, num_tokens=6), range(2)):
        assert torch.equal(
            tokenizer.decompress_tokens(data), tokenizer.encode(x[i : i + 1], num_tokens=6)
        )


def test_vocabularies_the_priors_cannot_code_are_refused_up_front():
    for kind in ("static", "autoregressive"):
        with pytest.raises(ValueError, match="2…16384"):
            build_token_prior(kind, (40000,), 8)
    with pytest.raises(ValueError, match="at most 512 positions"):
        build_token_prior("autoregressive", (16,), 1024)


def test_torch_threads_restores_the_count_even_when_the_block_raises():
    caller = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 3
        with pytest.raises(KeyError), torch_threads(2):
            assert torch.get_num_threads() == 2
            raise KeyError("inside")
        assert torch.get_num_threads() == 3
        with torch_threads(3):  # already so: nothing to change
            assert torch.get_num_threads() == 3
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(caller)


def test_decoding_runs_on_one_thread_and_gives_the_caller_its_count_back(monkeypatch):
    torch.manual_seed(0)
    prior = AutoregressiveTokenPrior(
        (VOCAB,), LENGTH, ARPriorConfig(width=32, depth=1, heads=2)
    ).eval()
    tokens = markov_tokens(1, seed=5)[0]
    data = prior.compress(tokens)
    exact, during = prior.exact, []
    frequencies = exact.frequencies

    def spy(*args, **kwargs):
        during.append(torch.get_num_threads())
        return frequencies(*args, **kwargs)

    monkeypatch.setattr(exact, "frequencies", spy)
    caller = torch.get_num_threads()
    decoded = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            decoded[threads] = prior.decompress(data, LENGTH)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(caller)
    assert len(during) == 2 * LENGTH and set(during) == {
        1
    }  # every step, whatever the caller's count
    assert torch.equal(decoded[1], decoded[2]) and torch.equal(decoded[2], tokens)
