"""What tokenizers in a trained image codec's latent space share (FlexTok's design, Bachmann et al.
2025): the codec's frozen analysis g_a turns an S² image into an (S/16)² latent grid, the tokenizer's
own networks turn that grid into tokens and back, and the codec's frozen synthesis g_s makes the pixels.

    image ─g_a─▶ y ─×gains─▶ t (what g_s reads) ─tokenizer encoder─▶ ids
    ids ─tokenizer decoder─▶ t̂ ─g_s─▶ image

The tokenizer's networks see (S/16)² positions instead of S² pixels, so CPU training goes much
further, and its decoder inherits a synthesis trained for 77.5k steps. The codec is a declared
dependency (a shipped checkpoint named with its weights hash), not part of the tokenizer's weights;
training runs on cached latents (:class:`vcodec.train.objectives.LatentReconstruction`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vcodec.precision import network_dtype, run_in


class CodecLatentSpace:
    """Mixin for a :class:`~vcodec.tokenizers.base.LearnedTokenizer` whose grid is a codec's latent
    t = y·gain·inverse gain (the codec's top quality, unrounded: what g_s reads).

    The tokenizer provides ``_encode_grid(t)`` (B×N×D continuous tokens), ``_decode_features(vectors)``
    (decoder output), ``latent_grid(features)`` (that output as B×M×h×w) and ``_token_pass(t, k)``
    (the training pass: {"features", "quantizer", "lengths"}).

    Inference (``encode``/``decode``, gradients off) runs g_a and g_s in ``codec_dtype``: by default
    bfloat16 where the hardware has it (:func:`vcodec.precision.native_bfloat16`), which is 2–3× faster and moves
    PSNR by under 0.01 dB; set ``tokenizer.codec_dtype = torch.float32`` for the float32 networks.
    The tokenizer's own networks and its token prior always run in float32.
    """

    codec_dtype: torch.dtype | None = None  # None: bfloat16 where native, else float32

    def _attach_codec(self, codec: nn.Module) -> None:
        """Keep ``codec`` frozen, outside the module tree: not our weights, never trained (call before
        ``nn.Module.__init__``'s subclasses build layers that read its size)."""
        object.__setattr__(self, "_codec", (codec.eval().requires_grad_(False),))

    @property
    def codec(self) -> nn.Module:
        return self._codec[0]

    def _apply(self, fn, recurse: bool = True):
        """Moves (``.to(device)``) reach the codec too."""
        self.codec._apply(fn, recurse)
        return super()._apply(fn, recurse)

    def decoder_space(self, y: Tensor) -> Tensor:
        """g_a's latents y as g_s reads them at the codec's top quality, unrounded (y·gain·inverse
        gain, the codec's frozen coding gains)."""
        top = torch.tensor([self.codec.num_qualities - 1], device=y.device)
        gains = self.codec.y_gain.coding_gain(top) * self.codec.y_gain.coding_inverse_gain(top)
        return y * gains.to(y.dtype)

    def _input_grid(self, images: Tensor) -> Tensor:
        with torch.no_grad():
            # g_a's strided convolutions are fastest on channels-last input, g_s's on the default layout
            return self.decoder_space(self._run_codec(self.codec.g_a, images, channels_last=True))

    def _pixels(self, vectors: Tensor) -> Tensor:
        return self._run_codec(self.codec.g_s, self.latent_grid(self._decode_features(vectors)))

    def _run_codec(self, network: nn.Module, x: Tensor, channels_last: bool = False) -> Tensor:
        """``network(x)`` in float32, computed in :attr:`codec_dtype` when gradients are off."""
        if torch.is_grad_enabled():
            return network(x)
        return run_in(network, x, network_dtype(x.device, self.codec_dtype), channels_last)

    # --- the latent grid without g_a and g_s (cached latents, latent-space generators) ----------------
    @torch.inference_mode()
    def encode_grid(self, t: Tensor) -> Tensor:
        """B×N×G token ids of latent grids ``t`` (as :meth:`decoder_space` gives them)."""
        return self.quantizer(self._encode_grid(t)).indices

    @torch.inference_mode()
    def decode_grid(self, tokens: Tensor) -> Tensor:
        """The latent grid t̂ (B×M×h×w) of token ids (a 1D tokenizer: any prefix); g_s of it is what
        :meth:`decode` returns."""
        return self.latent_grid(self._decode_features(self._vectors(self.as_indices(tokens))))

    # --- training on cached latents ---------------------------------------------------------------------
    def forward_latent(self, y: Tensor, num_tokens: int | None = None) -> dict:
        """Training pass on g_a latents (B×M×h×w, e.g. cached windows): {"t", "t_hat", "quantizer",
        "lengths"}; a 1D tokenizer drops the tail of its tokens at random in training mode."""
        t = self.decoder_space(y)
        out = self._token_pass(t, num_tokens)
        return {
            "t": t,
            "t_hat": self.latent_grid(out.pop("features")),
            "quantizer": out["quantizer"],
            "lengths": out["lengths"],
        }

    def forward(self, images: Tensor, num_tokens: int | None = None) -> dict:
        """Pass on images: {"x_hat" (g_s of t̂), "quantizer", "lengths"} (development metrics)."""
        out = self.forward_latent(self.codec.g_a(images), num_tokens)
        return {
            "x_hat": self.codec.g_s(out["t_hat"]),
            "quantizer": out["quantizer"],
            "lengths": out["lengths"],
        }


@torch.no_grad()
def impulse_responses(
    synthesis: nn.Module, t: Tensor, stride: int, radius: int = 3, eps: float = 0.05
) -> Tensor:
    """M×3×S×S: what one unit at the centre latent position of each channel adds to ``synthesis``'s
    output (finite differences around the latents ``t``, averaged over its B samples), cut to the
    smallest square of whole latent cells, at most ``radius`` around the centre (and inside the grid),
    that holds it."""
    batch, channels, h, w = t.shape
    cy, cx = h // 2, w // 2
    radius = min(radius, cy, cx, h - 1 - cy, w - 1 - cx)  # small grids: what fits
    top, left = stride * (cy - radius), stride * (cx - radius)
    side = stride * (2 * radius + 1)
    base = synthesis(t)
    responses = torch.empty(channels, base.shape[1], side, side)
    chunk = max(1, 16 // batch)
    for first in range(0, channels, chunk):
        group = range(first, min(first + chunk, channels))
        nudged = t.repeat(len(group), 1, 1, 1)
        for i, c in enumerate(group):
            nudged[i * batch : (i + 1) * batch, c, cy, cx] += eps
        change = (synthesis(nudged) - base.repeat(len(group), 1, 1, 1)) / eps
        change = change.unflatten(0, (len(group), batch)).mean(1)
        responses[first : first + len(group)] = change[
            ..., top : top + side, left : left + side
        ].cpu()
    energy = responses.pow(2).sum((0, 1))
    for r in range(radius + 1):  # the smallest square that holds all but a negligible part
        inner = slice(stride * (radius - r), stride * (radius + r + 1))
        if energy[inner, inner].sum() >= energy.sum() * (1 - 1e-9):
            return responses[..., inner, inner].contiguous()
    return responses


def synthesis_metric(responses: Tensor, stride: int) -> Tensor:
    """The Gram kernel of a linear synthesis with these impulse responses: W (M×M×(2L+1)²) such that
    Σ δ ⊙ conv2d(δ, W, padding=L) = ‖Σ_{c,p} δ_c(p)·h_c(· − stride·p)‖², the pixel squared error a
    latent error δ causes (exactly, for a synthesis that is linear and shift-invariant)."""
    side = responses.shape[-1]
    lags = (side - 1) // stride
    padded = nn.functional.pad(responses, (stride * lags,) * 4)
    # correlation[c', c, j] = <h_c(x), h_c'(x + stride·(j − L))>, for every lag j − L with overlap
    correlation = nn.functional.conv2d(padded, responses, stride=stride)
    return correlation.transpose(0, 1).flip(-1, -2).contiguous()


def linearised_synthesis(synthesis: nn.Module, t: Tensor, stride: int, samples: int = 4) -> Tensor:
    """The Gram kernel (:func:`synthesis_metric`) of ``synthesis`` linearised around the first
    ``samples`` latent grids of ``t``: what the latent tokenizers train and fit against."""
    return synthesis_metric(impulse_responses(synthesis, t[:samples], stride), stride)


def fit_linear_start(model: nn.Module, y: Tensor, stride: int) -> None:
    """Fit a latent tokenizer's linear start (``fit_linear``) to g_a latents ``y`` (B×M×h×w, many
    windows: the 1D plan orders 32k coefficients by their variance), under its synthesis's metric."""
    with torch.no_grad():
        t = model.decoder_space(y)
    model.fit_linear(t, linearised_synthesis(model.codec.g_s, t, stride))


def metric_energy(delta: Tensor, metric: Tensor) -> Tensor:
    """Per sample, the pixel squared error (summed) the latent error ``delta`` causes under the Gram
    kernel ``metric`` of :func:`synthesis_metric` (never negative)."""
    lags = (metric.shape[-1] - 1) // 2
    mixed = nn.functional.conv2d(delta, metric, padding=lags)
    return (delta * mixed).flatten(1).sum(1).clamp_min(0)


def metric_roots(metric: Tensor) -> tuple[Tensor, Tensor]:
    """G½ and G−½ (float64) of the Gram kernel's centre tap G (M×M: the pixel error a position's own
    latent error makes)."""
    lags = (metric.shape[-1] - 1) // 2
    centre = metric[:, :, lags, lags].double()
    values, vectors = torch.linalg.eigh((centre + centre.T) / 2)
    values = values.clamp_min(values.max() * 1e-6)
    return (
        vectors @ torch.diag(values.sqrt()) @ vectors.T,
        vectors @ torch.diag(values.rsqrt()) @ vectors.T,
    )


@torch.no_grad()
def set_linear_maps(
    project: nn.Conv2d, unproject: nn.Conv2d, analysis: Tensor, synthesis: Tensor, mean: Tensor
) -> None:
    """Make the 1×1 convs ``project`` = analysis·(t − mean) and ``unproject`` = synthesis·c + mean."""
    project.weight.copy_(analysis[..., None, None].float())
    project.bias.copy_((-analysis @ mean).float())
    unproject.weight.copy_(synthesis[..., None, None].float())
    unproject.bias.copy_(mean.float())


def synthesis_weighted_klt(t: Tensor, metric: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The principal directions of latents ``t`` (B×M×h×w) measured in the pixel error the synthesis
    makes of them (``metric``: its Gram kernel): (analysis M×M, synthesis M×M, mean M, variance M),
    float64, strongest first. analysis @ (t − mean) gives components whose squared error is the pixel
    squared error (of one position alone); synthesis maps them back."""
    whiten, unwhiten = metric_roots(metric)
    samples = t.permute(0, 2, 3, 1).reshape(-1, t.shape[1]).double()
    variance, directions = torch.linalg.eigh(whiten @ torch.cov(samples.T) @ whiten)
    variance, directions = variance.flip(0).clamp_min(0), directions.flip(1)
    return directions.T @ whiten, unwhiten @ directions, samples.mean(0), variance


@torch.no_grad()
def fit_fsq_transform(
    project: nn.Conv2d,
    unproject: nn.Conv2d,
    t: Tensor,
    metric: Tensor,
    levels: list[list[int]],
    step: float,
) -> None:
    """Make 1×1 maps a transform coder for FSQ of ``levels`` (one list per sub-token): the
    synthesis-weighted KLT of latents ``t`` (B×C×h×w) under ``metric``, its strongest directions on the
    channels with the most levels, each channel scaled so that one level is ``step`` (coarser where its
    levels could not span ±3 standard deviations)."""
    analysis, synthesis, mean, variance = synthesis_weighted_klt(t, metric)
    flat = torch.tensor([level for token in levels for level in token])
    channels = torch.argsort(flat, descending=True, stable=True)  # component r → channel
    half = (flat[channels].double() - 1) / 2
    steps = torch.maximum(torch.full_like(half, step), 3 * variance[: len(half)].sqrt() / half)
    order = torch.argsort(channels)
    analysis = (analysis[: len(half)] / (steps * half)[:, None])[order]
    synthesis = (synthesis[:, : len(half)] * (steps * half)[None])[:, order]
    set_linear_maps(project, unproject, analysis, synthesis, mean)
