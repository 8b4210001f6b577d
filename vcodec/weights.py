"""A model's identity in its streams (a short hash of every weight and table it decodes with), loading
the integer tables whose size depends on what was tabulated, and storing masked convolutions compactly."""

from __future__ import annotations

import hashlib

import torch
from torch import nn


def weights_hash(module: nn.Module, skip: str | None = None) -> bytes:
    """First 8 bytes of the SHA-256 of the state dict (names and raw tensor bytes, sorted by name),
    leaving out the entries whose names start with ``skip``."""
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        if skip is not None and key.startswith(skip):
            continue
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.digest()[:8]


TABLE_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")


def resize_table_buffers(module: nn.Module, state_dict: dict) -> None:
    """Give ``module``'s CDF-table buffers the shapes of the stored ones, so that ``load_state_dict``
    can fill them (an untrained or unfitted model holds tables of another size, or empty ones)."""
    own = dict(module.named_buffers())
    for key, value in state_dict.items():
        if key in own and own[key].shape != value.shape and key.rsplit(".", 1)[-1] in TABLE_BUFFERS:
            own[key].resize_(value.shape)


# --- masked convolutions: only the taps they use are stored -----------------------------------------------

TAPS_SUFFIX = ".taps"


def _masked_convolutions(model: nn.Module, skip: str | None = None):
    from vcodec.layers import CheckerboardConv2d

    for name, module in model.named_modules():
        if isinstance(module, CheckerboardConv2d) and not (skip and name.startswith(skip)):
            yield name, module, module.mask[0, 0].bool()


@torch.no_grad()
def clear_unused_taps(model: nn.Module, skip: str | None = None) -> None:
    """Zero the kernel taps a masked convolution never uses (its output does not change), so that
    :func:`pack_masked_weights` can leave them out. Modules under ``skip`` keep theirs: a shipped
    image codec inside a video codec must keep the weights its hash names."""
    for _, module, used in _masked_convolutions(model, skip):
        module.weight[..., ~used] = 0


def pack_masked_weights(model: nn.Module, state: dict) -> dict:
    """``state`` with each masked convolution whose unused taps are all zero stored as its used taps
    only (out×in×T): about half of a checkerboard context's bytes."""
    state = dict(state)
    for name, _, used in _masked_convolutions(model):
        key = f"{name}.weight"
        if key in state and not state[key][..., ~used].any():
            state[key + TAPS_SUFFIX] = state.pop(key)[..., used].contiguous()
    return state


def unpack_masked_weights(model: nn.Module, state: dict) -> dict:
    """The inverse of :func:`pack_masked_weights`: full kernels with zeros at the unused taps."""
    state = dict(state)
    for name, _, used in _masked_convolutions(model):
        taps = state.pop(f"{name}.weight{TAPS_SUFFIX}", None)
        if taps is not None:
            if taps.dim() != 3 or taps.shape[-1] != int(used.sum()):
                raise RuntimeError(
                    f"{name}.weight{TAPS_SUFFIX} has shape {tuple(taps.shape)}, not out×in×{int(used.sum())}"
                )
            weight = taps.new_zeros((*taps.shape[:2], *used.shape))
            weight[..., used] = taps
            state[f"{name}.weight"] = weight
    return state
