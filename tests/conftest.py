"""Shared fixtures: tiny codecs (untrained but with real CDF tables) saved as checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vcodec.testing.tiny import TINY, tiny_codec, tiny_video_codec  # noqa: F401 (tests import them from here)
from vcodec.zoo import save_checkpoint


@pytest.fixture(scope="session")
def checkpoint_root(tmp_path_factory) -> Path:
    """A checkpoints folder with two tiny image codecs of one architecture but different weights, and a
    tiny video codec."""
    root = tmp_path_factory.mktemp("checkpoints")
    for name, seed in (("tiny", 0), ("tiny-other", 1)):
        save_checkpoint(
            tiny_codec(name=name, seed=seed), root / name, {"description": "test model"}, "# test\n"
        )
    save_checkpoint(
        tiny_video_codec(), root / "tiny-video", {"description": "test video model"}, "# test\n"
    )
    return root


@pytest.fixture()
def tiny_zoo(checkpoint_root, monkeypatch) -> Path:
    monkeypatch.setenv("VCODEC_CHECKPOINTS", str(checkpoint_root))
    return checkpoint_root


@pytest.fixture()
def image() -> torch.Tensor:
    """A smooth 1×3×40×56 test image with some texture (odd-ish size to exercise padding)."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 56), indexing="ij")
    base = torch.stack((xx, yy, 0.5 * (xx + yy)))
    return (0.8 * base + 0.2 * torch.rand(3, 40, 56, generator=g)).unsqueeze(0).clamp(0, 1)


def pytest_configure(config):
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    os.umask(0o022)
