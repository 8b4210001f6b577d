"""A learned video codec: intra frames from the image codec, predicted frames from a temporal entropy model.

One frame autoencoder serves every frame (the image codec's g_a / g_s, frozen), and the temporal prior
does the work, as in the spatiotemporal-entropy-model line of learned video coding (Liu et al., "Learned
Video Compression via Joint Spatial-Temporal Correlation Exploration", AAAI 2020). A P-frame's latent
y_t is coded under Gaussians whose scales and means come from three sources: the frame's own
hyperprior z_t (as in the image codec), the previous decoded latent ŷ_{t−1} (a small convolutional
network), and the two-pass checkerboard context. The mean is μ_net + α·ŷ_{t−1} with a learned,
per-element α, so a static scene predicts itself. The prior starts as an exact copy of the image
codec's (temporal weights and α at zero) and training only adds what the previous frame tells.
On top of that, a 4×4-latent block (64×64 pixels) can be skipped: one flag, no z or y symbols, and
the decoder copies ŷ_{t−1} there, which is what makes static backgrounds nearly free. The encoder
decides per block by rate–distortion cost with the image codec's own λ: it skips a block when the
bits its symbols would cost are worth more than the distortion that copying adds (estimated in the
latent domain, scaled by the synthesis transform's measured gain). The same exchange rate drives
rate–distortion-optimised quantization of the coded symbols: each may round one step towards its
predicted mean when the bits saved outweigh the error added (an encoder choice; decoders never see it).
Intra frames are coded one quality above the predicted frames (their packet says which): every block a
later frame copies inherits that quality, as the I/P quality ratio of classical encoders intends.
A codec with ``motion_search`` (:mod:`vcodec.codecs.motion`) also sends an integer motion vector per
32×32 pixels of every coded block, and the prior conditions on ŷ_{t−1} moved by them (a learned,
exact latent predictor) instead of on ŷ_{t−1} itself; skipped blocks still copy ŷ_{t−1}.

::

    I:  x_t ─▶ image codec ─▶ packet [quality, z, anchors, non-anchors]         ŷ_t ─▶ g_s ─▶ x̂_t
    P:  x_t ─▶ g_a ─▶ y_t ─▶ skip flags ─▶ z_t of the coded blocks ─▶ hyper features ─┐
        [Gaussian(μ, σ) ◀─ hyper features + temporal(ỹ) + context] ◀─────────────────┘
        ỹ = ŷ_{t−1}, or with motion: ỹ = motion(ŷ_{t−1}, vectors of x_t against x_{t−1})
        packet [flags, (vectors,) z, anchors, non-anchors]

Everything the coder sees is computed in fixed point (see :mod:`vcodec.layers.exact`), so the decoder
rebuilds every probability bit for bit; the state between frames is one latent, so memory does not
grow with the length of the video.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vcodec.codecs.base import DEFAULT_LAMBDAS, CodecConfig
from vcodec.codecs.hyperprior import CheckerboardCodec
from vcodec.codecs.motion import (
    MOTION_BLOCK,
    LatentMotion,
    decode_motion,
    encode_motion,
    estimate_motion,
)
from vcodec.codecs.video_base import (
    BLOCK,
    DEFAULT_SKIP_WEIGHT,
    RDOQ_WEIGHT,
    VideoCodec,
    synthesis_gain,
)
from vcodec.entropy.flags import decode_flags, encode_flags
from vcodec.latent_codecs import CheckerboardLatentCodec
from vcodec.layers import CheckerboardConv2d
from vcodec.layers.exact import ExactStack, from_fixed, to_fixed

PREDICTED_SECTIONS = 4  # block flags, z, anchors, non-anchors
MAX_MOTION_SEARCH = 32  # pixels; a search of ±R compares (2R+1)² displacements per block


@dataclass
class VideoCodecConfig:
    """Architecture of the video codec: the image codec it builds on, and the temporal prior's width."""

    architecture: str = "temporal-checkerboard"
    n: int = 64
    m: int = 128
    lambdas: tuple[float, ...] = field(default=DEFAULT_LAMBDAS)
    temporal_width: int = 96
    hyper_n: int | None = None  # the image codec's hyper path width (None: n)
    motion_search: int = 0  # block motion search range in pixels (0: no motion vectors)
    motion_width: int = 128  # the latent motion predictor's width (with motion_search)

    def __post_init__(self) -> None:
        if not 0 <= self.motion_search <= MAX_MOTION_SEARCH:
            raise ValueError(
                f"motion_search must be 0 (no motion) to {MAX_MOTION_SEARCH} pixels, got {self.motion_search}"
            )
        if self.motion_search and self.motion_width < 1:
            raise ValueError(f"motion_width must be at least 1, got {self.motion_width}")

    def intra_config(self) -> CodecConfig:
        return CodecConfig("mean-scale-checkerboard", self.n, self.m, self.lambdas, self.hyper_n)

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.hyper_n is None:  # configs written before the field existed stay the same
            del out["hyper_n"]
        if not self.motion_search:
            del out["motion_search"], out["motion_width"]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "VideoCodecConfig":
        names = (
            "architecture",
            "n",
            "m",
            "lambdas",
            "temporal_width",
            "hyper_n",
            "motion_search",
            "motion_width",
        )
        known = {k: data[k] for k in names if k in data}
        known["lambdas"] = tuple(known.get("lambdas", DEFAULT_LAMBDAS))
        return cls(**known)


