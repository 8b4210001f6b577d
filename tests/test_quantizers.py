"""Quantizers: shapes, index round trips through embed, straight-through gradients, usage statistics,
nested dropout in both modes."""

import pytest
import torch

from vcodec.quantizers import NestedDropout, build_quantizer
from vcodec.quantizers.factorized import disentanglement

KINDS = {
    "vq": {"codebook_size": 32, "codebook_dim": 8},
    "fsq": {"levels": (5, 5, 3)},
    "lfq": {"codebook_size": 64},
    "rvq": {"levels": 3, "codebook_size": 16, "codebook_dim": 8},
    "factorized-vq": {"codebook_sizes": (16, 32), "codebook_dim": 4},
}
GROUPS = {"vq": 1, "fsq": 1, "lfq": 1, "rvq": 3, "factorized-vq": 2}


@pytest.fixture(params=sorted(KINDS))
def kind(request):
    return request.param


def make(kind):
    torch.manual_seed(0)
    return build_quantizer(kind, 16, **KINDS[kind])


def test_shapes_and_index_round_trip(kind):
    quantizer = make(kind)
    z = torch.randn(4, 12, 16)
    quantizer.train()(z)  # k-means initialisation and EMA updates happen in training
    out = quantizer.eval()(z)
    assert out.quantized.shape == z.shape
    assert out.indices.shape == (4, 12, GROUPS[kind]) and out.indices.dtype == torch.long
    assert len(quantizer.vocab_sizes) == GROUPS[kind]
    for g, vocab in enumerate(quantizer.vocab_sizes):
        assert 0 <= out.indices[..., g].min() and out.indices[..., g].max() < vocab
    torch.testing.assert_close(quantizer.embed(out.indices), out.quantized, atol=1e-5, rtol=1e-5)


def test_straight_through_gradients_reach_the_input(kind):
    quantizer = make(kind).train()
    z = torch.randn(2, 10, 16, requires_grad=True)
    out = quantizer(z)
    (out.quantized.square().sum() + out.loss).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_usage_and_perplexity_are_reported(kind):
    quantizer = make(kind).train()
    out = quantizer(torch.randn(8, 16, 16))
    for g, vocab in enumerate(quantizer.vocab_sizes):
        assert 1.0 <= float(out.perplexity[g]) <= min(vocab, 8 * 16) + 1e-3
        assert 0 < float(out.usage[g]) <= 1
    assert (quantizer.codebook_usage() >= out.usage - 1e-6).all()
    quantizer.reset_usage()
    assert float(quantizer.codebook_usage().sum()) == 0


def test_fsq_sub_tokens_may_have_their_own_levels():
    quantizer = build_quantizer("fsq", 5, levels=[[5, 5], [3, 3, 3]], hard_clamp=True)
    assert quantizer.vocab_sizes == (25, 27)
    z = torch.tensor([[[0.5, -0.26, 1.0, 7.0, -0.4]]])
    out = quantizer(z)
    # with a clamp instead of tanh a level is one step everywhere: v → round(v·(L−1)/2)/(L//2)
    assert torch.allclose(out.quantized, torch.tensor([[[0.5, -0.5, 1.0, 1.0, 0.0]]]))
    assert torch.equal(quantizer.embed(out.indices), out.quantized)
    with pytest.raises(ValueError, match="sub-tokens of 5 channels, got dim 6"):
        build_quantizer("fsq", 6, levels=[[5, 5], [3, 3, 3]])
    with pytest.raises(ValueError, match="each at least 3"):
        build_quantizer("fsq", 3, levels=[[5, 5], [2]])


def test_bad_indices_and_shapes_are_plain_value_errors():
    quantizer = make("vq")
    with pytest.raises(ValueError, match="B×N×16"):
        quantizer(torch.randn(2, 16))
    with pytest.raises(ValueError, match="integers"):
        quantizer.embed(torch.zeros(1, 3, 1))
    with pytest.raises(ValueError, match="B×N×1"):
        quantizer.embed(torch.zeros(1, 3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 32\)"):
        quantizer.embed(torch.full((1, 3, 1), 32))
    with pytest.raises(ValueError, match="unknown quantizer"):
        build_quantizer("pq", 16)


def test_disentanglement_is_zero_for_orthogonal_codes_and_one_for_equal_codes():
    a = torch.tensor([[[1.0, 0.0]]])
    b = torch.tensor([[[0.0, 2.0]]])
    assert float(disentanglement([a, b])) == pytest.approx(0.0)
    assert float(disentanglement([a, 3 * a])) == pytest.approx(1.0)


def test_nested_dropout_slice_mode_keeps_one_prefix_per_batch():
    dropout = NestedDropout(8, dim=4, mode="slice").train()
    tokens = torch.randn(3, 8, 4)
    seen = set()
    for _ in range(40):
        kept, lengths = dropout(tokens)
        k = kept.shape[1]
        seen.add(k)
        assert 1 <= k <= 8 and (lengths == k).all() and torch.equal(kept, tokens[:, :k])
    assert len(seen) > 3
    kept, _ = dropout.eval()(tokens)
    assert torch.equal(kept, tokens)
    kept, lengths = dropout(tokens, num_tokens=5)
    assert kept.shape == (3, 5, 4) and (lengths == 5).all()


def test_nested_dropout_mask_mode_replaces_each_samples_tail_with_the_mask_token():
    torch.manual_seed(1)
    dropout = NestedDropout(16, dim=4, mode="mask", lengths="pow2").train()
    assert dropout.choices.tolist() == [1, 2, 4, 8, 16]
    tokens = torch.randn(32, 16, 4)
    masked, lengths = dropout(tokens)
    assert masked.shape == tokens.shape and len(set(lengths.tolist())) > 1
    for sample, k in zip(range(32), lengths.tolist()):
        assert torch.equal(masked[sample, :k], tokens[sample, :k])
        assert torch.equal(masked[sample, k:], dropout.mask_token.detach().expand(16 - k, 4))
    masked.sum().backward()
    assert dropout.mask_token.grad is not None


def test_nested_dropout_rejects_bad_settings():
    with pytest.raises(ValueError, match="slice' or 'mask"):
        NestedDropout(8, 4, mode="random")
    with pytest.raises(ValueError, match="min_tokens"):
        NestedDropout(8, 4, min_tokens=9)
    with pytest.raises(ValueError, match="expected 8 tokens"):
        NestedDropout(8, 4)(torch.randn(1, 7, 4))
