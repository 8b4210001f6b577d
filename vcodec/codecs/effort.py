"""Encode-time latent refinement: more encoder effort, smaller files, the same decoder.

Stochastic Gumbel Annealing (Yang, Bamler & Mandt, "Improving Inference for Neural Image
Compression", NeurIPS 2020): starting from g_a's latent, Adam optimises the latent against the
codec's own rate–distortion objective (bits + λ·255²·MSE of its quality), with rounding replaced by a
soft, randomly annealed choice between the two nearest integers that hardens as the temperature falls.
The temperature falls from 0.5 to 0.25 (few iterations: lower temperatures make the gradients too
noisy for Adam at this budget), and every few steps the hard-rounded cost is checked, so the latent
returned is the best one seen. Then the coder rounds and codes as usual, so any decoder reads the
stream; the encoder keeps the refined latent only when its real bytes and decoded pixels beat the plain
encode. The search runs g_s in bfloat16 where the CPU has it (2.2× faster steps at 768×512); the rate
terms and that final check stay in float32.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from vcodec.precision import in_bfloat16_where_native

LEARNING_RATE = 0.01  # in units of the gained latent, whose quantization step is 1
START_TEMPERATURE, END_TEMPERATURE = 0.5, 0.25
CHECK_EVERY = 5  # steps between checks of the hard-rounded cost


def soft_round(tau: float, generator: torch.Generator) -> Callable[[Tensor], Tensor]:
    """SGA's rounding at temperature ``tau``: a Gumbel-softmax sample between floor and ceil, each
    weighted by how close the value is (logits −atanh(distance)/τ)."""

    def round_(v: Tensor) -> Tensor:
        floor = torch.floor(v)
        eps = 1e-5
        logits = torch.stack(
            (
                -torch.atanh((v - floor).clamp(-1 + eps, 1 - eps)) / tau,
                -torch.atanh((floor + 1 - v).clamp(-1 + eps, 1 - eps)) / tau,
            ),
            dim=-1,
        )
        uniform = torch.rand(logits.shape, generator=generator).clamp_(1e-10, 1 - 1e-10)
        gumbel = -torch.log(-torch.log(uniform))
        up = torch.softmax((logits + gumbel) / tau, dim=-1)[..., 1]
        return floor + up

    return round_


def rd_cost(bits: Tensor | float, x_hat: Tensor, x: Tensor, lam: float) -> Tensor:
    """bits per pixel + λ·255²·MSE: the objective the codec was trained on."""
    pixels = x.shape[-2] * x.shape[-1]
    return bits / pixels + lam * 255**2 * (x_hat - x).pow(2).mean()


@contextlib.contextmanager
def weights_fixed(module: torch.nn.Module) -> Iterator[None]:
    """No weight gradients inside: backward then computes only the latent's gradient, about a third
    of each refinement step saved (a convolution's backward is two passes, one for the weights)."""
    wanted = [(p, p.requires_grad) for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in wanted:
            parameter.requires_grad_(flag)


def refine_latent(
    codec,
    x: Tensor,
    quality: int,
    iterations: int,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Tensor:
    """The refined latent y (ungained, to be coded by the codec's latent codec) of a 1×3×H×W image
    at ``quality`` after ``iterations`` SGA steps; ``progress(i)`` after each step."""
    q = torch.tensor([quality - 1])
    lam = codec.config.lambdas[quality - 1]
    height, width = x.shape[-2:]
    generator = torch.Generator().manual_seed(seed)
    with torch.inference_mode(False), torch.enable_grad(), weights_fixed(codec):
        x = x.clone()
        gain = codec.y_gain.coding_gain(q).float()

        def cost(gained: Tensor, quantize) -> Tensor:
            y_hat, bits = codec.latent.relaxed(gained / gain, q, quantize)
            x_hat = in_bfloat16_where_native(codec.g_s, y_hat)  # the search only
            return rd_cost(bits, x_hat[..., :height, :width], x, lam)

        gained = (codec.g_a(codec.pad(x)).detach() * gain).requires_grad_(True)
        with torch.no_grad():
            best = (cost(gained, torch.round).item(), gained.detach().clone())
        optimizer = torch.optim.Adam([gained], lr=LEARNING_RATE)
        decay = math.log(END_TEMPERATURE / START_TEMPERATURE) / max(iterations - 1, 1)
        for step in range(iterations):
            tau = START_TEMPERATURE * math.exp(decay * step)
            loss = cost(gained, soft_round(tau, generator))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if (step + 1) % CHECK_EVERY == 0 or step + 1 == iterations:
                with torch.no_grad():
                    hard = cost(gained, torch.round).item()
                if hard < best[0]:
                    best = (hard, gained.detach().clone())
            if progress is not None:
                progress(step + 1)
        # the coder rounds (value − exact mean): the float model's choice wherever the exact and float
        # means differ by less than the distance to the rounding boundary, which is nearly everywhere
        return (best[1] / gain).float()