class TemporalPrior(nn.Module):
    """Entropy parameters of a P-frame latent from its hyper features, ŷ_{t−1} (moved by the motion vectors
    when the codec has them) and the checkerboard context."""

    def __init__(self, m: int, width: int, motion_width: int = 0):
        super().__init__()
        self.m = m
        self.motion = LatentMotion(m, motion_width) if motion_width else None
        self.temporal = nn.Sequential(
            nn.Conv2d(m, width, 3, padding=1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(width, 2 * m, 3, padding=1),
        )
        self.context = CheckerboardConv2d(m, 2 * m, kernel_size=5)
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(6 * m, 10 * m // 3, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(10 * m // 3, 8 * m // 3, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(8 * m // 3, 3 * m, 1),
        )

    def params(
        self, hyper: Tensor, temporal: Tensor, context: Tensor, reference: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(scales, means) of the ungained latent (float, for training)."""
        scales, means, alpha = self.entropy_parameters(
            torch.cat((hyper, temporal, context), dim=1)
        ).chunk(3, dim=1)
        return scales, means + alpha * reference

    @torch.no_grad()
    def start_from(self, intra: CheckerboardCodec) -> None:
        """Copy the image codec's context and entropy-parameter weights, with the temporal inputs and α at
        zero: the prior starts exactly as good as intra coding."""
        m = self.m
        self.context.load_state_dict(intra.context.state_dict())
        first, source = self.entropy_parameters[0], intra.entropy_parameters[0]
        first.weight.zero_()
        first.weight[:, : 2 * m] = source.weight[:, : 2 * m]
        first.weight[:, 4 * m :] = source.weight[:, 2 * m :]
        first.bias.copy_(source.bias)
        self.entropy_parameters[2].load_state_dict(intra.entropy_parameters[2].state_dict())
        last, source = self.entropy_parameters[4], intra.entropy_parameters[4]
        last.weight.zero_()
        last.bias.zero_()
        last.weight[: 2 * m] = source.weight
        last.bias[: 2 * m] = source.bias


class LearnedVideoCodec(VideoCodec):
    """I/P-frame video codec whose predicted frames code the latent under a temporal prior."""

    def __init__(self, config: VideoCodecConfig, intra: CheckerboardCodec | None = None):
        """``intra``: the (shipped) image codec to build on; a new, untrained one when None."""
        super().__init__()
        self.config = config
        if intra is not None and intra.config != config.intra_config():
            raise ValueError(
                f"image codec {intra.name} is {intra.config}, the video codec needs {config.intra_config()}"
            )
        self.intra = CheckerboardCodec(config.intra_config()) if intra is None else intra
        self.prior = TemporalPrior(
            config.m, config.temporal_width, config.motion_width if config.motion_search else 0
        )
        self._exact: dict | None = None
        self._weights_hash: bytes | None = None
        self._latent: CheckerboardLatentCodec | None = None

    # --- training ---------------------------------------------------------------------------------
    def forward(self, frames: Tensor, quality: Tensor) -> dict:
        """Training pass on B×2×3×H×W frame pairs: likelihoods of frame 1's latent coded as a P-frame after
        frame 0 is intra-coded (``quality`` 1-based per sample), and frame 0's intra likelihoods; with
        motion, also ``prediction_bits``, a rate proxy for the motion predictor's error."""
        q = quality.long().reshape(-1) - 1
        with torch.no_grad():
            y0, y1 = self.intra.g_a(frames[:, 0]), self.intra.g_a(frames[:, 1])
            reference, intra_likelihoods = self.intra.forward_latent(y0, q)
            side = self.intra.latent
            z_hat, z_likelihoods = side.side.forward(self.intra.h_a(y1), q)
            hyper = side.synthesis(z_hat)
        gain = self.intra.y_gain.gain(q)
        out = {}
        if self.prior.motion is not None:
            reference = self.prior.motion(
                reference, estimate_motion(frames[:, 1], frames[:, 0], self.config.motion_search)
            )
            # what a unit-scale Gaussian centred on the prediction would spend on the error, in bits per
            # pixel: a direct signal for the predictor, which the rate alone reaches only through the prior
            error = ((y1 - reference) * gain).pow(2).flatten(1).sum(1)
            out["prediction_bits"] = error / (2 * math.log(2) * frames.shape[-2] * frames.shape[-1])
        temporal = self.prior.temporal(reference)
        _, likelihoods = self.latent.forward(y1, q, (hyper, temporal, reference))
        return {
            "likelihoods": {**likelihoods, **z_likelihoods},
            "intra_likelihoods": intra_likelihoods,
            **out,
        }

    # --- coding state -------------------------------------------------------------------------------
    def forget_coding_state(self) -> None:
        """Also the exact temporal networks."""
        super().forget_coding_state()
        self._exact = None

    @property
    def latent(self) -> CheckerboardLatentCodec:
        """How a predicted frame's y is coded: the image codec's Gaussian model and gains, in
        checkerboard passes conditioned on (hyper features, temporal features, prediction)."""
        if self._latent is None:
            self._latent = CheckerboardLatentCodec(
                self.intra.y_model,
                self.intra.y_gain,
                self.prior.context,
                params=self._params,
                exact_context=lambda: self.exact["context"],
                exact_params=self._exact_params,
            )
        return self._latent

    @property
    def exact(self) -> dict:
        if self._exact is None:
            self._exact = {
                "temporal": ExactStack(self.prior.temporal),
                "context": ExactStack(self.prior.context),
                "entropy_parameters": ExactStack(self.prior.entropy_parameters),
            }
            if self.prior.motion is not None:
                self._exact["motion"] = self.prior.motion.exact()
        return self._exact

    # --- the frames' state: the decoded latent ------------------------------------------------------
    @property
    def predicted_sections(self) -> int:
        return PREDICTED_SECTIONS + self.motion_sections

    @property
    def motion_sections(self) -> int:
        return int(self.prior.motion is not None)

    def _intra_state(self, latent: Tensor, height: int, width: int) -> Tensor:
        return latent

    @torch.inference_mode()
    def _picture(self, state: Tensor, height: int, width: int) -> Tensor:
        return self.intra.synthesize(state, height, width)

    def _gop_setup(self, state: Tensor, quality: int) -> float:
        """Bits per unit of latent squared error, from λ: the GOP's rate–distortion decisions."""
        lam = self.intra.config.lambdas[quality - 1]
        return lam * 255**2 * synthesis_gain(self.intra, state, torch.tensor([quality - 1])) / 3

    # --- predicted frames ---------------------------------------------------------------------------
    def _params(self, condition: tuple, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """(scales, means) of the ungained latent in float: ``condition`` is (hyper features, temporal
        features, prediction)."""
        hyper, temporal, prediction = condition
        context = torch.zeros_like(hyper) if context is None else context
        return self.prior.params(hyper, temporal, context, prediction)

    def _exact_params(
        self, condition: tuple, context: Tensor | None, half: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The same in exact arithmetic at one checkerboard half (1×M×P); ``condition`` holds the exact
        hyper and temporal features and the prediction (float64)."""
        hyper, temporal = (features[..., half] for features in condition[:2])
        context = torch.zeros_like(hyper) if context is None else context
        stacked = torch.cat((hyper, temporal, context), dim=1).unsqueeze(-1)
        scales, means, alpha = from_fixed(
            self.exact["entropy_parameters"](stacked).squeeze(-1)
        ).chunk(3, dim=1)
        return scales, means + alpha * condition[2][..., half]

    def _prediction(self, reference: Tensor, vectors: Tensor | None) -> tuple[Tensor, Tensor]:
        """What the temporal prior conditions on: ŷ_{t−1} moved by the motion vectors (float64, exact), and
        its temporal features (fixed point)."""
        prediction = (
            reference.double() if vectors is None else self.exact["motion"](reference, vectors)
        )
        return prediction, self.exact["temporal"](to_fixed(prediction))

    def _condition(self, z_hat: Tensor, reference: Tensor, vectors: Tensor | None) -> tuple:
        """The exact condition of a P-frame's y: hyper features of ẑ, temporal features, prediction."""
        prediction, temporal = self._prediction(reference, vectors)
        return self.intra.latent.exact_synthesis(z_hat), temporal, prediction

    def _encode_predicted(
        self,
        x: Tensor,
        previous: Tensor,
        reference: Tensor,
        quality: int,
        cost: float,
        skip_weight: float = DEFAULT_SKIP_WEIGHT,
    ) -> tuple[list[bytes], Tensor]:
        """A P-frame's sections and its ŷ; ``cost`` converts latent squared error into bits (λ·255²·gain/3),
        weighted by ``skip_weight`` in the skip decision and by :data:`RDOQ_WEIGHT` in quantization.
        ``previous`` is the source frame before ``x``, for motion estimation."""
        q = torch.tensor([quality - 1])
        x = self.intra.pad(x)
        y = self.intra.g_a(x)
        z = self.intra.h_a(y)
        vectors = None
        if self.prior.motion is not None:
            vectors = estimate_motion(x, self.intra.pad(previous), self.config.motion_search)
        blocks = self._blocks_worth_coding(y, z, reference, vectors, q, skip_weight * cost)
        z_sections, z_hat = self.intra.latent.side.compress(z, q, keep=blocks)
        sections = [encode_flags(blocks)]
        if vectors is not None:  # only coded blocks carry vectors; the others' matter too little
            moving = motion_blocks(blocks)
            vectors = vectors * moving
            sections.append(
                encode_motion(vectors[0].permute(1, 2, 0)[moving], self.config.motion_search)
            )
        gain = self.intra.y_gain.coding_gain(q).reshape(1, -1, 1)
        y_sections, y_hat = self.latent.compress(
            y,
            q,
            self._condition(z_hat, reference, vectors),
            keep=expand_blocks(blocks),
            reference=reference,
            # bits per unit of gained latent squared error
            rdo_weight=RDOQ_WEIGHT * cost / gain.pow(2) if RDOQ_WEIGHT else None,
        )
        return [*sections, *z_sections, *y_sections], y_hat.float()

    def _blocks_worth_coding(
        self,
        y: Tensor,
        z: Tensor,
        reference: Tensor,
        vectors: Tensor | None,
        q: Tensor,
        cost: float,
    ) -> Tensor:
        """The rate–distortion skip decision: a dry run codes every block to learn its bits and its
        latent error, then a block is coded when the distortion that copying would add costs more."""
        height, width = reference.shape[-2:]
        every = torch.ones((height // BLOCK, width // BLOCK), dtype=torch.bool)
        if cost == 0:
            return ~every
        if math.isinf(cost):
            return every
        bits, coded = self._dry_run(y, z, reference, vectors, q)
        extra = ((y - reference).pow(2) - (y - coded).pow(2)).sum(dim=1)[0].double()
        return F.avg_pool2d((cost * extra - bits)[None, None], BLOCK, divisor_override=1)[0, 0] > 0

    def _dry_run(
        self, y: Tensor, z: Tensor, reference: Tensor, vectors: Tensor | None, q: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Estimated bits per latent position (H×W, float64) and the ŷ (float32) of coding every block,
        through the float prior: an encoder-only estimate, so it need not be exact, and in float32 it
        costs a fraction of the exact pass the chosen blocks then take."""
        z_gained = self.intra.latent.side.quantize_gained(z, q)
        hyper = self.intra.h_s(z_gained.float() * self.intra.z_gain.coding_inverse_gain(q).float())
        reference = reference.float()
        prediction = reference if vectors is None else self.prior.motion(reference, vectors)
        coded, bits = self.latent.estimate(
            y, q, (hyper, self.prior.temporal(prediction), prediction)
        )
        return bits.sum(dim=1)[0].double(), coded

    def _decode_predicted(self, sections: list[bytes], reference: Tensor, quality: int) -> Tensor:
        q = torch.tensor([quality - 1])
        height, width = reference.shape[-2:]
        blocks = decode_flags(sections[0], (height // BLOCK, width // BLOCK))
        vectors, first_z = None, 1
        if self.prior.motion is not None:
            moving = motion_blocks(blocks)
            coded = decode_motion(sections[1], int(moving.sum()), self.config.motion_search)
            vectors = torch.zeros((1, *moving.shape, 2), dtype=torch.long)
            vectors[0][moving] = coded
            vectors, first_z = vectors.permute(0, 3, 1, 2), 2
        z_shape = (1, self.intra.config.side_channels, *blocks.shape)
        z_hat = self.intra.latent.side.decompress(
            sections[first_z : first_z + 1], q, z_shape, keep=blocks
        )
        return self.latent.decompress(
            sections[first_z + 1 :],
            q,
            tuple(reference.shape),
            self._condition(z_hat, reference, vectors),
            keep=expand_blocks(blocks),
            reference=reference,
        ).float()


def motion_blocks(blocks: Tensor) -> Tensor:
    """Skip-block flags (h/BLOCK × w/BLOCK) as flags of the motion-vector grid inside them."""
    factor = BLOCK // MOTION_BLOCK
    return blocks.repeat_interleave(factor, 0).repeat_interleave(factor, 1)


def expand_blocks(blocks: Tensor) -> Tensor:
    """Block flags (h/BLOCK × w/BLOCK) as a per-latent mask (h × w)."""
    return blocks.repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)
