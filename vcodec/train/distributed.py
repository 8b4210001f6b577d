"""Data-parallel training under ``torchrun`` (DDP): gloo on CPU, NCCL on CUDA.

Every process draws the same global batch (same seed) and trains on its own contiguous slice of it,
so a run on P processes sees exactly the samples, and takes the steps, of a 1-process run with the
same global batch. Gradients are averaged by :class:`~torch.nn.parallel.DistributedDataParallel`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Shard:
    """This process's place in the run: rank ``rank`` of ``world`` processes."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def part(self, batch: Tensor) -> Tensor:
        """This process's contiguous slice of a global batch."""
        return batch if self.world == 1 else batch.chunk(self.world)[self.rank]


def start(device: str) -> tuple[Shard, torch.device]:
    """Join the process group ``torchrun`` describes (WORLD_SIZE, RANK, LOCAL_RANK); one process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Shard(), torch.device(device)
    cuda = torch.device(device).type == "cuda"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        local = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(local)
        return Shard(dist.get_rank(), world), local
    return Shard(dist.get_rank(), world), torch.device(device)


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


class _Replica(DistributedDataParallel):
    """DDP that still answers attribute lookups of the model it wraps (``model.config``, …)."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def replicate(model: nn.Module, shard: Shard, device: torch.device) -> nn.Module:
    """``model`` wrapped for gradient averaging across the run's processes (itself when there is one).

    Parameters trained outside the forward pass (the quantiles of factorized entropy models, which
    have their own auxiliary loss) are left out of DDP's reduction; they get the same update everywhere.
    """
    if shard.world == 1:
        return model
    aside = [name for name, _ in model.named_parameters() if name.endswith(".quantiles")]
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, aside)
    ids = [device.index] if device.type == "cuda" else None
    return _Replica(model, device_ids=ids, find_unused_parameters=True)


def mean_over_processes(
    metrics: dict[str, float], shard: Shard, device: torch.device
) -> dict[str, float]:
    """Each metric averaged over the processes (so logs describe the global batch)."""
    if shard.world == 1 or not metrics:
        return metrics
    keys = sorted(metrics)
    values = torch.tensor(
        [metrics[k] for k in keys], dtype=torch.float64, device=device
    )  # NCCL: on the GPU
    dist.all_reduce(values)
    return dict(zip(keys, (values / shard.world).tolist()))


def average_gradients(module: nn.Module, shard: Shard) -> None:
    """Average ``module``'s gradients over the processes (for a network trained outside DDP's wrapper,
    such as a tokenizer's discriminator)."""
    if shard.world == 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= shard.world


def largest(value: int, shard: Shard, device: torch.device) -> int:
    """The largest of the processes' ``value`` (a collective: every process must ask, at the same point)."""
    if shard.world == 1:
        return value
    values = torch.tensor(
        [value], dtype=torch.int64, device=device
    )  # on the GPU for NCCL: no CPU tensors
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return int(values.item())


def barrier(shard: Shard) -> None:
    if shard.world > 1:
        dist.barrier()
