"""Training through the CLI on a tiny model and tiny data: it runs, checkpoints, resumes and initialises."""

import numpy as np
import torch
from click.testing import CliRunner

from vcodec.cli.main import main
from vcodec.train.data import prepare_photos
from vcodec.train.loop import TrainConfig, Trainer
from vcodec.codecs import CodecConfig


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
    args = ["train", str(tmp_path / "run"), "--data", str(data), "--n", "8", "--m", "8", "--crop", "64", "--batch", "2"]
    result = CliRunner().invoke(main, [*args, "--steps", "3"])
    assert result.exit_code == 0, result.output
    first = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert first["step"] == 3
    result = CliRunner().invoke(main, [*args, "--steps", "5"])
    assert result.exit_code == 0 and "resuming at step 3" in result.output
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 5


def test_resumed_run_continues_with_the_same_random_stream(tmp_path):
    data = tiny_data(tmp_path)
    config = TrainConfig(CodecConfig("mean-scale-checkerboard", n=8, m=8), data=str(data), steps=4, batch=2, crop=64,
                         checkpoint_every=2)
    straight = Trainer(config, tmp_path / "a")
    straight.run()
    interrupted = Trainer(config, tmp_path / "b")
    interrupted.run(stop_at=2)
    resumed = Trainer(config, tmp_path / "b")
    assert resumed.resume() and resumed.state.step == 2
    resumed.run()
    for key, value in straight.model.state_dict().items():
        assert torch.allclose(value, resumed.model.state_dict()[key], atol=1e-6), key


def test_training_refuses_a_crop_the_model_cannot_take(tmp_path):
    data = tiny_data(tmp_path)
    result = CliRunner().invoke(main, ["train", str(tmp_path / "run"), "--data", str(data), "--crop", "48"])
    assert result.exit_code == 1 and "multiple of 64" in result.output


def test_init_from_a_checkpoint(tmp_path, tiny_zoo):
    from vcodec.zoo import save_checkpoint

    data = tiny_data(tmp_path)
    config = TrainConfig(CodecConfig("mean-scale-checkerboard", n=8, m=8), data=str(data), steps=2, batch=2, crop=64)
    trainer = Trainer(config, tmp_path / "a")
    trainer.run()
    save_checkpoint(trainer.model, tmp_path / "ckpt", {}, "# test\n")
    args = ["train", str(tmp_path / "b"), "--data", str(data), "--n", "8", "--m", "8", "--crop", "64", "--batch", "2",
            "--steps", "1"]
    result = CliRunner().invoke(main, [*args, "--init", str(tmp_path / "ckpt")])
    assert result.exit_code == 0 and "from the weights of" in result.output, result.output
    result = CliRunner().invoke(main, [args[0], str(tmp_path / "c"), *args[2:], "--init", "tiny"])
    assert result.exit_code == 1 and "not the requested" in result.output
