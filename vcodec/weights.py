"""A model's identity in its streams (a short hash of every weight and table it decodes with), and
loading the integer tables whose size depends on what was tabulated."""

from __future__ import annotations

import hashlib

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
