"""A model's identity in its streams: a short hash of every weight and table it decodes with."""

from __future__ import annotations

import hashlib

from torch import nn


def weights_hash(module: nn.Module) -> bytes:
    """First 8 bytes of the SHA-256 of the state dict (names and raw tensor bytes, sorted by name)."""
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.digest()[:8]
