"""Widening a codec's transforms keeps what it computes, and a config with a larger N starts from it."""

import pytest
import torch
from click.testing import CliRunner

from vcodec.cli.main import main
from vcodec.codecs import CodecConfig
from vcodec.codecs.widen import widen_state
from vcodec.models import build_model
from test_train import tiny_data

from conftest import TINY, tiny_codec


def widened(source, n: int, noise: float = 0.0):
    config = CodecConfig(**{**source.config.to_dict(), "n": n, "hyper_n": source.config.n})
    wide = build_model(config, "wide").eval()
    wide.load_state_dict(widen_state(source.state_dict(), n, noise=noise))
    wide.update()
    return wide


def test_a_widened_codec_computes_the_same_reconstruction_and_bits():
    source = tiny_codec()
    wide = widened(source, 2 * TINY["n"] + 3)  # not a multiple: some channels get two copies, some one
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before, after = source(x, 2), wide(x, 2)
    assert torch.allclose(before["x_hat"], after["x_hat"], atol=1e-5)
    for key in ("y", "z"):
        assert torch.allclose(before["likelihoods"][key], after["likelihoods"][key], atol=1e-5)
    assert wide.g_a[2].weight.shape[:2] == (2 * TINY["n"] + 3, 2 * TINY["n"] + 3)
    assert wide.h_a[0].weight.shape[0] == TINY["n"]  # the hyper path keeps its width


def test_the_copies_are_jittered_so_that_they_can_learn_apart():
    wide = widened(tiny_codec(), 2 * TINY["n"], noise=1e-4)
    weight = wide.g_a[0].weight.detach().flatten(1)
    originals, copies = weight[: TINY["n"]], weight[TINY["n"]:]
    nearest = torch.cdist(copies, originals).min(dim=1).values  # each copy against the channel it copies
    assert (nearest > 0).all() and (nearest < 1e-2 * originals.norm(dim=1).min()).all()


def test_narrowing_is_refused():
    with pytest.raises(ValueError, match="cannot narrow"):
        widen_state(tiny_codec().state_dict(), TINY["n"] - 1)


def wide_config(tmp_path, hyper: str) -> str:
    data = tiny_data(tmp_path)
    config = tmp_path / "wide.toml"
    config.write_text(f'''[model]
architecture = "mean-scale-checkerboard"
n = {2 * TINY["n"]}
m = {TINY["m"]}
{hyper}
lambdas = {list(TINY["lambdas"])}

[data]
path = "{data}"
crop = 64

[train]
steps = 1
batch = 2
init = "tiny"
''')
    return str(config)


def test_a_config_with_a_larger_n_starts_from_the_widened_init(tmp_path, tiny_zoo):
    config = wide_config(tmp_path, f"hyper_n = {TINY['n']}")
    result = CliRunner().invoke(main, ["train", config, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert f"widening tiny from N={TINY['n']} to N={2 * TINY['n']}" in result.output


def test_widening_without_hyper_n_says_what_to_set(tmp_path, tiny_zoo):
    result = CliRunner().invoke(main, ["train", wide_config(tmp_path, ""), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1 and f"set [model] hyper_n = {TINY['n']}" in result.output, result.output


def test_hyper_n_equal_to_n_is_the_same_config_as_leaving_it_out():
    assert CodecConfig("mean-scale-checkerboard", 16, 24, hyper_n=16) == CodecConfig("mean-scale-checkerboard", 16, 24)
    with pytest.raises(ValueError, match="hyper_n must be an integer"):
        CodecConfig("mean-scale-checkerboard", 16, 24, hyper_n="16")
