"""A minimal, resumable training loop for the learned image and video codecs and the tokenizers.

The objective depends on the model (:mod:`vcodec.train.objectives`): rate–distortion with one quality
per sample for variable-rate codecs, the rate of a predicted frame for video codecs, reconstruction (through a random token prefix for 1D tokenizers) for tokenizers.
Checkpoints are written atomically and hold the optimizers, the step and the RNG states, so a killed
run resumes where it stopped. Ctrl-C (SIGINT) or SIGTERM stops a run between two steps and saves it there
(:class:`TrainingInterrupted`); a second one stops it at once, leaving the last checkpoint as it was.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from vcodec import registry
from vcodec.errors import VcodecError
from vcodec.io.images import atomic_path, write_atomic
from vcodec.registry import ModelConfig, config_from_dict
from vcodec.train import distributed
from vcodec.train.latents import LatentWindows, check_latent_rate
from vcodec.train.objectives import MS_SSIM_MIN_SIDE, LatentRate, LossConfig
from vcodec.weights import TABLE_BUFFERS


@dataclass
class TrainConfig:
    """Everything a run needs; stored in its checkpoint so a resume can check it is the same run."""

    model: ModelConfig
    data: str  # an .npz of training photos (vcodec.train.data.prepare_photos)
    steps: int = 30_000
    batch: int = 8
    crop: int = 128
    crop_scales: tuple[float, float] = (
        1.0,
        1.0,
    )  # image models: crops cut s× larger, then shrunk (s in range)
    frames: int = 9  # frames per training clip of a video tokenizer (1 + k·its temporal factor)
    deform: float = (
        0.0  # video models: share of synthetic clips that also turn and change brightness
    )
    change: float = (
        0.0  # video models: share of moving objects that change what they show or enter the shot
    )
    lr: float = 5e-4
    final_lr: float = 2e-5  # cosine decay towards this over ``steps``
    aux_lr: float = 1e-3
    clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 250
    threads: int = 0  # 0: leave torch's default
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", …
    amp: bool = False  # bf16 autocast of the forward pass (on CUDA; meant for tokenizers)
    compile: bool = False  # torch.compile the model's training forward pass
    log_every: int = 50  # steps averaged into one history entry
    # modules (name prefixes, e.g. "g_a") whose parameters stay as they start (a frozen, already
    # trained part); a factorized model's quantiles still train, as they only shape its tables
    freeze: tuple[str, ...] = ()
    # modules taken from [train] init, the others starting fresh (empty: the whole model, as the
    # model's kind starts from an init); lets a new architecture start from another's parts
    init_modules: tuple[str, ...] = ()
    dev_every: int = 0  # evaluate on the development images every this many steps (0: never)
    # image codecs: train the entropy model alone, on g_a's latents of the photos cached once
    # (g_a and y_gain frozen, so the distortion is fixed and the rate is the loss; crop: window side)
    latent_rate: bool = False
    # decay of an exponential moving average of the trained weights (0: none); when set, the average
    # is what development metrics measure, what export ships and what a chained config starts from
    ema: float = 0.0
    loss: LossConfig = field(default_factory=LossConfig)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["model"] = self.model.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        data["model"] = config_from_dict(data["model"])
        data["crop_scales"] = tuple(data.get("crop_scales", (1.0, 1.0)))
        for key in ("freeze", "init_modules"):
            data[key] = tuple(data.get(key, ()))
        data["loss"] = LossConfig(**data.get("loss", {}))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class RunState:
    step: int = 0
    history: list = field(default_factory=list)
    elapsed: float = 0.0  # seconds of training over every session of the run


def _lr_at(config: TrainConfig, step: int) -> float:
    warmup = min(500, config.steps // 10)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, config.steps - warmup))
    return config.final_lr + 0.5 * (config.lr - config.final_lr) * (
        1 + math.cos(math.pi * progress)
    )


FIT_WINDOWS = 256  # latent windows a model's fit_to_latents sees before the first step
MAX_SKIPPED_STEPS = 20  # consecutive steps with non-finite gradients after which a run stops
DERIVED_BUFFERS = ("frozen_gain", "frozen_inverse_gain")  # set by update() before coding


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def freeze_modules(model: nn.Module, prefixes: tuple[str, ...]) -> None:
    """Stop the parameters under ``prefixes`` from training (quantiles excepted, see ``freeze``);
    ValueError for a prefix that names no parameter."""
    names = [n for n, _ in model.named_parameters()]
    unknown = [p for p in prefixes if not any(_under(n, (p,)) for n in names)]
    if unknown:
        raise ValueError(f"freeze names no parameters of the model: {', '.join(unknown)}")
    for name, parameter in model.named_parameters():
        if _under(name, prefixes) and not name.endswith(".quantiles"):
            parameter.requires_grad_(False)


def load_modules(model: nn.Module, state: dict, prefixes: tuple[str, ...]) -> list[str]:
    """Copy the entries of ``state`` under ``prefixes`` into ``model`` (names and shapes must match;
    CDF tables are resized); returns the model's top-level modules that start fresh."""
    chosen = {k: v for k, v in state.items() if _under(k, prefixes)}
    missing = [p for p in prefixes if not any(_under(k, (p,)) for k in chosen)]
    if missing:
        raise ValueError(f"the init has no {', '.join(missing)}")
    own = model.state_dict()
    wrong = [k for k, v in chosen.items() if k not in own or own[k].shape != v.shape]
    wrong = [k for k in wrong if k.rsplit(".", 1)[-1] not in TABLE_BUFFERS]
    if wrong:
        raise ValueError(f"the init's {', '.join(wrong[:3])} do not fit this model")
    model.load_state_dict(chosen, strict=False)
    return sorted({k.split(".")[0] for k in own if not _under(k, prefixes)})


