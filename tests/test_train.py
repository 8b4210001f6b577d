"""Training through the CLI on a tiny model and tiny data: it runs, checkpoints, resumes and initialises."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vcodec.cli.main import main
from vcodec.codecs import CodecConfig
from vcodec.train.data import prepare_photos
from vcodec.train.loop import FIT_WINDOWS, TrainConfig, Trainer


def tiny_data(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(80, 96, 3), dtype=np.uint8) for _ in range(3)]
    from PIL import Image

    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"p{i}.png")
        Image.fromarray(image).save(paths[-1])
    return prepare_photos(tmp_path / "photos.npz", paths, factor=1.0)


def test_train_resume_and_init(tmp_path):
    data = tiny_data(tmp_path)
    args = [
        "train",
        str(tmp_path / "run"),
        "--data",
        str(data),
        "--n",
        "8",
        "--m",
        "8",
        "--crop",
        "64",
        "--batch",
        "2",
    ]
    result = CliRunner().invoke(main, [*args, "--steps", "3"])
    assert result.exit_code == 0, result.output
    first = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert first["step"] == 3
    result = CliRunner().invoke(main, [*args, "--steps", "5"])
    assert result.exit_code == 0 and "at step 3 of 5" in result.output, result.output
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 5


def train_straight_and_interrupted(config: TrainConfig, tmp_path) -> Trainer:
    """Train once straight through and once stopped at step 2 and resumed; both must end identical."""
    straight = Trainer(config, tmp_path / "a")
    straight.run()
    interrupted = Trainer(config, tmp_path / "b")
    interrupted.run(stop_at=2)
    resumed = Trainer(config, tmp_path / "b")
    assert resumed.resume() and resumed.state.step == 2
    resumed.run()
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(value, resumed.model.state_dict()[key], atol=1e-6), key
    return straight


def test_resumed_run_continues_with_the_same_random_stream(tmp_path):
    data = tiny_data(tmp_path)
    config = TrainConfig(
        CodecConfig("mean-scale-checkerboard", n=8, m=8),
        data=str(data),
        steps=4,
        batch=2,
        crop=64,
        checkpoint_every=2,
    )
    train_straight_and_interrupted(config, tmp_path)


def test_training_refuses_a_crop_the_model_cannot_take(tmp_path):
    data = tiny_data(tmp_path)
    result = CliRunner().invoke(
        main, ["train", str(tmp_path / "run"), "--data", str(data), "--crop", "48"]
    )
    assert result.exit_code == 1 and "multiple of 64" in result.output


def test_init_from_a_checkpoint(tmp_path, tiny_zoo):
    from vcodec.zoo import save_checkpoint

    data = tiny_data(tmp_path)
    config = TrainConfig(
        CodecConfig("mean-scale-checkerboard", n=8, m=8), data=str(data), steps=2, batch=2, crop=64
    )
    trainer = Trainer(config, tmp_path / "a")
    trainer.run()
    save_checkpoint(trainer.model, tmp_path / "ckpt", {}, "# test\n")
    args = [
        "train",
        str(tmp_path / "b"),
        "--data",
        str(data),
        "--n",
        "8",
        "--m",
        "8",
        "--crop",
        "64",
        "--batch",
        "2",
        "--steps",
        "1",
    ]
    result = CliRunner().invoke(main, [*args, "--init", str(tmp_path / "ckpt")])
    assert result.exit_code == 0 and f"from {tmp_path / 'ckpt'}" in result.output, result.output
    result = CliRunner().invoke(main, [args[0], str(tmp_path / "c"), *args[2:], "--init", "tiny"])
    assert (
        result.exit_code == 1
        and "init tiny does not fit the model [model] describes" in result.output
    ), result.output


def test_a_tokenizer_trains_resumes_and_ships_through_the_same_entry_points(tmp_path, monkeypatch):
    from vcodec import zoo
    from vcodec.tokenizers import LearnedTokenizer, Transformer1DConfig

    data = tiny_data(tmp_path)
    model = Transformer1DConfig(
        image_size=32,
        patch_size=8,
        width=32,
        depth=1,
        heads=2,
        num_tokens=8,
        token_dim=4,
        quantizer="fsq",
        quantizer_options={"levels": (5, 5, 5)},
    )
    config = TrainConfig(model, data=str(data), steps=4, batch=2, crop=32, checkpoint_every=2)
    assert {"loss", "psnr", "tokens", "perplexity", "usage"} == set(
        Trainer(config, tmp_path / "c").step()
    )
    straight = train_straight_and_interrupted(config, tmp_path)

    tokenizer = straight.model.eval()
    tokenizer.prior.fit(tokenizer.as_indices(tokenizer.encode(torch.rand(8, 3, 32, 32))))
    zoo.save_checkpoint(tokenizer, tmp_path / "zoo" / "tok", {"description": "test"}, "# test\n")
    monkeypatch.setenv("VCODEC_CHECKPOINTS", str(tmp_path / "zoo"))
    loaded = zoo.load("tok")
    assert isinstance(loaded, LearnedTokenizer) and zoo.model_infos()[0].kind == "tokenizer"
    x = torch.rand(1, 3, 32, 32)
    data_bytes = loaded.compress(x, num_tokens=5)[0]
    assert torch.equal(loaded.decompress_tokens(data_bytes), loaded.encode(x, num_tokens=5))


def test_the_cli_trains_a_tokenizer(tmp_path):
    data = tiny_data(tmp_path)
    args = [
        "train",
        str(tmp_path / "tok"),
        "--data",
        str(data),
        "--architecture",
        "transformer-1d",
        "--crop",
        "32",
        "--tokens",
        "4",
        "--quantizer",
        "fsq",
        "--codebook-size",
        "256",
        "--batch",
        "2",
        "--steps",
        "2",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (
        torch.load(tmp_path / "tok" / "last.pt", weights_only=False)["config"]["model"][
            "num_tokens"
        ]
        == 4
    )
    result = CliRunner().invoke(main, [*args[:6], "--crop", "36", *args[8:]])
    assert result.exit_code == 1 and "multiple of patch_size" in result.output


def test_export_writes_a_loadable_checkpoint_with_a_card(tmp_path, monkeypatch):
    from vcodec import zoo
    from vcodec.eval import datasets
    from vcodec.kinds import tokenizer as tokenizer_kind
    from vcodec.tokenizers import Transformer1DConfig
    from vcodec.train import export

    rng = np.random.default_rng(0)
    monkeypatch.setattr(
        datasets,
        "development_images",
        lambda: {f"im{i}": rng.integers(0, 256, (48, 40, 3), dtype=np.uint8) for i in range(2)},
    )
    monkeypatch.setattr(tokenizer_kind, "PRIOR_CROPS", 64)
    data = tiny_data(tmp_path)
    runs = {
        "codec": TrainConfig(
            CodecConfig("mean-scale-checkerboard", n=8, m=8),
            data=str(data),
            steps=2,
            batch=2,
            crop=64,
        ),
        "tok": TrainConfig(
            Transformer1DConfig(
                image_size=32,
                patch_size=8,
                width=32,
                depth=1,
                heads=2,
                num_tokens=8,
                token_dim=4,
                quantizer="fsq",
                quantizer_options={"levels": (5, 5, 5)},
            ),
            data=str(data),
            steps=2,
            batch=2,
            crop=32,
        ),
    }
    for name, config in runs.items():
        Trainer(config, tmp_path / name).run()
        dev = export.export_run(tmp_path / name, tmp_path / "zoo" / name, name, None)
        card = (tmp_path / "zoo" / name / "MODEL_CARD.md").read_text()
        assert "2 steps of batch 2" in card and "| 1 |" in card
        loaded = zoo.load(tmp_path / "zoo" / name)
        assert loaded.name == name
        assert len(dev["bpp"]) == (4 if name == "tok" else 6)
    tok = zoo.load(tmp_path / "zoo" / "tok")
    results = json.loads((tmp_path / "zoo" / "tok" / "config.json").read_text())["results"]["dev"]
    assert results["tokens"] == [1, 2, 4, 8] and len(results["bits_per_token"]) == 4
    assert tok.prior._cdf_length.numel() == 8  # the fitted prior's tables shipped with the weights


def smooth_photos(tmp_path, count: int = 3, side: int = 120):
    """Photo-like training images (smooth, so latents move with the content), big enough for motion crops."""
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        small = rng.integers(0, 256, size=(side // 8, side // 8, 3), dtype=np.uint8)
        paths.append(tmp_path / f"s{i}.png")
        Image.fromarray(small).resize((side, side), Image.BICUBIC).save(paths[-1])
    return prepare_photos(tmp_path / "smooth.npz", paths, factor=1.0)


def test_video_codec_trains_on_synthetic_motion_and_ships(tmp_path, tiny_zoo):
    from conftest import TINY

    from vcodec import zoo
    from vcodec.codecs.video import LearnedVideoCodec, VideoCodecConfig
    from vcodec.train import export

    data = smooth_photos(tmp_path)
    config = TrainConfig(
        VideoCodecConfig(**TINY, temporal_width=8),
        data=str(data),
        steps=60,
        batch=4,
        crop=64,
        lr=3e-3,
        log_every=10,
    )
    trainer = Trainer(config, tmp_path / "video")
    intra = zoo.load("tiny")
    trainer.model.intra.load_state_dict(intra.state_dict())
    trainer.model.prior.start_from(intra)
    intra_params = [p.clone() for p in trainer.model.intra.parameters()]
    trainer.run()
    history = trainer.state.history
    assert history[-1]["bpp"] < 0.9 * history[0]["bpp"]  # the temporal prior learns
    assert all(
        torch.equal(a, b) for a, b in zip(intra_params, trainer.model.intra.parameters())
    )  # frozen
    dev = export.export_run(tmp_path / "video", tmp_path / "zoo" / "tiny-v", "tiny-v", None)
    assert len(dev["bpp"]) == 3 and len(dev["intra-bpp"]) == 3
    assert "all-intra bpp" in (tmp_path / "zoo" / "tiny-v" / "MODEL_CARD.md").read_text()
    assert isinstance(zoo.load(tmp_path / "zoo" / "tiny-v"), LearnedVideoCodec)


def test_the_cli_trains_a_video_codec_only_on_an_image_codec(tmp_path, tiny_zoo):
    data = smooth_photos(tmp_path, count=1)
    args = [
        "train",
        str(tmp_path / "v"),
        "--data",
        str(data),
        "--architecture",
        "temporal-checkerboard",
        "--crop",
        "64",
        "--batch",
        "2",
        "--steps",
        "2",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "give --init" in result.output
    result = CliRunner().invoke(main, [*args, "--init", "tiny-video"])
    assert result.exit_code == 1 and "not a mean-scale-checkerboard image codec" in result.output
    result = CliRunner().invoke(main, [*args, "--init", "tiny"])
    assert result.exit_code == 0 and "from tiny" in result.output, result.output
    result = CliRunner().invoke(main, [*args[:-1], "3"])
    assert result.exit_code == 0 and "at step 2 of 3" in result.output, result.output


def test_a_video_run_resumes_with_its_temporal_prior(tmp_path):
    from vcodec.codecs.video import VideoCodecConfig

    config = TrainConfig(
        VideoCodecConfig(n=8, m=8, temporal_width=8),
        data=str(smooth_photos(tmp_path)),
        steps=4,
        batch=2,
        crop=64,
        checkpoint_every=2,
    )
    straight = train_straight_and_interrupted(config, tmp_path)
    assert straight.model.prior.temporal[0].weight.abs().sum() > 0


def test_non_finite_gradients_skip_the_update_and_a_diverged_run_stops(tmp_path, monkeypatch):
    import pytest

    from vcodec.errors import VcodecError
    from vcodec.train import loop

    data = tiny_data(tmp_path)
    config = TrainConfig(
        CodecConfig("mean-scale-checkerboard", n=8, m=8), data=str(data), steps=10, batch=2, crop=64
    )
    trainer = Trainer(config, tmp_path / "nan")
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    batch = trainer.crops.batch
    monkeypatch.setattr(trainer.crops, "batch", lambda size: batch(size) * float("nan"))
    assert trainer.step() is None and trainer.skipped_in_a_row == 1
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    monkeypatch.setattr(loop, "MAX_SKIPPED_STEPS", 3)
    with pytest.raises(VcodecError, match="3 steps in a row"):
        trainer.run()
    monkeypatch.setattr(trainer.crops, "batch", batch)
    assert trainer.step() is not None and trainer.skipped_in_a_row == 0


def signal_during_step(monkeypatch, target, at: int, signum) -> None:
    """Make ``target``'s (a Trainer's, or the class's) step number ``at`` (from 0) receive ``signum`` as it
    starts: that step must still be taken whole before the run stops."""
    import signal

    step = target.step

    def signalled(*args):
        trainer = args[0] if args else target
        if trainer.state.step == at:
            signal.raise_signal(signum)
        return step(*args)

    monkeypatch.setattr(target, "step", signalled)


def test_a_signal_saves_the_last_step_and_the_run_resumes_exactly(tmp_path, monkeypatch):
    import signal

    import pytest

    from vcodec.train.loop import TrainingInterrupted

    data = tiny_data(tmp_path)
    config = TrainConfig(
        CodecConfig("mean-scale-checkerboard", n=8, m=8),
        data=str(data),
        steps=5,
        batch=2,
        crop=64,
        log_every=2,
    )  # checkpoint_every 250: no checkpoint before the end but the interrupt's
    straight = Trainer(config, tmp_path / "a")
    straight.run()
    interrupted = Trainer(config, tmp_path / "b")
    signal_during_step(monkeypatch, interrupted, 2, signal.SIGTERM)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as stop:
        interrupted.run()
    assert (stop.value.step, stop.value.exit_status) == (3, 143)
    assert stop.value.checkpoint == tmp_path / "b" / "last.pt"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    saved = torch.load(tmp_path / "b" / "last.pt", weights_only=False)
    assert (
        saved["step"] == 3 and len(saved["log_window"]) == 1
    )  # step 3's metrics, half a history entry
    resumed = Trainer(config, tmp_path / "b")
    assert resumed.resume() and resumed.state.step == 3
    resumed.run()
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(value, resumed.model.state_dict()[key], atol=1e-6), key
    assert [(h["step"], h["loss"]) for h in resumed.state.history] == [
        (h["step"], h["loss"]) for h in straight.state.history
    ]


def test_ctrl_c_in_the_cli_saves_resumably_and_exits_130(tmp_path, monkeypatch):
    import signal

    data = tiny_data(tmp_path)
    args = [
        "train",
        str(tmp_path / "run"),
        "--data",
        str(data),
        "--n",
        "8",
        "--m",
        "8",
        "--crop",
        "64",
        "--batch",
        "2",
        "--steps",
        "3",
    ]
    with monkeypatch.context() as patch:
        signal_during_step(patch, Trainer, 1, signal.SIGINT)
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 130, result.output
    assert (
        f"interrupted at step 2 of 3: saved {tmp_path / 'run' / 'last.pt'}; run the same command"
        in result.output
    )
    assert "Traceback" not in result.output
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 2
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "at step 2 of 3" in result.output, result.output


def test_a_second_signal_during_the_save_leaves_the_last_checkpoint_whole(tmp_path, monkeypatch):
    import signal

    import pytest

    from vcodec.train.loop import TrainingInterrupted

    data = tiny_data(tmp_path)
    config = TrainConfig(
        CodecConfig("mean-scale-checkerboard", n=8, m=8),
        data=str(data),
        steps=4,
        batch=2,
        crop=64,
        checkpoint_every=2,
    )
    trainer = Trainer(config, tmp_path / "run")
    signal_during_step(monkeypatch, trainer, 2, signal.SIGINT)
    handler, save, saves = signal.getsignal(signal.SIGINT), torch.save, []

    def interrupted_save(obj, path):  # the interrupt's save (the second) gets Ctrl-C again halfway
        saves.append(obj["step"])
        save(obj, path)
        if len(saves) == 2:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt) as stop:
        trainer.run()
    assert not isinstance(stop.value, TrainingInterrupted) and saves == [2, 3]
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 2
    assert not list((tmp_path / "run").glob("*.part*"))  # no temporary file left
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_new_architecture_starts_from_another_ones_frozen_parts(tmp_path):
    """init_modules takes some modules from the init and starts the others fresh; freeze keeps the
    named ones exactly as they started while the rest trains."""
    from vcodec.zoo import save_checkpoint

    data = tiny_data(tmp_path)
    base = Trainer(
        TrainConfig(
            CodecConfig("mean-scale-checkerboard", n=8, m=8),
            data=str(data),
            steps=1,
            batch=2,
            crop=64,
        ),
        tmp_path / "base",
    )
    base.run()
    save_checkpoint(base.model, tmp_path / "base-ckpt", {}, "# test\n")
    shared = '["g_a", "g_s", "h_a", "h_s", "z_gain", "z_model", "y_gain", "y_model"]'
    config = tmp_path / "channel.toml"
    config.write_text(
        '[model]\narchitecture = "mean-scale-checkerboard-channel"\nn = 8\nm = 8\n'
        f'[data]\npath = "{data}"\ncrop = 64\n'
        f'[train]\nsteps = 2\nbatch = 2\nlr = 0.01\ninit = "{tmp_path / "base-ckpt"}"\n'
        f'init_modules = {shared}\nfreeze = ["g_a", "g_s", "h_a", "h_s"]\n'
    )
    result = CliRunner().invoke(main, ["train", str(config), "--run-dir", str(tmp_path / "ch")])
    assert result.exit_code == 0, result.output
    assert "new: channel_correction, channel_order, context, entropy_parameters" in result.output
    trained = torch.load(tmp_path / "ch" / "last.pt", weights_only=False)["model"]
    start = base.model.state_dict()
    for key in ("g_a.0.weight", "g_s.0.weight", "h_s.0.weight"):
        assert torch.equal(trained[key], start[key]), key
    assert not torch.equal(trained["y_gain.log_gain"], start["y_gain.log_gain"])

    config.write_text(config.read_text().replace('"h_s"]', '"h_s", "nothing"]'))
    result = CliRunner().invoke(main, ["train", str(config), "--run-dir", str(tmp_path / "bad")])
    assert result.exit_code == 1 and "freeze names no parameters" in result.output, result.output


def _latent_rate_config(data, **changes) -> TrainConfig:
    settings = dict(
        data=str(data),
        steps=3,
        batch=2,
        crop=64,
        lr=0.01,
        latent_rate=True,
        freeze=("g_a", "g_s", "y_gain"),
    )
    return TrainConfig(
        CodecConfig("mean-scale-checkerboard-channel", n=8, m=8), **{**settings, **changes}
    )


def test_latent_rate_trains_the_entropy_model_alone_on_cached_latents(tmp_path):
    """[train] latent_rate: windows of g_a's latents (crop/16 a side), the rate as the loss; the
    transforms and the y gains stay as they started, the hyper path and the contexts train."""
    trainer = Trainer(_latent_rate_config(tiny_data(tmp_path)), tmp_path / "run")
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    windows = trainer.crops.batch(3)
    assert windows.shape == (3, 8, 4, 4)
    fitted = []
    trainer.model.fit_to_latents = lambda y: fitted.append(y.shape)  # before the first step
    trainer.run()
    assert fitted == [(FIT_WINDOWS, 8, 4, 4)]
    trained = trainer.model.state_dict()
    for key in ("g_a.0.weight", "g_s.0.weight", "y_gain.log_gain"):
        assert torch.equal(trained[key], start[key]), key
    for key in ("h_a.0.weight", "entropy_parameters.0.weight", "channel_correction.0.4.weight"):
        assert not torch.equal(trained[key], start[key]), key
    assert all(np.isfinite(entry["bpp"]) for entry in trainer.state.history)


def test_cached_latents_are_reused_only_for_the_same_photos_and_weights(tmp_path, monkeypatch):
    from vcodec.train.latents import LatentWindows

    config = _latent_rate_config(tiny_data(tmp_path), steps=1)
    first = Trainer(config, tmp_path / "run")
    first.run()
    assert (tmp_path / "run" / "latents.pt").is_file()
    expected = first.crops.maps

    def no_analysis(self):
        raise AssertionError("analysed again")

    monkeypatch.setattr(LatentWindows, "_analyse", no_analysis)
    again = Trainer(config, tmp_path / "run")
    assert again.resume()
    assert all(torch.equal(a, b) for a, b in zip(again.crops.maps[0], expected[0]))
    changed = Trainer(config, tmp_path / "run")
    with torch.no_grad():
        changed.model.g_a[0].weight.add_(0.1)
    with pytest.raises(AssertionError, match="analysed again"):
        changed.crops.batch(1)


def test_the_latent_rate_is_the_rate_term_of_the_pixel_loss(tmp_path):
    """On the latents of an image, the latent-rate loss is exactly the bpp the full RD pass charges
    (same noise draws), so training on cached latents optimises what pixel training would."""
    from vcodec.train.objectives import LatentRate, rd_loss

    trainer = Trainer(_latent_rate_config(tiny_data(tmp_path)), tmp_path / "run")
    model, x = trainer.model, torch.rand(2, 3, 64, 64)
    objective = LatentRate(model, 1e-3, seed=3)
    with torch.no_grad():
        y = model.g_a(x)
        torch.manual_seed(5)
        rate, _ = objective.loss(model, y)
        quality = torch.from_numpy(np.random.default_rng(4).integers(1, 7, 2))  # seed + 1
        torch.manual_seed(5)
        pixels = rd_loss(model, x, quality)
    assert torch.allclose(rate, pixels["bpp"].mean(), rtol=1e-6)


def test_latent_rate_needs_the_latent_fixed(tmp_path):
    with pytest.raises(ValueError, match="y_gain must be in"):
        Trainer(_latent_rate_config(tiny_data(tmp_path), freeze=("g_a",)), tmp_path / "run")


def test_the_moving_average_is_what_ships_and_it_resumes(tmp_path):
    """[train] ema: the average carries over a resume, and export loads it instead of the last step."""
    from vcodec.train.export import load_run

    config = TrainConfig(
        CodecConfig("mean-scale-checkerboard", n=8, m=8),
        data=str(tiny_data(tmp_path)),
        steps=4,
        batch=2,
        crop=64,
        ema=0.5,
    )
    straight = train_straight_and_interrupted(config, tmp_path)
    resumed = torch.load(tmp_path / "b" / "last.pt", weights_only=False)["ema"]
    assert straight.ema.keys() == resumed.keys()
    for key, value in straight.ema.items():
        assert torch.allclose(value, resumed[key], atol=1e-6), key
    name = "g_a.0.weight"
    assert not torch.allclose(straight.ema[name], straight.model.state_dict()[name])
    shipped, _, _ = load_run(tmp_path / "a", "x")
    assert torch.equal(shipped.state_dict()[name], straight.ema[name])
