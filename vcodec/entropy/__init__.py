"""Entropy coding: the range-coder wrapper, continuous entropy models, token priors and the container.

The names below import on first use, so reading a container (``vcodec info``) needs no torch.
"""

from vcodec._lazy import lazy_attributes

_LAZY = {
    "AutoregressiveTokenPrior": "vcodec.entropy.autoregressive",
    "StaticTokenPrior": "vcodec.entropy.categorical",
    "CdfTables": "vcodec.entropy.coder",
    "decode": "vcodec.entropy.coder",
    "encode": "vcodec.entropy.coder",
    "Container": "vcodec.entropy.container",
    "Kind": "vcodec.entropy.container",
    "FactorizedModel": "vcodec.entropy.continuous",
    "GaussianModel": "vcodec.entropy.continuous",
}
__getattr__ = lazy_attributes(__name__, _LAZY)


def build_token_prior(kind: str, vocab_sizes: tuple[int, ...], positions: int):
    """A token prior by name: "static" (per-position categorical) or "autoregressive" (transformer)."""
    priors = {"static": "StaticTokenPrior", "autoregressive": "AutoregressiveTokenPrior"}
    if kind not in priors:
        raise ValueError(f"unknown token prior {kind!r} (choose from {', '.join(priors)})")
    return __getattr__(priors[kind])(vocab_sizes, positions)


__all__ = [*_LAZY, "build_token_prior"]
