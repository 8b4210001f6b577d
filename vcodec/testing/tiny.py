"""Tiny, untrained models with real coding tables: fast enough for unit tests, large enough that
their streams carry real symbols."""

from __future__ import annotations

import torch
from torch import nn

from vcodec import registry

TINY = registry.architecture("mean-scale-checkerboard").tiny  # n, m and λ of the tiny image codecs


def strengthen(module: nn.Module) -> None:
    """Scale an untrained analysis transform up, so its latents are large enough to code real symbols."""
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(3)


def tiny_model(architecture: str, name: str = "tiny", seed: int = 0, **overrides) -> nn.Module:
    """An untrained model of a registered architecture from its tiny config, ready to code (eval
    mode, tables built); architectures built on other checkpoints (a token prior) need those too."""
    torch.manual_seed(seed)
    model = registry.build_model(
        registry.architecture(architecture).tiny_config(**overrides), name
    ).eval()
    model.update()
    return model


def tiny_codec(
    architecture: str = "mean-scale-checkerboard", name: str = "tiny", seed: int = 0
) -> nn.Module:
    return tiny_model(architecture, name, seed)


def tiny_video_codec(name: str = "tiny-video", seed: int = 0) -> nn.Module:
    """A tiny video codec whose latents are large enough that predicted frames code real symbols."""
    torch.manual_seed(seed)
    model = registry.build_model(registry.architecture("temporal-checkerboard").tiny_config(), name)
    with torch.no_grad():
        strengthen(model.intra.g_a)
        model.prior.start_from(model.intra)
        for p in model.prior.temporal.parameters():
            p.add_(0.05 * torch.randn_like(p))
        model.prior.entropy_parameters[0].weight.add_(
            0.02 * torch.randn_like(model.prior.entropy_parameters[0].weight)
        )
    model.eval().update()
    return model


def tiny_pixel_codec(name: str = "tiny-pixel", seed: int = 0, **config) -> nn.Module:
    """A tiny pixel-domain video codec whose residuals code real symbols (``config``: fields of its
    configuration to change)."""
    torch.manual_seed(seed)
    architecture = registry.architecture("pixel-residual")
    model = registry.build_model(architecture.tiny_config(**config), name)
    with torch.no_grad():
        strengthen(model.intra.g_a)
        strengthen(model.residual.g_a)
    model.eval().update()
    return model
