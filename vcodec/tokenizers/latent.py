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


class CodecLatentSpace:
    """Mixin for a :class:`~vcodec.tokenizers.base.LearnedTokenizer` whose grid is a codec's latent
    t = y·gain·inverse gain (the codec's top quality, unrounded: what g_s reads).

    The tokenizer provides ``_encode_grid(t)`` (B×N×D continuous tokens), ``_decode_features(vectors)``
    (decoder output), ``latent_grid(features)`` (that output as B×M×h×w) and ``_token_pass(t, k)``
    (the training pass: {"features", "quantizer", "lengths"}).
    """

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
            return self.decoder_space(self.codec.g_a(images))

    def _pixels(self, vectors: Tensor) -> Tensor:
        return self.codec.g_s(self.latent_grid(self._decode_features(vectors)))

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
def synthesis_weights(synthesis: nn.Module, t: Tensor, probes: int = 8, seed: int = 0) -> Tensor:
    """Per latent channel, the pixel squared error (summed over the image) that one unit of squared
    error at one latent position causes through ``synthesis``, measured around the latents ``t`` with
    small seeded perturbations of one channel at a time. Σ_c w_c·‖t̂_c − t_c‖² then approximates the
    pixel squared error, which is what a frozen g_s makes of a latent loss."""
    generator = torch.Generator().manual_seed(seed)
    channels = t.shape[1]
    base = synthesis(t)
    scale = t.transpose(0, 1).flatten(1).std(1).clamp_min(1e-3) * 0.05  # small: the linear regime
    weights = torch.empty(channels)
    for first in range(0, channels, probes):
        group = range(first, min(first + probes, channels))
        delta = torch.zeros((len(group),) + t.shape)
        for i, c in enumerate(group):
            delta[i, :, c] = torch.randn(t[:, c].shape, generator=generator) * scale[c]
        delta = delta.to(t.device, t.dtype)
        change = synthesis((t[None] + delta).flatten(0, 1)) - base.repeat(len(group), 1, 1, 1)
        change = change.unflatten(0, (len(group), t.shape[0]))
        weights[first : first + len(group)] = (
            change.pow(2).flatten(1).sum(1) / delta.pow(2).flatten(1).sum(1)
        ).cpu()
    return weights
