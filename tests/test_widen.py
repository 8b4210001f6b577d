"""Widening a codec's transforms or adding rate points keeps what it computes, and a config with a larger N
or more λ starts from it."""

import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import TINY, tiny_codec
from test_train import tiny_data

from vcodec.cli.main import main
from vcodec.codecs import CodecConfig
from vcodec.entropy.container import Container
from vcodec.registry import build_model
from vcodec.train.widen import rate_points, widen_latent, widen_state


def widened(source, n: int, noise: float = 0.0):
    config = CodecConfig(**{**source.config.to_dict(), "n": n, "hyper_n": source.config.n})
    wide = build_model(config, "wide").eval()
    wide.load_state_dict(widen_state(source.state_dict(), n, noise=noise))
    wide.update()
    return wide


def test_a_widened_codec_computes_the_same_reconstruction_and_bits():
    source = tiny_codec()
    wide = widened(
        source, 2 * TINY["n"] + 3
    )  # not a multiple: some channels get two copies, some one
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
    originals, copies = weight[: TINY["n"]], weight[TINY["n"] :]
    nearest = (
        torch.cdist(copies, originals).min(dim=1).values
    )  # each copy against the channel it copies
    assert (nearest > 0).all() and (nearest < 1e-2 * originals.norm(dim=1).min()).all()


def with_wider_latent(source, m: int):
    config = CodecConfig(**{**source.config.to_dict(), "m": m})
    wide = build_model(config, "wide").eval()  # a name as long as "tiny": same header size
    wide.load_state_dict(widen_latent(source.state_dict(), m))
    wide.update()
    return wide


def test_a_wider_latent_codes_the_same_pictures_at_the_same_rate():
    """New channels of y start at zero under the narrowest Gaussian: the same reconstruction, the
    same z, a rate larger only by the bits of those zeros; real streams decode to the same pixels."""
    source = tiny_codec()
    wide = with_wider_latent(source, TINY["m"] + 5)  # odd: the parameter blocks must line up
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before, after = source(x, 2), wide(x, 2)
    assert torch.allclose(before["x_hat"], after["x_hat"], atol=1e-5)
    assert torch.equal(before["likelihoods"]["z"], after["likelihoods"]["z"])
    y_before, y_after = before["likelihoods"]["y"], after["likelihoods"]["y"]
    assert torch.allclose(y_after[:, : TINY["m"]], y_before, atol=1e-6)
    assert -torch.log2(y_after[:, TINY["m"] :]).sum() < 0.01  # bits, over 5×16 zeros
    for quality in (1, source.num_qualities):
        ours, theirs = source.compress(x, quality), wide.compress(x, quality)
        assert abs(len(ours) - len(theirs)) <= 2
        assert torch.equal(source.decompress(ours), wide.decompress(theirs))


def test_a_wider_latent_can_learn():
    """The new channels are not stuck at zero: one gradient step on the rate–distortion loss moves
    the analysis rows that make them."""
    wide = with_wider_latent(tiny_codec(), TINY["m"] + 4).train()
    out = wide(torch.rand(2, 3, 64, 64), torch.tensor([3, 3]))
    loss = (out["x_hat"] - torch.rand(2, 3, 64, 64)).pow(2).mean()
    loss.backward()
    assert wide.g_a[6].weight.grad[TINY["m"] :].abs().sum() > 0


def test_narrowing_is_refused():
    with pytest.raises(ValueError, match="cannot narrow"):
        widen_state(tiny_codec().state_dict(), TINY["n"] - 1)
    with pytest.raises(ValueError, match="cannot narrow a latent"):
        widen_latent(tiny_codec().state_dict(), TINY["m"] - 1)


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


