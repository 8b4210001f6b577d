"""`vcodec train CONFIG`: config files are checked before compute, train every family, resume, export;
`vcodec data prepare` builds caches from folders; the shipped configs all parse."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from test_train import tiny_data

import vcodec
from vcodec.cli.main import main
from vcodec.errors import VcodecError
from vcodec.train.config import config_text, load_config, parse_config
from vcodec.train.data import load_photos

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

TINY_CODEC = """
[model]
architecture = "mean-scale-checkerboard"
n = 8
m = 8
lambdas = [0.0035, 0.013]

[data]
path = "{data}"
crop = 64
crop_scales = [1.0, 1.5]

[train]
steps = {steps}
batch = 2
lr = 0.001
log_every = 1
checkpoint_every = 2
"""


def write_config(tmp_path: Path, text: str, name: str = "tiny.toml", **values) -> Path:
    path = tmp_path / name
    path.write_text(text.format(**values))
    return path


@pytest.mark.parametrize(
    "section, typo, closest",
    [
        ("train", "stpes = 10", "steps"),
        ("model", "lamdbas = [0.01]", "lambdas"),
        ("data", "crop_scale = [1, 2]", "crop_scales"),
    ],
)
def test_a_typo_names_the_key_and_the_closest_valid_one(tmp_path, section, typo, closest):
    text = TINY_CODEC.format(data="x.npz", steps=3).replace(
        f"[{section}]\n", f"[{section}]\n{typo}\n"
    )
    with pytest.raises(
        VcodecError, match=f"unknown key '{typo.split()[0]}' \\(did you mean '{closest}'\\?\\)"
    ):
        parse_config(text)


@pytest.mark.parametrize(
    "change, message",
    [
        (("[train]", "[trian]"), "unknown key 'trian' \\(did you mean 'train'\\?\\)"),
        (
            ('"mean-scale-checkerboard"', '"mean-scale-checkerbord"'),
            "did you mean 'mean-scale-checkerboard'",
        ),
        (("steps = 3", 'steps = "3k"'), "steps must be an integer, got '3k'"),
        (("lr = 0.001", "lr = true"), "lr must be a number"),
        (("n = 8", "n = 8.5"), "n must be an integer"),
        (("[data]\n", "[data]\ncrop = 64\n"), "not valid TOML"),
        (('path = "x.npz"\n', ""), "\\[data\\] needs a path"),
        (("[model]\n", "export = 3\n[model]\n"), "export must be a \\[export\\] section"),
    ],
)
def test_bad_configs_are_refused_with_the_reason(change, message):
    text = TINY_CODEC.format(data="x.npz", steps=3).replace(*change)
    with pytest.raises(VcodecError, match=message):
        parse_config(text)


def test_a_yaml_config_is_refused(tmp_path):
    (tmp_path / "x.yaml").write_text("model: {}\n")
    with pytest.raises(VcodecError, match="TOML"):
        load_config(tmp_path / "x.yaml")


def test_a_config_round_trips_through_its_text():
    recipe = parse_config(TINY_CODEC.format(data="x.npz", steps=3))
    again = parse_config(config_text(recipe))
    assert again.train == recipe.train and recipe.train.crop_scales == (1.0, 1.5)


def test_every_shipped_checkpoint_has_a_config_that_rebuilds_its_architecture():
    shipped = sorted(p.parent for p in (CONFIGS.parent / "checkpoints").glob("*/config.json"))
    assert shipped
    for folder in shipped:
        recipe = load_config(CONFIGS / f"{folder.name}.toml")
        model = json.loads((folder / "config.json").read_text())["model"]
        expected = json.loads(json.dumps(recipe.train.model.to_dict()))
        expected.pop("prior", None), model.pop("prior", None)  # a token prior is chosen at export
        assert expected == model, folder.name
        assert recipe.export.name == folder.name and recipe.train.data == "data/photos.npz"


def test_the_cli_trains_resumes_and_exports_a_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, TINY_CODEC, data=tiny_data(tmp_path), steps=3)
    result = CliRunner().invoke(main, ["train", str(config)])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "tiny"
    assert torch.load(run / "last.pt", weights_only=False)["step"] == 3
    assert (
        load_config(run / "config.toml").train == load_config(config).train
    )  # the run records its recipe
    more = write_config(tmp_path, TINY_CODEC, data=tiny_data(tmp_path), steps=4)
    result = CliRunner().invoke(
        main, ["train", str(more), "--run-dir", str(run), "--export", str(tmp_path / "out")]
    )
    assert result.exit_code == 0 and "at step 3 of 4" in result.output, result.output
    assert (tmp_path / "out" / "model.safetensors").is_file() and "quality 2:" in result.output
    codec = vcodec.load(tmp_path / "out")
    image = torch.rand(1, 3, 40, 56)
    assert codec.decompress(codec.compress(image, quality=2)).shape == image.shape
    assert (
        len(json.loads((run / "history.json").read_text())) == 4
    )  # one entry per step, kept up to date


def test_resuming_with_changed_settings_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tiny_data(tmp_path)
    CliRunner().invoke(main, ["train", str(write_config(tmp_path, TINY_CODEC, data=data, steps=2))])
    changed = write_config(
        tmp_path, TINY_CODEC.replace("lr = 0.001", "lr = 0.002"), data=data, steps=2
    )
    result = CliRunner().invoke(main, ["train", str(changed)])
    assert (
        result.exit_code == 1
        and "lr: 0.001 → 0.002" in result.output
        and "new run folder" in result.output
    )


def test_missing_data_and_foreign_init_fail_before_compute(tmp_path, monkeypatch, tiny_zoo):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["train", str(write_config(tmp_path, TINY_CODEC, data="nope.npz", steps=2))]
    )
    assert result.exit_code == 1 and "vcodec data prepare" in result.output
    text = TINY_CODEC.replace("log_every = 1", 'init = "tiny-video"')
    result = CliRunner().invoke(
        main, ["train", str(write_config(tmp_path, text, data=tiny_data(tmp_path), steps=2))]
    )
    assert (
        result.exit_code == 1
        and "does not fit" in result.output
        and not (tmp_path / "runs" / "tiny" / "last.pt").exists()
    )


def test_a_config_can_start_from_another_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tiny_data(tmp_path)
    write_config(tmp_path, TINY_CODEC, name="base.toml", data=data, steps=2)
    child = write_config(
        tmp_path,
        TINY_CODEC.replace("log_every = 1", 'init = "base.toml"'),
        name="child.toml",
        data=data,
        steps=1,
    )
    result = CliRunner().invoke(
        main, ["train", str(child), "--export", str(tmp_path / "child-out")]
    )
    assert result.exit_code == 0, result.output
    assert "- Started from: `base.toml`." in (tmp_path / "child-out" / "MODEL_CARD.md").read_text()
    assert (
        torch.load(tmp_path / "runs" / "base" / "last.pt", weights_only=False)["step"] == 2
    )  # trained first
    assert torch.load(tmp_path / "runs" / "child" / "last.pt", weights_only=False)["step"] == 1


def test_the_flag_form_refuses_config_options_with_a_config(tmp_path):
    config = write_config(tmp_path, TINY_CODEC, data="x.npz", steps=2)
    result = CliRunner().invoke(main, ["train", str(config), "--lr", "0.1"])
    assert result.exit_code == 1 and "--lr belongs in the config file" in result.output


def test_data_prepare_takes_a_folder_of_images_and_videos(tmp_path):
    from vcodec.io.video import VideoWriter

    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)).save(
        folder / "sub" / "tiny.png"
    )
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    from fractions import Fraction

    with VideoWriter(folder / "sub" / "clip.mkv", Fraction(25), 96, 80) as writer:
        for _ in range(5):
            writer.write(rng.integers(0, 256, (80, 96, 3), dtype=np.uint8))
    out = tmp_path / "cache.npz"
    result = CliRunner().invoke(
        main,
        [
            "data",
            "prepare",
            str(out),
            "--from",
            str(folder),
            "--downscale",
            "1",
            "--frame-step",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "broken.jpg: not a readable image" in result.output
        and "1 image(s) smaller than 64²" in result.output
    )
    photos = load_photos(out)
    assert [p.shape for p in photos] == [(100, 120, 3), (80, 96, 3), (80, 96, 3), (80, 96, 3)]
    record = json.loads(out.with_suffix(".json").read_text())
    assert [r["file"] for r in record["photos"]] == [
        "a.png",
        "sub/clip.mkv#0",
        "sub/clip.mkv#2",
        "sub/clip.mkv#4",
    ]
    assert all(r["source"].startswith("user-supplied") for r in record["photos"])
    result = CliRunner().invoke(main, ["data", "prepare", str(out), "--from", str(folder)])
    assert result.exit_code == 1 and "exists" in result.output


def test_data_prepare_refuses_a_folder_with_nothing_usable(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    result = CliRunner().invoke(
        main, ["data", "prepare", str(tmp_path / "c.npz"), "--from", str(tmp_path / "empty")]
    )
    assert result.exit_code == 1 and "no usable training images" in result.output
    assert not (tmp_path / "c.npz").exists()


FAMILIES = {
    "image-codec": (
        'architecture = "mean-scale-checkerboard"\nn = 8\nm = 8\nlambdas = [0.013]',
        64,
        "lr = 0.003",
    ),
    "tokenizer-1d": (
        'architecture = "transformer-1d"\nimage_size = 32\npatch_size = 8\nwidth = 32\ndepth = 1\n'
        'heads = 2\nnum_tokens = 8\ntoken_dim = 3\nquantizer = "fsq"\n'
        'quantizer_options = { levels = [5, 5, 5] }\nnested_dropout = "none"',
        32,
        "lr = 0.003",
    ),
    "tokenizer-2d": (
        'architecture = "conv-2d"\nimage_size = 32\nfactor = 4\nchannels = 8\ntoken_dim = 3\n'
        'quantizer = "fsq"\nquantizer_options = { levels = [5, 5, 5] }',
        32,
        "lr = 0.003",
    ),
    "video-codec": (
        'architecture = "temporal-checkerboard"\nn = 16\nm = 24\nlambdas = [0.0035, 0.013, 0.0483]\n'
        "temporal_width = 8",
        64,
        'lr = 0.003\ninit = "tiny"',
    ),
    "video-codec-motion": (
        'architecture = "temporal-checkerboard"\nn = 16\nm = 24\nlambdas = [0.0035, 0.013, 0.0483]\n'
        "temporal_width = 8\nmotion_search = 4\nmotion_width = 8",
        64,
        'lr = 0.003\ninit = "tiny-video"',
    ),
    "video-tokenizer": (
        'architecture = "causal-3d"\nchannels = 8\nlevels = [5, 5, 5]',
        32,
        "lr = 0.01",
    ),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_few_cpu_steps_of_each_family_lower_its_loss(tmp_path, monkeypatch, tiny_zoo, family):
    from test_train import smooth_photos

    monkeypatch.chdir(tmp_path)
    model, crop, train = FAMILIES[family]
    frames = "frames = 5" if family == "video-tokenizer" else ""
    text = (
        f'[model]\n{model}\n\n[data]\npath = "{smooth_photos(tmp_path, count=1)}"\ncrop = {crop}\n{frames}\n\n'
        f"[train]\nsteps = 40\nbatch = 2\nlog_every = 5\nseed = 1\n{train}\n"
    )
    (tmp_path / f"{family}.toml").write_text(text)
    result = CliRunner().invoke(main, ["train", str(tmp_path / f"{family}.toml")])
    assert result.exit_code == 0, result.output
    history = torch.load(tmp_path / "runs" / family / "last.pt", weights_only=False)["history"]
    assert history[-1]["loss"] < 0.9 * history[0]["loss"], [h["loss"] for h in history]


def test_periodic_evaluation_logs_development_metrics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(
        tmp_path,
        TINY_CODEC.replace("log_every = 1", "dev_every = 2"),
        data=tiny_data(tmp_path),
        steps=2,
    )
    result = CliRunner().invoke(main, ["train", str(config)])
    assert result.exit_code == 0 and "step 2: development images q1" in result.output, result.output
    dev = [
        h["dev"]
        for h in torch.load(tmp_path / "runs" / "tiny" / "last.pt", weights_only=False)["history"]
        if "dev" in h
    ]
    assert (
        len(dev) == 1
        and len(dev[0]["bpp"]) == len(dev[0]["psnr"]) == 2
        and all(b > 0 for b in dev[0]["bpp"])
    )


def test_loss_settings_are_checked():
    text = TINY_CODEC.format(data="x.npz", steps=3)
    with pytest.raises(VcodecError, match="distortion must be one of mse, ms-ssim"):
        parse_config(text + '\n[loss]\ndistortion = "psnr"\n')
    with pytest.raises(VcodecError, match="did you mean 'adversarial'"):
        parse_config(text + "\n[loss]\nadversarail = 0.1\n")
    assert (
        parse_config(text + '\n[loss]\ndistortion = "ms-ssim"\n').train.loss.distortion == "ms-ssim"
    )


def test_an_ms_ssim_codec_and_an_adversarial_tokenizer_train_and_resume_exactly(tmp_path):
    from dataclasses import replace

    from test_train import train_straight_and_interrupted

    from vcodec.tokenizers import Conv2DConfig
    from vcodec.train.loop import TrainConfig, Trainer
    from vcodec.train.objectives import MS_SSIM_LAMBDA_SCALE, LossConfig, ms_ssim_loss, rd_loss

    data = tiny_data(tmp_path)
    codec = parse_config(
        TINY_CODEC.format(data=data, steps=4) + '\n[loss]\ndistortion = "ms-ssim"\n'
    ).train
    model = train_straight_and_interrupted(
        codec, tmp_path / "codec"
    ).model.eval()  # eval: no sampled noise
    x, quality = torch.rand(2, 3, 64, 64), torch.tensor([1, 2])
    out = rd_loss(model, x, quality, "ms-ssim")
    lam = torch.tensor(codec.model.lambdas)[quality - 1]
    distortion = ms_ssim_loss(model(x, quality)["x_hat"], x)
    assert out["loss"].item() == pytest.approx(
        (lam * MS_SSIM_LAMBDA_SCALE * distortion + out["bpp"]).mean().item()
    )
    tokenizer = TrainConfig(
        Conv2DConfig(
            image_size=64,
            factor=8,
            channels=8,
            token_dim=3,
            quantizer="fsq",
            quantizer_options={"levels": (5, 5, 5)},
        ),
        data=str(data),
        steps=4,
        batch=2,
        crop=64,
        checkpoint_every=2,
        log_every=1,
        loss=LossConfig(ms_ssim=0.5, adversarial=0.1, adversarial_start=1),
    )
    trainer = train_straight_and_interrupted(
        tokenizer, tmp_path / "tok"
    )  # discriminator state resumes too
    history = trainer.state.history
    assert "g_loss" not in history[0] and {"g_loss", "d_loss", "ms_ssim"} <= set(history[-1])
    assert "discriminator" in torch.load(tmp_path / "tok" / "a" / "last.pt", weights_only=False)
    with pytest.raises(ValueError, match="MS-SSIM loss needs crops of at least 33 px"):
        Trainer(replace(codec, crop=32, loss=LossConfig(distortion="ms-ssim")), tmp_path / "small")
