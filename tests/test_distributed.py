"""Data-parallel training: `torchrun --nproc_per_node 2` (gloo, CPU) takes the steps of a 1-process run
with the same global batch."""

import os
import subprocess
import sys

import pytest
import torch
from test_train import tiny_data
from test_train_config import TINY_CODEC, write_config

# FSQ and a convolutional tokenizer: no sampling anywhere, so the two runs must agree to rounding.
DETERMINISTIC = """
[model]
architecture = "conv-2d"
image_size = 32
factor = 4
channels = 8
token_dim = 3
quantizer = "fsq"
quantizer_options = {{ levels = [5, 5, 5] }}

[data]
path = "{data}"
crop = 32

[train]
steps = {steps}
batch = 4
lr = 0.003
log_every = 1
"""

CODEC = TINY_CODEC.replace("batch = 2", "batch = 4")


def train(config, run, processes: int) -> list[dict]:
    """Losses per step of `vcodec train CONFIG --run RUN` on ``processes`` CPU processes."""
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
    ]
    command = [
        *launcher,
        "-m",
        "vcodec",
        "train",
        str(config),
        "--run-dir",
        str(run),
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env
    )  # bounded by its steps, not a clock
    assert result.returncode == 0, result.stderr[-2000:]
    return torch.load(run / "last.pt", weights_only=False)


@pytest.mark.parametrize(
    "recipe, tolerance", [(DETERMINISTIC, 1e-6), (CODEC, 1e-3)], ids=["tokenizer", "codec"]
)
def test_two_processes_take_the_steps_of_one(tmp_path, recipe, tolerance):
    """The codec quantizes its hyperlatent with uniform noise during training, which the two processes
    draw for their halves of the batch differently; the tokenizer draws nothing."""
    config = write_config(tmp_path, recipe, data=tiny_data(tmp_path), steps=3)
    one, two = train(config, tmp_path / "one", 1), train(config, tmp_path / "two", 2)
    losses = [[h["loss"] for h in run["history"]] for run in (one, two)]
    assert len(losses[0]) == len(losses[1]) == 3
    assert losses[1] == pytest.approx(losses[0], rel=tolerance)
    assert losses[0][-1] != losses[0][0]  # it trained
    if tolerance < 1e-5:  # the same steps, so the same weights
        for key, value in one["model"].items():
            assert torch.allclose(value, two["model"][key], atol=1e-5), key


def test_a_batch_that_does_not_split_is_refused(tmp_path):
    config = write_config(
        tmp_path, DETERMINISTIC.replace("batch = 4", "batch = 3"), data=tiny_data(tmp_path), steps=1
    )
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    result = subprocess.run(
        [
            *launcher,
            "-m",
            "vcodec",
            "train",
            str(config),
            "--run-dir",
            str(tmp_path / "r"),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert (
        result.returncode != 0
        and "must split evenly over 2 processes" in result.stdout + result.stderr
    )