def test_a_config_with_a_larger_m_starts_from_the_widened_init(tmp_path, tiny_zoo):
    config = Path(wide_config(tmp_path, f"hyper_n = {TINY['n']}"))
    text = config.read_text().replace(f"n = {2 * TINY['n']}\n", f"n = {TINY['n']}\n", 1)
    config.write_text(text.replace(f"m = {TINY['m']}", f"m = {TINY['m'] + 8}"))
    result = CliRunner().invoke(main, ["train", str(config), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert f"widening tiny's latent from M={TINY['m']} to M={TINY['m'] + 8}" in result.output


def test_widening_without_hyper_n_says_what_to_set(tmp_path, tiny_zoo):
    result = CliRunner().invoke(
        main, ["train", wide_config(tmp_path, ""), "--run-dir", str(tmp_path / "run")]
    )
    assert result.exit_code == 1 and f"set [model] hyper_n = {TINY['n']}" in result.output, (
        result.output
    )


def test_hyper_n_equal_to_n_is_the_same_config_as_leaving_it_out():
    assert CodecConfig("mean-scale-checkerboard", 16, 24, hyper_n=16) == CodecConfig(
        "mean-scale-checkerboard", 16, 24
    )
    with pytest.raises(ValueError, match="hyper_n must be an integer"):
        CodecConfig("mean-scale-checkerboard", 16, 24, hyper_n="16")


def extended(source, lambdas: tuple[float, ...]):
    config = CodecConfig(**{**source.config.to_dict(), "lambdas": lambdas})
    codec = build_model(config, "extended").eval()
    codec.load_state_dict(rate_points(source.state_dict(), source.config.lambdas, lambdas))
    codec.update()
    return codec


def test_added_rate_points_keep_the_old_qualities_and_start_finer():
    source = tiny_codec()
    more = extended(source, (*TINY["lambdas"], 0.0932, 0.18))
    x = torch.rand(1, 3, 64, 64)
    for quality in range(
        1, len(TINY["lambdas"]) + 1
    ):  # the same entropy-coded sections (names differ)
        sections = [
            Container.from_bytes(c.compress(x, quality=quality)).sections for c in (more, source)
        ]
        assert sections[0] == sections[1]
    gains = more.y_gain.log_gain.detach().exp()
    step = (0.0932 / TINY["lambdas"][-1]) ** 0.5
    assert torch.allclose(gains[-2], gains[-3] * step) and torch.allclose(
        gains[-1], gains[-3] * (0.18 / 0.0483) ** 0.5
    )
    inverse = more.y_gain.log_inverse_gain.detach().exp()
    assert torch.allclose(inverse[-2], inverse[-3] / step)
    with torch.no_grad():  # a finer quantizer: more bits at the new qualities
        bits = [
            sum(-torch.log2(v).sum() for v in more(x, q)["likelihoods"].values()) for q in (3, 4, 5)
        ]
    assert bits[0] < bits[1] < bits[2]


def test_a_config_with_more_lambdas_starts_from_the_init_with_rows_added(tmp_path, tiny_zoo):
    config = wide_config(tmp_path, f"hyper_n = {TINY['n']}").replace("wide.toml", "more.toml")
    text = (
        Path(wide_config(tmp_path, ""))
        .read_text()
        .replace(f"n = {2 * TINY['n']}", f"n = {TINY['n']}")
    )
    text = text.replace(
        f"lambdas = {list(TINY['lambdas'])}", f"lambdas = {[*TINY['lambdas'], 0.0932]}"
    )
    Path(config).write_text(text)
    result = CliRunner().invoke(main, ["train", config, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert (
        f"rate points of tiny (λ {', '.join(map(str, TINY['lambdas']))}) moved to" in result.output
    )


def test_other_lambdas_start_from_the_inits_nearest_rate_point():
    source = tiny_codec()
    lambdas = (0.0483, 0.0932, 0.0018)  # the init's q3, one above it, one below its q1
    moved = extended(source, lambdas)
    x = torch.rand(1, 3, 64, 64)
    same = [
        Container.from_bytes(c.compress(x, quality=q)).sections
        for c, q in ((moved, 1), (source, 3))
    ]
    assert same[0] == same[1]
    gains, old = moved.y_gain.log_gain.detach(), source.y_gain.log_gain.detach()
    assert torch.allclose(gains[1], old[2] + 0.5 * math.log(0.0932 / 0.0483))
    assert torch.allclose(gains[2], old[0] + 0.5 * math.log(0.0018 / TINY["lambdas"][0]))
