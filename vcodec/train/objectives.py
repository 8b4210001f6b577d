"""What a training step optimises, per kind of model; the trainer around it is shared.

- :class:`RateDistortion` (image codecs): each sample draws a quality; λ·255²·MSE + bpp, as CompressAI
  trains (or λ·1250·(1 − MS-SSIM) + bpp), plus the quantile (aux) loss of factorized entropy models
  under its own optimizer.
- :class:`TemporalRate` (video codecs): the bits of a predicted frame under the temporal prior.
- :class:`ResidualRateDistortion` (pixel-domain video codecs): the RD loss of the residual codec on
  motion-compensated prediction errors.
- :class:`Reconstruction` (image and video tokenizers): MSE + the quantizer's own loss (commitment,
  entropy or disentanglement), optionally a (1 − MS-SSIM) term and a PatchGAN hinge loss (VQGAN); 1D
  tokenizers drop the tail of their sequence at a random length.
- :class:`LatentReconstruction` (tokenizers in an image codec's latent space): the pixel MSE through
  the codec's frozen synthesis, linearised once into a Gram kernel, on cached latents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim
from torch import Tensor, nn

from vcodec.train.distributed import Shard, average_gradients
from vcodec.train.latents import STRIDE as LATENT_STRIDE

DISTORTIONS = ("mse", "ms-ssim")
MS_SSIM_LAMBDA_SCALE = (
    1250.0  # CompressAI's MS-SSIM λ table over its MSE λ table (2.40 / 0.0018 … 60.5 / 0.0483)
)


@dataclass
class LossConfig:
    """The ``[loss]`` section of a training config: what is optimised besides the rate."""

    distortion: str = "mse"  # codecs: "mse" (λ·255²·MSE) or "ms-ssim" (λ·1250·(1 − MS-SSIM))
    ms_ssim: float = 0.0  # tokenizers: weight of a (1 − MS-SSIM) term
    adversarial: float = 0.0  # tokenizers: weight of the PatchGAN hinge term (0: no discriminator)
    adversarial_start: int = 0  # the step at which the discriminator starts to count
    discriminator_lr: float = 1e-4

    def __post_init__(self) -> None:
        if self.distortion not in DISTORTIONS:
            raise ValueError(
                f"distortion must be one of {', '.join(DISTORTIONS)}, got {self.distortion!r}"
            )
        if min(self.ms_ssim, self.adversarial, self.adversarial_start, self.discriminator_lr) < 0:
            raise ValueError(
                "loss weights, adversarial_start and discriminator_lr must not be negative"
            )

    @property
    def uses_ms_ssim(self) -> bool:
        return self.distortion == "ms-ssim" or self.ms_ssim > 0


MS_SSIM_MIN_SIDE = 33  # five scales of the smallest (3-tap) window


def ms_ssim_loss(x_hat: Tensor, x: Tensor) -> Tensor:
    """1 − MS-SSIM per sample (images B×3×H×W or clips B×3×T×H×W, frames scored alone); a smaller
    window below 161 px, where five scales of the 11-tap window do not fit (at least 33 px)."""
    if x.dim() == 5:
        x_hat, x = (v.transpose(1, 2).flatten(0, 1) for v in (x_hat, x))
    window = 11 if min(x.shape[-2:]) > 160 else 7 if min(x.shape[-2:]) > 96 else 3
    return 1 - ms_ssim(
        x_hat.float(), x.float(), data_range=1.0, size_average=False, win_size=window
    )


def _psnr(mse: Tensor) -> float:
    return float((-10 * torch.log10(mse.clamp_min(1e-10))).mean())


class RateDistortion:
    """The variable-rate RD objective of the image codecs."""

    def __init__(
        self,
        model: nn.Module,
        aux_lr: float,
        seed: int,
        shard: Shard = Shard(),
        loss: LossConfig = LossConfig(),
    ):
        self.quality_rng, self.shard, self.distortion = (
            np.random.default_rng(seed + 1),
            shard,
            loss.distortion,
        )
        aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
        self.aux_optimizer = torch.optim.Adam(aux, lr=aux_lr)

    @staticmethod
    def main_parameters(model: nn.Module) -> list:
        return [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]

    def loss(self, model: nn.Module, x: Tensor, step: int = 0) -> tuple[Tensor, dict[str, float]]:
        quality = _draw_qualities(self.quality_rng, model.num_qualities, x.shape[0], self.shard).to(
            x.device
        )
        out = rd_loss(model, x, quality, self.distortion)
        return out["loss"], {"bpp": out["bpp"].mean().item(), "psnr": _psnr(out["mse"])}

    def after_step(self, model: nn.Module) -> dict[str, float]:
        aux = model.aux_loss()
        self.aux_optimizer.zero_grad(set_to_none=True)
        aux.backward()
        self.aux_optimizer.step()
        return {"aux": aux.item()}

    def state_dict(self) -> dict:
        return {
            "aux_optimizer": self.aux_optimizer.state_dict(),
            "quality_rng": self.quality_rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        self.aux_optimizer.load_state_dict(state["aux_optimizer"])
        self.quality_rng.bit_generator.state = state["quality_rng"]


class LatentRate(RateDistortion):
    """The rate of cached g_a latents (:mod:`vcodec.train.latents`): with g_a and the gains frozen the
    distortion is fixed, so the entropy model (hyper path, contexts, parameter networks) trains on bits
    alone. ``y`` is a batch of latent windows; bpp counts the pixels they stand for."""

    def loss(self, model: nn.Module, y: Tensor, step: int = 0) -> tuple[Tensor, dict[str, float]]:
        quality = _draw_qualities(self.quality_rng, model.num_qualities, y.shape[0], self.shard)
        _, likelihoods = model.forward_latent(y, quality.to(y.device) - 1)
        pixels = y.shape[-2] * y.shape[-1] * LATENT_STRIDE**2
        bpp = _bits(likelihoods) / pixels
        return bpp.mean(), {"bpp": bpp.mean().item()}


class ResidualRateDistortion(RateDistortion):
    """The pixel-domain video codec's objective: the rate–distortion loss of its residual codec on
    prediction errors made on the fly from frame pairs (``model.training_residuals``: frame 0 through
    the frozen intra codec, the encoder's motion search at each sample's λ, frame 1's error)."""

    def __init__(
        self,
        model: nn.Module,
        aux_lr: float,
        seed: int,
        shard: Shard = Shard(),
        loss: LossConfig = LossConfig(),
    ):
        super().__init__(model.residual, aux_lr, seed, shard, loss)
        model.intra.requires_grad_(False)

    @staticmethod
    def main_parameters(model: nn.Module) -> list:
        return RateDistortion.main_parameters(model.residual)

    def loss(
        self, model: nn.Module, frames: Tensor, step: int = 0
    ) -> tuple[Tensor, dict[str, float]]:
        quality = _draw_qualities(
            self.quality_rng, model.num_qualities, frames.shape[0], self.shard
        )
        quality = quality.to(frames.device)
        out = model(frames, quality)  # through DDP's forward, so gradients are averaged
        lambdas = model.residual.config.lambdas
        out = rd_terms(out, out["x"], quality, lambdas, self.distortion)
        return out["loss"], {"bpp": out["bpp"].mean().item(), "psnr": _psnr(out["mse"])}

    def after_step(self, model: nn.Module) -> dict[str, float]:
        return super().after_step(model.residual)


def rd_loss(
    model: nn.Module, x: Tensor, quality: Tensor, distortion: str = "mse"
) -> dict[str, Tensor]:
    """λ·255²·MSE + bpp (or λ·1250·(1 − MS-SSIM) + bpp) per sample, λ of each sample's quality,
    averaged over the batch."""
    return rd_terms(model(x, quality), x, quality, model.config.lambdas, distortion)


def rd_terms(
    out: dict, x: Tensor, quality: Tensor, lambdas, distortion: str = "mse"
) -> dict[str, Tensor]:
    """:func:`rd_loss` from a codec's training outputs (``likelihoods``, ``x_hat``) on ``x``."""
    pixels = x.shape[-2] * x.shape[-1]
    bpp = _bits(out["likelihoods"]) / pixels
    mse = (out["x_hat"] - x).pow(2).flatten(1).mean(1)
    lam = torch.tensor(lambdas, device=x.device)[quality - 1]
    if distortion == "ms-ssim":
        loss = (lam * MS_SSIM_LAMBDA_SCALE * ms_ssim_loss(out["x_hat"], x) + bpp).mean()
    else:
        loss = (lam * 255**2 * mse + bpp).mean()
    return {"loss": loss, "bpp": bpp.detach(), "mse": mse.detach()}


class PatchDiscriminator(nn.Module):
    """A small PatchGAN (pix2pix / VQGAN): a real/fake score for each patch of an image."""

    def __init__(self, width: int = 32, layers: int = 3):
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        channels = width
        for _ in range(layers - 1):
            blocks += [
                nn.Conv2d(channels, 2 * channels, 4, 2, 1),
                nn.GroupNorm(8, 2 * channels),
                nn.LeakyReLU(0.2),
            ]
            channels *= 2
        blocks.append(nn.Conv2d(channels, 1, 3, 1, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 5:  # clips: every frame is judged alone
            x = x.transpose(1, 2).flatten(0, 1)
        return self.net(x * 2 - 1)


class Reconstruction:
    """The tokenizer objective: pixels back from (a random prefix of) the tokens; optionally with a
    (1 − MS-SSIM) term and, from ``adversarial_start``, a PatchGAN trained with the hinge loss."""

    def __init__(
        self,
        model: nn.Module,
        aux_lr: float,
        seed: int,
        shard: Shard = Shard(),
        loss: LossConfig = LossConfig(),
    ):
        self.settings, self.shard = loss, shard
        self.discriminator = self.d_optimizer = None
        self._pair: tuple[Tensor, Tensor] | None = None  # (real, reconstructed) of the last step
        if loss.adversarial > 0:
            device = next(model.parameters()).device
            self.discriminator = PatchDiscriminator().to(device)
            self.d_optimizer = torch.optim.Adam(
                self.discriminator.parameters(), lr=loss.discriminator_lr, betas=(0.5, 0.9)
            )

    @staticmethod
    def main_parameters(model: nn.Module) -> list:
        return list(model.parameters())

    def _adversarial(self, step: int) -> bool:
        return self.discriminator is not None and step >= self.settings.adversarial_start

    def loss(self, model: nn.Module, x: Tensor, step: int = 0) -> tuple[Tensor, dict[str, float]]:
        out = model(x)
        x_hat = out["x_hat"]
        mse = (x_hat - x).pow(2).flatten(1).mean(1)
        q = out["quantizer"]
        loss = mse.mean() + q.loss
        metrics = {
            "psnr": _psnr(mse.detach()),
            "perplexity": float(q.perplexity.mean()),
            "usage": float(q.usage.mean()),
        }
        if self.settings.ms_ssim > 0:
            structural = ms_ssim_loss(x_hat, x).mean()
            loss = loss + self.settings.ms_ssim * structural
            metrics["ms_ssim"] = 1 - structural.item()
        if self._adversarial(step):
            self.discriminator.requires_grad_(False)
            generator = -self.discriminator(x_hat).mean()
            self.discriminator.requires_grad_(True)
            loss = loss + self.settings.adversarial * generator
            metrics["g_loss"] = generator.item()
            self._pair = (x.detach(), x_hat.detach())
        if "lengths" in out:  # 1D tokenizers: how many tokens the step kept
            metrics["tokens"] = float(out["lengths"].float().mean())
        return loss, metrics

    def after_step(self, model: nn.Module) -> dict[str, float]:
        """One discriminator step on the last batch: hinge loss, real above +1, reconstructions below −1."""
        if self._pair is None:
            return {}
        real, fake = self._pair
        self._pair = None
        d_loss = (
            F.relu(1 - self.discriminator(real)).mean()
            + F.relu(1 + self.discriminator(fake)).mean()
        )
        self.d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        average_gradients(self.discriminator, self.shard)
        self.d_optimizer.step()
        return {"d_loss": d_loss.item()}

    def state_dict(self) -> dict:
        if self.discriminator is None:
            return {}
        return {
            "discriminator": self.discriminator.state_dict(),
            "discriminator_optimizer": self.d_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        if self.discriminator is not None and "discriminator" in state:
            self.discriminator.load_state_dict(state["discriminator"])
            self.d_optimizer.load_state_dict(state["discriminator_optimizer"])


class LatentReconstruction:
    """Latent-space tokenizers (:mod:`vcodec.tokenizers.latent`) on cached g_a latents: the pixel MSE
    through the codec's frozen g_s, computed in the latent domain. g_s is linearised once, on the first
    batch, into impulse responses and their Gram kernel (:func:`~vcodec.tokenizers.latent.synthesis_metric`,
    kept with the run); a step's loss is then δᵀGδ (δ = t̂ − t) per pixel, plus the quantizer's loss.
    (A linear start is fitted before, to many windows, when the kind sets up the training data.)
    It follows the real pixel error of correlated latent errors, which a per-channel weight misses by
    about 3× (benchmarks/RESULTS.md), and a step costs the tokenizer's networks: no g_a, no g_s."""

    METRIC_SAMPLES = 4  # latent windows the linearisation is averaged over

    def __init__(
        self,
        model: nn.Module,
        aux_lr: float,
        seed: int,
        shard: Shard = Shard(),
        loss: LossConfig = LossConfig(),
    ):
        if shard.world > 1:
            raise ValueError("a latent-space tokenizer trains on cached latents, in one process")
        if loss.uses_ms_ssim or loss.adversarial:
            raise ValueError(
                "a latent-space tokenizer trains on its synthesis's pixel MSE: no ms_ssim or adversarial"
            )
        self.metric: Tensor | None = None

    @staticmethod
    def main_parameters(model: nn.Module) -> list:
        return list(model.parameters())  # the codec it decodes through is not among them

    def loss(self, model: nn.Module, y: Tensor, step: int = 0) -> tuple[Tensor, dict[str, float]]:
        from vcodec.tokenizers.latent import linearised_synthesis, metric_energy

        if self.metric is None:
            self.metric = linearised_synthesis(
                model.codec.g_s, model.decoder_space(y), LATENT_STRIDE, self.METRIC_SAMPLES
            )
        out = model.forward_latent(y)
        pixels = 3 * y.shape[-2] * y.shape[-1] * LATENT_STRIDE**2
        mse = metric_energy(out["t_hat"] - out["t"], self.metric.to(y.device)) / pixels
        q = out["quantizer"]
        metrics = {
            "psnr": _psnr(mse.detach()),  # through the linearised synthesis
            "tokens": float(out["lengths"].float().mean()),
            "usage": float(q.usage.mean()),
        }
        return mse.mean() + q.loss, metrics

    def after_step(self, model: nn.Module) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict:
        return {"synthesis_metric": self.metric}

    def load_state_dict(self, state: dict) -> None:
        self.metric = state.get("synthesis_metric")


class TokenLikelihood:
    """A standalone token prior's objective: bits per token of the (frozen) tokenizer's ids of each crop."""

    def __init__(
        self,
        model: nn.Module,
        aux_lr: float,
        seed: int,
        shard: Shard = Shard(),
        loss: LossConfig = LossConfig(),
    ):
        pass

    @staticmethod
    def main_parameters(model: nn.Module) -> list:
        return list(model.prior.parameters())

    def loss(self, model: nn.Module, x: Tensor, step: int = 0) -> tuple[Tensor, dict[str, float]]:
        bits = model(x).mean()
        return bits, {"bits": bits.item()}

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
    comparison. A codec with motion adds its predictor's rate proxy (``prediction_bits``)."""

    def __init__(
        self,
        model: nn.Module,
        aux_lr: float,
        seed: int,
        shard: Shard = Shard(),
        loss: LossConfig = LossConfig(),
    ):
        self.quality_rng, self.shard = np.random.default_rng(seed + 1), shard
        model.intra.requires_grad_(False)

    @staticmethod
    def main_parameters(model: nn.Module) -> list:
        return list(model.prior.parameters())

    def loss(
        self, model: nn.Module, frames: Tensor, step: int = 0
    ) -> tuple[Tensor, dict[str, float]]:
        quality = _draw_qualities(
            self.quality_rng, model.num_qualities, frames.shape[0], self.shard
        )
        out = model(frames, quality.to(frames.device))
        pixels = frames.shape[-2] * frames.shape[-1]
        bpp = _bits(out["likelihoods"]) / pixels
        intra_bpp = _bits(out["intra_likelihoods"]) / pixels
        metrics = {"bpp": bpp.mean().item(), "intra_bpp": intra_bpp.mean().item()}
        if "prediction_bits" not in out:
            return bpp.mean(), metrics
        prediction = out["prediction_bits"].mean()
        return bpp.mean() + prediction, {**metrics, "prediction_bpp": prediction.item()}

    def after_step(self, model: nn.Module) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict:
        return {"quality_rng": self.quality_rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.quality_rng.bit_generator.state = state["quality_rng"]


def _draw_qualities(
    rng: np.random.Generator, qualities: int, local_batch: int, shard: Shard
) -> Tensor:
    """One quality per sample of the global batch (same draw in every process), this process's slice."""
    return shard.part(torch.from_numpy(rng.integers(1, qualities + 1, local_batch * shard.world)))


def _bits(likelihoods: dict[str, Tensor]) -> Tensor:
    """Total −log2 likelihood per sample."""
    return sum(-torch.log2(lik).flatten(1).sum(1) for lik in likelihoods.values())