def load_training_state(model: nn.Module, state: dict) -> None:
    """Load a training checkpoint's weights. Buffers that ``update()`` derives may be absent, and so may
    the weights the model's kind fits after training (a tokenizer's token prior, which may also be of
    another kind of prior); anything else missing is an error."""
    fitted_later = registry.kind_of(model).fitted_at_export or "\0"
    state = {k: v for k, v in state.items() if not k.startswith(fitted_later)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad = [
        k
        for k in missing
        if k.rsplit(".", 1)[-1] not in DERIVED_BUFFERS and not k.startswith(fitted_later)
    ]
    bad += list(unexpected)
    if bad:
        raise ValueError(f"checkpoint does not fit the model: {', '.join(bad[:5])}")


def weights_to_ship(ckpt: dict) -> dict:
    """A training checkpoint's weights as shipped: the moving average of the trained ones where the
    run kept one (``[train] ema``), the rest as trained."""
    return {**ckpt["model"], **(ckpt.get("ema") or {})}


def saved_config(run_dir: Path) -> TrainConfig | None:
    """The config a run folder's ``last.pt`` was trained with (None when the run has not started)."""
    path = Path(run_dir) / "last.pt"
    if not path.is_file():
        return None
    return TrainConfig.from_dict(torch.load(path, map_location="cpu", weights_only=False)["config"])


def wall_seconds(ckpt: dict) -> float:
    """Training seconds a checkpoint records."""
    return float(ckpt.get("elapsed", 0.0))


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` to a temporary file renamed over ``path``: an interrupted save (a second Ctrl-C)
    leaves ``path`` as it was, and no temporary file."""
    with atomic_path(path, force=True) as tmp:
        torch.save(obj, tmp)


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM between two steps, after saving ``checkpoint`` at ``step``.

    Every process of a distributed run raises it at the same step; only the main one saved, so the
    others' ``checkpoint`` is None. A KeyboardInterrupt, so callers that stop on Ctrl-C still do.
    """

    def __init__(self, signum: int, step: int, steps: int, checkpoint: Path | None):
        self.signum, self.step, self.steps, self.checkpoint = signum, step, steps, checkpoint
        super().__init__(
            f"{signal.Signals(signum).name} at step {step} of {steps}"
            + (f", saved {checkpoint}" if checkpoint else "")
        )

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _normalised(model_config) -> str:
    """A model config as JSON with defaults filled in: runs saved before a field existed still match."""
    return json.dumps(model_config.to_dict(), sort_keys=True)


RESUMABLE_CHANGES = (
    "steps",
    "data",
    "checkpoint_every",
    "threads",
    "device",
    "amp",
    "compile",
    "log_every",
    "dev_every",
)  # what a resumed run may change; the rest would make it another run


def changed_settings(saved: "TrainConfig", new: "TrainConfig") -> list[str]:
    """The settings a resume would change that make it a different run (``name: old → new``)."""
    if _normalised(saved.model) != _normalised(new.model):
        return [f"model: {saved.model} → {new.model}"]
    old, now = saved.to_dict(), new.to_dict()
    return [
        f"{k}: {old[k]!r} → {now[k]!r}"
        for k in now
        if k != "model" and k not in RESUMABLE_CHANGES and _plain(old.get(k)) != _plain(now[k])
    ]


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _check_crop(config: TrainConfig, model) -> None:
    if config.loss.uses_ms_ssim and config.crop < MS_SSIM_MIN_SIDE:
        raise ValueError(
            f"an MS-SSIM loss needs crops of at least {MS_SSIM_MIN_SIDE} px, got {config.crop}"
        )
    registry.kind_of(config.model).check_training(config, model)


class Trainer:
    """Owns a model, its optimizers and the run folder; ``run()`` trains until ``config.steps``.

    Under ``torchrun`` each process trains on its slice of every global batch (``config.batch``) and
    only the first writes checkpoints and logs (:mod:`vcodec.train.distributed`).
    """

    def __init__(self, config: TrainConfig, run_dir: Path, name: str = "codec"):
        self.config, self.run_dir = config, Path(run_dir)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        if torch.device(config.device).type == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for, but torch sees no CUDA device here")
        self.shard, self.device = distributed.start(config.device)
        if config.batch % self.shard.world:
            raise ValueError(
                f"the batch ({config.batch}) must split evenly over {self.shard.world} processes"
            )
        if self.shard.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        from vcodec import zoo

        kind = registry.kind_of(config.model)
        self.model = zoo.build(config.model, name).to(self.device)
        _check_crop(config, self.model)
        objective = LatentRate if config.latent_rate else kind.objective(config.model)
        self.objective = objective(self.model, config.aux_lr, config.seed, self.shard, config.loss)
        freeze_modules(self.model, config.freeze)
        trained = [p for p in objective.main_parameters(self.model) if p.requires_grad]
        self.optimizer = torch.optim.Adam(trained, lr=config.lr)
        self.crops = (
            self._latent_windows() if config.latent_rate else kind.training_data(config, self.model)
        )
        self.state = RunState()
        self.skipped_in_a_row = (
            0  # steps whose gradients were NaN or infinite, since the last good one
        )
        self.window: list[
            dict[str, float]
        ] = []  # metrics of the steps since the last history entry
        self._forward: nn.Module | None = (
            None  # the model as the training step calls it (DDP, compiled)
        )
        self._signal: int | None = None  # the SIGINT or SIGTERM that asked the run to stop
        self.ema: dict[str, torch.Tensor] | None = None  # averaged trained weights (config.ema)

    def _latent_windows(self) -> LatentWindows:
        config = self.config
        if not hasattr(self.model, "forward_latent") or self.shard.world > 1:
            raise ValueError("latent_rate trains an image codec's entropy model, in one process")
        check_latent_rate(config.freeze)
        cache = self.run_dir / "latents.pt" if self.shard.is_main else None
        return LatentWindows.from_config(config, self.model.g_a, self.device, cache)

    def _fit_to_latents(self) -> None:
        """Before its first step on cached latents, a model with ``fit_to_latents`` fits what it
        derives from them (a channel order) to a sample of windows drawn with their own seed."""
        fit = getattr(self.model, "fit_to_latents", None)
        if fit is not None and self.config.latent_rate:
            fit(self.crops.sample(FIT_WINDOWS, self.config.seed + 1).to(self.device))

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "last.pt"

    def save(self) -> None:
        if not self.shard.is_main:
            return
        save_atomic(
            {
                "config": self.config.to_dict(),
                "model": self.model.state_dict(),
                "ema": self.ema,
                "optimizer": self.optimizer.state_dict(),
                "step": self.state.step,
                "history": self.state.history,
                "elapsed": self.state.elapsed,
                "torch_rng": torch.get_rng_state(),
                "crop_rng": self.crops.rng.bit_generator.state,
                "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
                "log_window": self.window,
                "skipped_in_a_row": self.skipped_in_a_row,
                **self.objective.state_dict(),
            },
            self.checkpoint_path,
        )
        history = json.dumps(self.state.history)  # history.json: readable while the run goes on
        write_atomic(self.run_dir / "history.json", history.encode(), force=True)

    def resume(self) -> bool:
        """Load ``last.pt`` if there is one; the run's settings must be the same (``steps`` may grow)."""
        if not self.checkpoint_path.exists():
            return False
        ckpt = torch.load(
            self.checkpoint_path, map_location="cpu", weights_only=False
        )  # then copied to the device
        changes = changed_settings(TrainConfig.from_dict(ckpt["config"]), self.config)
        if changes:
            raise ValueError(
                f"{self.checkpoint_path} was trained with other settings ({'; '.join(changes)}); "
                f"use a new run folder"
            )
        load_training_state(self.model, ckpt["model"])
        ema = ckpt.get("ema")
        self.ema = None if ema is None else {k: v.to(self.device) for k, v in ema.items()}
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.objective.load_state_dict(ckpt)
        self.state = RunState(ckpt["step"], ckpt["history"], wall_seconds(ckpt))
        torch.set_rng_state(ckpt["torch_rng"])
        if self.device.type == "cuda" and ckpt.get("cuda_rng"):
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        self.crops.rng.bit_generator.state = ckpt["crop_rng"]
        self.window = list(
            ckpt.get("log_window", [])
        )  # saved between two history entries (an interrupt)
        self.skipped_in_a_row = ckpt.get("skipped_in_a_row", 0)
        return True

    def _training_forward(self) -> nn.Module:
        if self._forward is None:
            forward = distributed.replicate(self.model, self.shard, self.device)
            self._forward = torch.compile(forward) if self.config.compile else forward
        return self._forward

    def step(self) -> dict[str, float] | None:
        """One optimizer step; None when it was skipped because the gradients were not finite."""
        config, model = self.config, self.model
        x = self.shard.part(self.crops.batch(config.batch)).to(self.device, non_blocking=True)
        for group in self.optimizer.param_groups:
            group["lr"] = _lr_at(config, self.state.step)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=config.amp):
            loss, metrics = self.objective.loss(self._training_forward(), x, self.state.step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        if not torch.isfinite(
            norm
        ):  # every process sees the same averaged gradients, so all skip together
            self._skip_update()
            return None
        self.skipped_in_a_row = 0
        self.optimizer.step()
        self._average_weights()
        return distributed.mean_over_processes(
            {"loss": loss.item(), **metrics, **self.objective.after_step(model)},
            self.shard,
            self.device,
        )

    @torch.no_grad()
    def _average_weights(self) -> None:
        """One step of the weights' moving average (``config.ema``), its decay ramped up as
        (1 + t)/(10 + t) over the first steps so the average does not hold on to the start."""
        if not self.config.ema:
            return
        trained = {n: p for n, p in self.model.named_parameters() if p.requires_grad}
        if self.ema is None:
            self.ema = {n: p.detach().clone() for n, p in trained.items()}
            return
        step = self.state.step
        decay = min(self.config.ema, (1 + step) / (10 + step))
        for name, parameter in trained.items():
            self.ema[name].lerp_(parameter.detach(), 1 - decay)

    def shipped_state(self) -> dict:
        """The weights the run ships: its state, with the moving average where there is one."""
        return weights_to_ship({"model": self.model.state_dict(), "ema": self.ema})

    def _skip_update(self) -> None:
        """Drop a step's NaN or infinite gradients instead of writing them into the weights; stop the run
        once that happens :data:`MAX_SKIPPED_STEPS` times in a row (the weights are then past saving)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.skipped_in_a_row += 1
        if self.skipped_in_a_row >= MAX_SKIPPED_STEPS:
            raise VcodecError(
                f"the loss has had no finite gradient for {MAX_SKIPPED_STEPS} steps in a row (step "
                f"{self.state.step}): the run diverged; start a new run with a lower lr, its init an "
                f"earlier checkpoint"
            )

    def run(self, stop_at: int | None = None) -> None:
        """Train until ``config.steps`` (or until step ``stop_at``, leaving the schedule unchanged).

        SIGINT (Ctrl-C) or SIGTERM lets the step under way finish, saves ``last.pt`` there (the main
        process only) and raises :class:`TrainingInterrupted`; a second signal raises KeyboardInterrupt
        at once. The previous signal handlers are back when this returns or raises.
        """
        config = self.config
        stop_at = config.steps if stop_at is None else min(stop_at, config.steps)
        self.model.train()
        bar = tqdm(
            total=config.steps,
            initial=self.state.step,
            desc="train",
            dynamic_ncols=True,
            disable=not self.shard.is_main,
        )
        if self.state.step == 0:
            self._fit_to_latents()
        started, before = time.time(), self.state.elapsed
        self._signal, stopped, previous = None, 0, self._catch_stop_signals()
        try:
            while self.state.step < stop_at:
                metrics = self.step()
                if metrics is None:
                    bar.write(f"step {self.state.step}: gradients not finite, update skipped")
                else:
                    self.window.append(metrics)
                self.state.step += 1
                bar.update(1)
                if len(self.window) == config.log_every:
                    mean = {k: float(np.mean([w[k] for w in self.window])) for k in self.window[0]}
                    mean.update(step=self.state.step, seconds=round(time.time() - started, 1))
                    self.state.history.append(mean)
                    bar.set_postfix(
                        {
                            k: f"{mean[k]:.3f}"
                            for k in ("loss", "bpp", "intra_bpp", "psnr", "tokens")
                            if k in mean
                        }
                    )
                    self.window = []
                if (
                    config.dev_every
                    and self.state.step % config.dev_every == 0
                    and self.shard.is_main
                ):
                    self._evaluate(bar)
                stopped = self._stop_requested()  # every process stops after the same step
                if (
                    self.state.step % config.checkpoint_every == 0
                    or self.state.step == stop_at
                    or stopped
                ):
                    self.state.elapsed = before + time.time() - started
                    self.save()
                if stopped:
                    break
            # no steps (a fitted start is the model): saved as is, so the run can be exported
            if stop_at == self.state.step == 0:
                self.state.elapsed = before + time.time() - started
                self.save()
            distributed.barrier(self.shard)  # the others wait for the main process's save
        finally:
            bar.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        stopped = stopped or self._signal  # (also a signal after the last step, which is saved)
        if stopped:
            saved = self.checkpoint_path if self.shard.is_main else None
            raise TrainingInterrupted(stopped, self.state.step, config.steps, saved)

    def _catch_stop_signals(self) -> dict:
        """Make SIGINT and SIGTERM ask the run to stop after the current step; the handlers replaced.

        Only the main thread can set handlers; a signal the process ignores (``nohup``, a background
        job's SIGINT) stays ignored.
        """
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for signum in STOP_SIGNALS:
            handler = signal.getsignal(signum)
            if handler not in (signal.SIG_IGN, None):  # None: set outside Python, left alone
                previous[signum] = signal.signal(signum, self._on_stop_signal)
        return previous

    def _on_stop_signal(self, signum, frame) -> None:
        if (
            self._signal is not None
        ):  # a second one: stop now (an interrupted save leaves last.pt whole)
            raise KeyboardInterrupt
        self._signal = signum

    def _stop_requested(self) -> int:
        """The signal that reached this process, or any other of a distributed run, since the run
        began (0: none); every process gets the same answer."""
        return distributed.largest(self._signal or 0, self.shard, self.device)

    def _evaluate(self, bar: tqdm) -> None:
        """Development-set metrics of the weights the run would ship now, logged and kept in the
        history."""
        training = {k: v.clone() for k, v in self.model.state_dict().items()} if self.ema else None
        if training is not None:
            self.model.load_state_dict(self.shipped_state())
        self.model.eval()
        dev = registry.kind_of(self.model).development_metrics(self.model)
        self.model.train()
        if training is not None:
            self.model.load_state_dict(training)
        if dev is not None:
            self.state.history.append({"step": self.state.step, "dev": dev})
            bar.write(f"step {self.state.step}: development images " + dev["summary"])
