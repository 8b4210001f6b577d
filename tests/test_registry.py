"""The registry: a new architecture, defined here and registered once, trains, exports, loads,
evaluates and fuzzes through the same entry points as the shipped ones; lookups fail clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from test_train import tiny_data

from vcodec import registry, zoo
from vcodec.cli.main import main
from vcodec.codecs import CodecConfig
from vcodec.codecs.hyperprior import HyperpriorCodec
from vcodec.latent_codecs import GaussianConditionalLatentCodec
from vcodec.layers.exact import from_fixed
from vcodec.testing import fuzz
from vcodec.testing.tiny import TINY, strengthen


class MeanScaleCodec(HyperpriorCodec):
    """Mean-scale hyperprior without a context model (Minnen et al. 2018, "mbt2018-mean"): the whole
    new architecture is this class and one registration. h_s predicts a scale and a mean per
    channel; y is coded in one pass by a Gaussian conditional composed over the inherited modules."""

    def hyper_out(self, config: CodecConfig) -> int:
        return 2 * config.m

    def y_codec(self) -> GaussianConditionalLatentCodec:
        return GaussianConditionalLatentCodec(
            self.y_model,
            self.y_gain,
            params=lambda features: features.chunk(2, dim=1),
            exact_params=lambda features: from_fixed(features).chunk(2, dim=1),
        )


@pytest.fixture()
def mean_scale():
    arch = registry.register(
        registry.Architecture(
            "test-mean-scale",
            "image-codec",
            CodecConfig,
            MeanScaleCodec,
            {"n": 8, "m": 8, "lambdas": TINY["lambdas"]},
        )
    )
    yield arch
    registry.unregister(arch.name)


def test_a_registered_architecture_trains_exports_loads_evaluates_and_fuzzes(mean_scale, tmp_path):  # noqa: F811
    data = tiny_data(tmp_path)
    config = tmp_path / "mean-scale.toml"
    config.write_text(f"""
[model]
architecture = "test-mean-scale"
n = 8
m = 8
lambdas = {list(TINY["lambdas"])}

[data]
path = "{data}"
crop = 64

[train]
steps = 3
batch = 2
""")
    out = tmp_path / "ckpt"
    result = CliRunner().invoke(
        main, ["train", str(config), "--run-dir", str(tmp_path / "run"), "--export", str(out)]
    )
    assert result.exit_code == 0, result.output
    record = json.loads((out / "config.json").read_text())
    assert record["kind"] == "image-codec" and record["model"]["architecture"] == "test-mean-scale"
    assert len(record["results"]["dev"]["bpp"]) == len(TINY["lambdas"])

    codec = zoo.load(out)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(
            np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        ).save(photos / f"{i}.png")
    assert isinstance(codec, MeanScaleCodec)
    x = torch.rand(1, 3, 40, 56)
    assert codec.decompress(codec.compress(x, quality=2)).shape == x.shape

    result = CliRunner().invoke(
        main, ["eval", "images", str(photos), "--methods", str(out), "--out", str(tmp_path / "rd")]
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "rd" / "ckpt.json").read_text())["results"]["bpp"]) == len(
        TINY["lambdas"]
    )

    strengthen(codec.g_a)  # untrained latents are too small to carry symbols
    codec.update()
    report = fuzz.run(fuzz.model_target("test-mean-scale", codec), cases=40)
    assert report.cases == 40 and not report.crashes and not report.hangs and report.rejected > 0


def test_every_architecture_builds_its_tiny_model():
    for name in registry.architectures():
        arch = registry.architecture(name)
        model = zoo.build(arch.tiny_config(), "tiny")  # with the checkpoints its kind depends on
        assert isinstance(model, arch.model_type) and model.name == "tiny"
        assert registry.kind_of(model).name == arch.kind


def test_unknown_names_and_duplicates_are_refused(mean_scale):
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        registry.architecture("nope")
    with pytest.raises(ValueError, match="unknown kind"):
        registry.register(registry.Architecture("x", "sound-codec", CodecConfig, MeanScaleCodec))
    with pytest.raises(ValueError, match="registered already"):
        registry.register(mean_scale)


def test_the_catalog_needs_no_torch():
    import subprocess
    import sys

    code = (
        "import sys, vcodec.zoo as z; infos = z.model_infos(); "
        "assert 'torch' not in sys.modules, 'torch'; print(sum(i.qualities for i in infos))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 0


def test_image_and_video_tokenizers_meet_the_tokenizer_protocol():
    from vcodec.tokenizers import Tokenizer

    for name in registry.architectures("tokenizer") + registry.architectures("video-tokenizer"):
        model = zoo.build(registry.architecture(name).tiny_config())
        assert isinstance(model, Tokenizer), name
        assert model.max_tokens >= 1


def test_a_dependency_of_the_wrong_kind_is_refused_before_its_weights_load():
    from vcodec.errors import VcodecError
    from vcodec.tokenizers.prior import TokenPriorConfig

    with pytest.raises(
        VcodecError, match="'checkerboard-medium' is an image codec, not an image tokenizer"
    ):
        zoo.build(TokenPriorConfig(tokenizer="checkerboard-medium", width=16, depth=1, heads=2))


def test_plugins_named_in_the_environment_register_architectures_for_the_command_line(
    tmp_path, monkeypatch
):
    (tmp_path / "my_plugin.py").write_text(
        "from vcodec import registry\n"
        "registry.register(registry.Architecture('plugin-checkerboard', 'image-codec',\n"
        "    'vcodec.codecs.base:CodecConfig', 'vcodec.codecs.hyperprior:CheckerboardCodec'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("VCODEC_PLUGINS", "my_plugin")
    data = tiny_data(tmp_path)
    args = [
        "train",
        str(tmp_path / "run"),
        "--data",
        str(data),
        "--architecture",
        "plugin-checkerboard",
    ]
    try:
        result = CliRunner().invoke(
            main, [*args, "--n", "8", "--m", "8", "--crop", "64", "--batch", "2", "--steps", "1"]
        )
        assert result.exit_code == 0, result.output
    finally:
        registry.unregister("plugin-checkerboard")
    monkeypatch.setenv("VCODEC_PLUGINS", "no_such_plugin")
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 1 and "VCODEC_PLUGINS: cannot import no_such_plugin" in result.output
