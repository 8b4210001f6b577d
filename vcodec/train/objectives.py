"""What a training step optimises, per kind of model; the trainer around it is shared.

- :class:`RateDistortion` (image codecs): each sample draws a quality; λ·255²·MSE + bpp, as CompressAI
  trains, plus the quantile (aux) loss of factorized entropy models under its own optimizer.
- :class:`TemporalRate` (video codecs): the bits of a predicted frame under the temporal prior.
- :class:`Reconstruction` (image and video tokenizers): MSE + the quantizer's own loss (commitment,
  entropy or disentanglement); 1D tokenizers drop the tail of their sequence at a random length.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from vcodec.train.distributed import Shard


def _psnr(mse: Tensor) -> float:
    return float((-10 * torch.log10(mse.clamp_min(1e-10))).mean())


class RateDistortion:
    """The variable-rate RD objective of the image codecs."""

    def __init__(self, model: nn.Module, aux_lr: float, seed: int, shard: Shard = Shard()):
        self.quality_rng, self.shard = np.random.default_rng(seed + 1), shard
        aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
        self.aux_optimizer = torch.optim.Adam(aux, lr=aux_lr)

    @staticmethod
    def main_parameters(model: nn.Module) -> list:
        return [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]

    def loss(self, model: nn.Module, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        quality = _draw_qualities(self.quality_rng, model.num_qualities, x.shape[0], self.shard).to(x.device)
        out = rd_loss(model, x, quality)
        return out["loss"], {"bpp": out["bpp"].mean().item(), "psnr": _psnr(out["mse"])}

    def after_step(self, model: nn.Module) -> dict[str, float]:
        aux = model.aux_loss()
        self.aux_optimizer.zero_grad(set_to_none=True)
        aux.backward()
        self.aux_optimizer.step()
        return {"aux": aux.item()}

    def state_dict(self) -> dict:
        return {"aux_optimizer": self.aux_optimizer.state_dict(), "quality_rng": self.quality_rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.aux_optimizer.load_state_dict(state["aux_optimizer"])
        self.quality_rng.bit_generator.state = state["quality_rng"]


def rd_loss(model: nn.Module, x: Tensor, quality: Tensor) -> dict[str, Tensor]:
    """λ·255²·MSE + bpp per sample (λ of each sample's quality), averaged over the batch."""
    out = model(x, quality)
    pixels = x.shape[-2] * x.shape[-1]
    bpp = _bits(out["likelihoods"]) / pixels
    mse = (out["x_hat"] - x).pow(2).flatten(1).mean(1)
    lam = torch.tensor(model.config.lambdas, device=x.device)[quality - 1]
    loss = (lam * 255**2 * mse + bpp).mean()
    return {"loss": loss, "bpp": bpp.detach(), "mse": mse.detach()}


class Reconstruction:
    """The tokenizer objective: pixels back from (a random prefix of) the tokens."""

    def __init__(self, model: nn.Module, aux_lr: float, seed: int, shard: Shard = Shard()):
        pass

    @staticmethod
    def main_parameters(model: nn.Module) -> list:
        return list(model.parameters())

    def loss(self, model: nn.Module, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        out = model(x)
        mse = (out["x_hat"] - x).pow(2).flatten(1).mean(1)
        q = out["quantizer"]
        loss = mse.mean() + q.loss
        metrics = {"psnr": _psnr(mse.detach()), "perplexity": float(q.perplexity.mean()), "usage": float(q.usage.mean())}
        if "lengths" in out:  # 1D tokenizers: how many tokens the step kept
            metrics["tokens"] = float(out["lengths"].float().mean())
        return loss, metrics

    def after_step(self, model: nn.Module) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class TemporalRate:
    """The video codec objective: bits of a P-frame latent under the temporal prior, with the image codec
    (transforms, hyperprior, gains) frozen — its distortion does not depend on the prior, so rate is all
    there is to lower. Each sample draws a quality; the intra bits of the reference frame are logged for
    comparison."""

    def __init__(self, model: nn.Module, aux_lr: float, seed: int, shard: Shard = Shard()):
        self.quality_rng, self.shard = np.random.default_rng(seed + 1), shard
        model.intra.requires_grad_(False)

    @staticmethod
    def main_parameters(model: nn.Module) -> list:
        return list(model.prior.parameters())

    def loss(self, model: nn.Module, frames: Tensor) -> tuple[Tensor, dict[str, float]]:
        quality = _draw_qualities(self.quality_rng, model.num_qualities, frames.shape[0], self.shard)
        out = model(frames, quality.to(frames.device))
        pixels = frames.shape[-2] * frames.shape[-1]
        bpp = _bits(out["likelihoods"]) / pixels
        intra_bpp = _bits(out["intra_likelihoods"]) / pixels
        return bpp.mean(), {"bpp": bpp.mean().item(), "intra_bpp": intra_bpp.mean().item()}

    def after_step(self, model: nn.Module) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict:
        return {"quality_rng": self.quality_rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.quality_rng.bit_generator.state = state["quality_rng"]


def _draw_qualities(rng: np.random.Generator, qualities: int, local_batch: int, shard: Shard) -> Tensor:
    """One quality per sample of the global batch (same draw in every process), this process's slice."""
    return shard.part(torch.from_numpy(rng.integers(1, qualities + 1, local_batch * shard.world)))


def _bits(likelihoods: dict[str, Tensor]) -> Tensor:
    """Total −log2 likelihood per sample."""
    return sum(-torch.log2(lik).flatten(1).sum(1) for lik in likelihoods.values())
