"""Entropy coding: the range-coder wrapper, continuous entropy models, token priors and the container."""

from vcodec.entropy.autoregressive import AutoregressiveTokenPrior
from vcodec.entropy.categorical import StaticTokenPrior
from vcodec.entropy.coder import CdfTables, decode, encode
from vcodec.entropy.container import Container, Kind
from vcodec.entropy.continuous import FactorizedModel, GaussianModel

TOKEN_PRIORS = {"static": StaticTokenPrior, "autoregressive": AutoregressiveTokenPrior}


def build_token_prior(kind: str, vocab_sizes: tuple[int, ...], positions: int):
    """A token prior by name: "static" (per-position categorical) or "autoregressive" (transformer)."""
    if kind not in TOKEN_PRIORS:
        raise ValueError(f"unknown token prior {kind!r} (choose from {', '.join(TOKEN_PRIORS)})")
    return TOKEN_PRIORS[kind](vocab_sizes, positions)


__all__ = ["AutoregressiveTokenPrior", "CdfTables", "Container", "FactorizedModel", "GaussianModel", "Kind",
           "StaticTokenPrior", "TOKEN_PRIORS", "build_token_prior", "decode", "encode"]
