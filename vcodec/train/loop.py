"""A minimal, resumable rate–distortion training loop for the learned image codecs.

Each sample in a batch draws its own quality level, so one variable-rate model learns every rate
point at once. The loss is CompressAI's: λ·255²·MSE + bpp, plus the quantile (aux) loss of the
factorized models under a separate optimizer. Checkpoints are written atomically and hold the
optimizers, the step and the RNG states, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vcodec.codecs import CodecConfig, LearnedImageCodec, build_codec
from vcodec.train.data import RandomCrops


@dataclass
class TrainConfig:
    """Everything a run needs; stored in its checkpoint so a resume can check it is the same run."""

    model: CodecConfig
    data: str  # an .npz of training photos (vcodec.train.data.prepare_photos)
    steps: int = 30_000
    batch: int = 8
    crop: int = 128
    lr: float = 5e-4
    final_lr: float = 2e-5  # cosine decay towards this over ``steps``
    aux_lr: float = 1e-3
    clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 250
    threads: int = 0  # 0: leave torch's default

    def to_dict(self) -> dict:
        out = asdict(self)
        out["model"] = self.model.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        data["model"] = CodecConfig.from_dict(data["model"])
        return cls(**data)


@dataclass
class RunState:
    step: int = 0
    history: list = field(default_factory=list)


def rd_loss(model: LearnedImageCodec, x: torch.Tensor, quality: torch.Tensor) -> dict[str, torch.Tensor]:
    """λ·255²·MSE + bpp per sample (λ of each sample's quality), averaged over the batch."""
    out = model(x, quality)
    pixels = x.shape[-2] * x.shape[-1]
    bits = sum(-torch.log2(lik).flatten(1).sum(1) for lik in out["likelihoods"].values())
    bpp = bits / pixels
    mse = (out["x_hat"] - x).pow(2).flatten(1).mean(1)
    lam = torch.tensor(model.config.lambdas, device=x.device)[quality - 1]
    loss = (lam * 255**2 * mse + bpp).mean()
    return {"loss": loss, "bpp": bpp.detach(), "mse": mse.detach()}


def _lr_at(config: TrainConfig, step: int) -> float:
    warmup = min(500, config.steps // 10)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, config.steps - warmup))
    return config.final_lr + 0.5 * (config.lr - config.final_lr) * (1 + math.cos(math.pi * progress))


def _split_parameters(model: LearnedImageCodec) -> tuple[list, list]:
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    return main, aux


DERIVED_BUFFERS = ("frozen_gain", "frozen_inverse_gain")  # set by update(), absent from early runs


def load_training_state(model: LearnedImageCodec, state: dict) -> None:
    """Load a training checkpoint's weights, also from runs written by earlier versions of the code.

    Early runs stored CompressAI's checkerboard mask as ``context.mask`` and had no frozen gains
    (those are derived by ``update()`` before coding); anything else missing is an error.
    """
    state = {k: v for k, v in state.items() if k != "context.mask"}
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad = [k for k in missing if k.rsplit(".", 1)[-1] not in DERIVED_BUFFERS] + list(unexpected)
    if bad:
        raise ValueError(f"checkpoint does not fit the model: {', '.join(bad[:5])}")


def save_atomic(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".part")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Trainer:
    """Owns a model, its optimizers and the run folder; ``run()`` trains until ``config.steps``."""

    def __init__(self, config: TrainConfig, run_dir: Path, name: str = "codec"):
        self.config, self.run_dir = config, Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.model = build_codec(config.model, name)
        if config.crop % self.model.alignment:
            raise ValueError(f"crop must be a multiple of {self.model.alignment} for {config.model.architecture}")
        main, aux = _split_parameters(self.model)
        self.optimizer = torch.optim.Adam(main, lr=config.lr)
        self.aux_optimizer = torch.optim.Adam(aux, lr=config.aux_lr)
        self.crops = RandomCrops.from_npz(Path(config.data), config.crop, config.seed)
        self.state = RunState()
        self.quality_rng = np.random.default_rng(config.seed + 1)

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "last.pt"

    def save(self) -> None:
        save_atomic({
            "config": self.config.to_dict(), "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "aux_optimizer": self.aux_optimizer.state_dict(),
            "step": self.state.step, "history": self.state.history,
            "torch_rng": torch.get_rng_state(), "crop_rng": self.crops.rng.bit_generator.state,
            "quality_rng": self.quality_rng.bit_generator.state,
        }, self.checkpoint_path)

    def resume(self) -> bool:
        """Load ``last.pt`` if there is one; the model architecture must match."""
        if not self.checkpoint_path.exists():
            return False
        ckpt = torch.load(self.checkpoint_path, map_location="cpu", weights_only=False)
        if ckpt["config"]["model"] != self.config.model.to_dict():
            raise ValueError(f"{self.checkpoint_path} holds a different architecture; use a new run folder")
        load_training_state(self.model, ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.aux_optimizer.load_state_dict(ckpt["aux_optimizer"])
        self.state = RunState(ckpt["step"], ckpt["history"])
        torch.set_rng_state(ckpt["torch_rng"])
        self.crops.rng.bit_generator.state = ckpt["crop_rng"]
        self.quality_rng.bit_generator.state = ckpt["quality_rng"]
        return True

    def step(self) -> dict[str, float]:
        config, model = self.config, self.model
        x = self.crops.batch(config.batch)
        quality = torch.from_numpy(self.quality_rng.integers(1, model.num_qualities + 1, config.batch))
        for group in self.optimizer.param_groups:
            group["lr"] = _lr_at(config, self.state.step)
        out = rd_loss(model, x, quality)
        self.optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        self.optimizer.step()
        aux = model.aux_loss()
        self.aux_optimizer.zero_grad(set_to_none=True)
        aux.backward()
        self.aux_optimizer.step()
        psnr = (-10 * torch.log10(out["mse"].clamp_min(1e-10))).mean()
        return {"loss": out["loss"].item(), "bpp": out["bpp"].mean().item(), "psnr": psnr.item(), "aux": aux.item()}

    def run(self, log_every: int = 50, stop_at: int | None = None) -> None:
        """Train until ``config.steps`` (or until step ``stop_at``, leaving the schedule unchanged)."""
        stop_at = self.config.steps if stop_at is None else min(stop_at, self.config.steps)
        self.model.train()
        window: list[dict[str, float]] = []
        bar = tqdm(total=self.config.steps, initial=self.state.step, desc="train", dynamic_ncols=True)
        started = time.time()
        while self.state.step < stop_at:
            window.append(self.step())
            self.state.step += 1
            bar.update(1)
            if len(window) == log_every:
                mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
                mean.update(step=self.state.step, seconds=round(time.time() - started, 1))
                self.state.history.append(mean)
                bar.set_postfix(loss=f"{mean['loss']:.3f}", bpp=f"{mean['bpp']:.3f}", psnr=f"{mean['psnr']:.2f}")
                window = []
            if self.state.step % self.config.checkpoint_every == 0 or self.state.step == stop_at:
                self.save()
        bar.close()
        (self.run_dir / "history.json").write_text(json.dumps(self.state.history))
