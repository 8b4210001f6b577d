"""Pixel-domain predictive video coding: block motion compensation in pixels, a learned residual codec.

The hybrid design of classical codecs and of the learned ones that caught them (DVC, Lu et al. 2019;
SSF, Agustsson et al. 2020): a predicted frame is the previous decoded frame moved by block motion
vectors (quarter-pel, HEVC's interpolation filters, :mod:`vcodec.inter`; 16×16 blocks blended at
their edges, :mod:`vcodec.inter.obmc`), plus a residual that a learned image codec codes. Each 64×64
block is either *skipped* (the prediction stands; no residual symbols, no side information) or coded,
whichever costs less under the codec's own λ. Optionally (``quality_period``), every Nth predicted
frame is coded a quality higher than the rest, so that what the frames after it copy keeps improving.

::

    P:  x_t ──▶ block motion search on x̂_{t−1} ──▶ vectors ──▶ prediction p (exact integers)
        r = (128 + x_t − p)/255 ─▶ residual g_a ─▶ y ─▶ skip flags ─▶ z, ŷ of the coded blocks
        x̂_t = p in skipped blocks, round(p + 255·g_s(ŷ) − 128) in coded ones
        packet [flags, vectors, z, anchors, non-anchors]

The stream's parse never depends on pixel values: vectors, flags and the residual's symbols are each
decoded from their own sections, with probabilities from decoded symbols only (the residual codec's
exact entropy path). Pictures are whole numbers (uint8) between frames, so a reference is the same on
every machine unless a synthesis rounds differently at a half level (measured identical across thread
counts: ``tests/test_pixel_video.py``). Skipped latents take the latent of a flat residual.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from vcodec.codecs.base import DEFAULT_LAMBDAS, CodecConfig
from vcodec.codecs.hyperprior import CheckerboardCodec
from vcodec.codecs.video_base import (
    BLOCK,
    DEFAULT_SKIP_WEIGHT,
    RDOQ_WEIGHT,
    VideoCodec,
    synthesis_gain,
)
from vcodec.defaults import DEFAULT_INTRA_BOOST
from vcodec.entropy.flags import decode_flags, encode_flags
from vcodec.errors import BitstreamError
from vcodec.inter import SubpelReference, predict
from vcodec.inter.interpolation import block_field
from vcodec.inter.obmc import overlapped_prediction
from vcodec.inter.partition import SECTIONS as MOTION_SECTIONS
from vcodec.inter.partition import SMALL, Partition, search_partition

SKIP_PIXELS = 16 * BLOCK
MAX_SEARCH = 64  # pixels
TILE_MARGIN = 2  # latents of context around a coded block synthesized alone
RESIDUAL_ZERO = 128  # the level a zero prediction error takes in the residual image
# a P packet: skip flags, the motion's sections, then the residual's
MOTION_END = 1 + MOTION_SECTIONS


@dataclass
class PixelVideoConfig:
    """The image codecs' architecture (intra and residual share it), the motion search and
    compensation, and how quality varies through a GOP (all of it part of the stream's format)."""

    architecture: str = "pixel-residual"
    n: int = 128
    m: int = 128
    lambdas: tuple[float, ...] = field(default=DEFAULT_LAMBDAS)
    hyper_n: int | None = None  # the image codecs' hyper path width (None: n)
    search: int = 16  # the motion search range, pixels
    overlapped: bool = True  # overlapped block motion compensation (vcodec.inter.obmc)
    quality_period: int = 0  # every Nth predicted frame is coded a quality higher (0: none)

    def __post_init__(self) -> None:
        if not 1 <= self.search <= MAX_SEARCH:
            raise ValueError(f"search must be 1 to {MAX_SEARCH} pixels, got {self.search}")
        if self.quality_period < 0:
            raise ValueError(f"quality_period must be 0 or more, got {self.quality_period}")

    def intra_config(self) -> CodecConfig:
        return CodecConfig("mean-scale-checkerboard", self.n, self.m, self.lambdas, self.hyper_n)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PixelVideoConfig:
        names = (
            "architecture",
            "n",
            "m",
            "lambdas",
            "hyper_n",
            "search",
            "overlapped",
            "quality_period",
        )
        known = {k: data[k] for k in names if k in data}
        known["lambdas"] = tuple(known.get("lambdas", DEFAULT_LAMBDAS))
        return cls(**known)


def residual_levels(current: Tensor, prediction: Tensor) -> Tensor:
    """The prediction error of two uint8 pictures as an 8-bit image, :data:`RESIDUAL_ZERO` + x − p
    (clipped): what the residual codec codes, and what it trains on."""
    return (current.int() - prediction.int() + RESIDUAL_ZERO).clamp_(0, 255).to(torch.uint8)


def to_levels(picture: Tensor) -> Tensor:
    """A 1×3×H×W float picture in [0, 1] as 3×H×W uint8 levels."""
    return picture[0].mul(255).round_().clamp_(0, 255).to(torch.uint8)


class PixelResidualCodec(VideoCodec):
    """I-frames from ``intra``; P-frames as motion-compensated prediction plus a residual coded by
    ``residual`` (both image codecs of :meth:`PixelVideoConfig.intra_config`; untrained when None)."""

    predicted_sections = MOTION_END + 3  # skip flags, motion, z, anchors, non-anchors
    motion_sections = MOTION_SECTIONS
    # format version 1's motion sections differ (one Laplace; small vectors off their large one)
    first_format_version = 2

    def __init__(
        self,
        config: PixelVideoConfig,
        intra: CheckerboardCodec | None = None,
        residual: CheckerboardCodec | None = None,
    ):
        super().__init__()
        self.config = config
        expected = config.intra_config()
        for role, codec in (("intra", intra), ("residual", residual)):
            if codec is not None and codec.config != expected:
                raise ValueError(
                    f"{role} codec {codec.name} is {codec.config}, the video codec needs {expected}"
                )
        self.intra = CheckerboardCodec(expected) if intra is None else intra
        self.residual = CheckerboardCodec(expected) if residual is None else residual
        self._flat: dict[int, Tensor] = {}
        self._gains: dict[int, float] = {}

    def image_codecs(self) -> list[CheckerboardCodec]:
        return [self.intra, self.residual]

    def forget_coding_state(self) -> None:
        """Also the flat residual's latents and the synthesis gains."""
        super().forget_coding_state()
        self._flat, self._gains = {}, {}

    # --- training ------------------------------------------------------------------------------------
    def forward(self, frames: Tensor, quality: Tensor) -> dict:
        """Training pass on B×2×3×H×W frame pairs (``quality`` 1-based per sample): the residual codec's
        outputs on the prediction errors of frame 1 (:meth:`training_residuals`), which are ``x``."""
        residuals = self.training_residuals(frames, quality)
        return {**self.residual(residuals, quality), "x": residuals}

    @torch.no_grad()
    def training_residuals(self, frames: Tensor, quality: Tensor) -> Tensor:
        """What the residual codec trains on: the residual images (B×3×H×W in [0, 1]) of frame 1 of
        each pair (B×2×3×H×W) predicted from frame 0 as the intra codec's float path decodes it (at the
        boosted intra quality), with the encoder's motion search at each sample's λ (``quality``
        1-based). Motion search runs on the CPU, whatever the model's device."""
        boosted = (quality.long() + DEFAULT_INTRA_BOOST).clamp(max=self.num_qualities)
        # plain rounding in the gained space: close to the coded ŷ, cheaper
        gains = self.intra.y_gain
        y = self.intra.g_a(frames[:, 0])
        y_hat = torch.round(y * gains.gain(boosted - 1)) * gains.inverse_gain(boosted - 1)
        references = self.intra.g_s(y_hat).clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
        images = []
        for reference, frame, q in zip(references, frames[:, 1].cpu(), quality.tolist()):
            current = to_levels(frame[None])
            _, prediction = self.search(current, reference, self._mode_cost(q))
            images.append(residual_levels(current, prediction))
        return torch.stack(images).float().div_(255).to(frames.device)

    def search(self, current: Tensor, reference: Tensor, cost: float) -> tuple[Partition, Tensor]:
        """The encoder's motion for ``current`` from ``reference`` (3×H×W uint8) at ``cost`` bits per
        squared 8-bit level, and the prediction it gives."""
        motion = search_partition(current, reference, self.config.search, motion_rate_weight(cost))
        return motion, self._prediction(reference, motion)

    # --- the frames' state: the decoded picture -----------------------------------------------------
    @torch.inference_mode()
    def _intra_state(self, latent: Tensor, height: int, width: int) -> Tensor:
        return to_levels(self.intra.synthesize(latent, height, width))

    def _picture(self, state: Tensor, height: int, width: int) -> Tensor:
        return state[None].float().div_(255)

    def _frame_quality(self, quality: int, since_intra: int) -> int:
        """Every ``quality_period``-th predicted frame is coded a quality higher (at most the best),
        the others at the stream's: a hierarchical-quality low-delay structure, as in HEVC's low-delay
        test conditions. The better frames refine what the frames after them copy (a still
        background never improves when every frame takes the same greedy decisions)."""
        period = self.config.quality_period
        boost = 1 if period and since_intra % period == 0 else 0
        return min(quality + boost, self.num_qualities)

    def _state_error(self, x: Tensor, state: Tensor) -> float:
        """The decoded picture's squared error against the source, in 8-bit levels (its state is that picture)."""
        return float(_squared_error(to_levels(x), state).sum())

    # --- predicted frames ---------------------------------------------------------------------------
    def _prediction(self, reference: Tensor, motion: Partition) -> Tensor:
        """The motion-compensated prediction (3×H×W uint8)."""
        height, width = reference.shape[-2:]
        subpel = SubpelReference(reference, self.config.search + 1)
        if self.config.overlapped:
            return overlapped_prediction(subpel, motion.small_grid(), SMALL, height, width)
        return predict(subpel, motion.field(height, width))

    def flat_latent(self, quality: int) -> Tensor:
        """What the synthesis reads at skipped positions: the residual codec's quantized latent of a
        flat (zero) residual, one value per channel (1×M×1×1). Float arithmetic makes it, so it never
        enters the parse: the entropy coder's context sees skipped positions as zero."""
        if quality not in self._flat:
            device = next(self.residual.parameters()).device
            q = torch.tensor([quality - 1], device=device)
            with torch.inference_mode():
                flat = torch.full((1, 3, 256, 256), RESIDUAL_ZERO / 255, device=device)
                y = self.residual.g_a(flat)[..., 8:9, 8:9].double()
            gain = self.residual.y_gain.coding_gain(q).reshape(1, -1, 1, 1)
            inverse = self.residual.y_gain.coding_inverse_gain(q).reshape(1, -1, 1, 1)
            self._flat[quality] = ((y * gain).round() * inverse).float()
        return self._flat[quality]

    def _rdo_weight(self, quality: int, cost: float) -> Tensor:
        """Bits per unit of gained latent squared error (1×M×1) for rate–distortion-optimised
        quantization of the residual: :data:`RDOQ_WEIGHT` × ``cost`` (bits per squared 8-bit level) ×
        255² × the residual synthesis' gain (pixel squared error per latent squared error) / gain²."""
        q = torch.tensor([quality - 1])
        gain = self.residual.y_gain.coding_gain(q).reshape(1, -1, 1)
        return RDOQ_WEIGHT * cost * 255**2 * self._synthesis_gain(quality) / gain.pow(2)

    def _synthesis_gain(self, quality: int) -> float:
        """The residual synthesis' squared-error gain for quantization-sized changes around a flat
        residual (measured once per quality, with a seeded draw)."""
        if quality not in self._gains:
            flat = self.flat_latent(quality).expand(1, -1, 16, 16)
            with torch.inference_mode():
                gain = synthesis_gain(self.residual, flat, torch.tensor([quality - 1]))
            self._gains[quality] = gain
        return self._gains[quality]

    def _residual_image(self, current: Tensor, prediction: Tensor) -> Tensor:
        """The residual as the image the residual codec codes (padded)."""
        return self.residual.pad(residual_levels(current, prediction)[None].float().div_(255))

    def _reconstruct(
        self, prediction: Tensor, y_hat: Tensor, blocks: Tensor, quality: int
    ) -> Tensor:
        """The decoded picture: the prediction in skipped blocks, plus the decoded residual in the others."""
        if not blocks.any():
            return prediction
        height, width = prediction.shape[-2:]
        residual = self._synthesize_residual(y_hat, blocks, quality)[:, :height, :width]
        coded = (prediction.float() + residual * 255 - RESIDUAL_ZERO).round_().clamp_(0, 255)
        mask = _pixel_mask(blocks, height, width)
        return torch.where(mask, coded.to(torch.uint8), prediction)

    def _synthesize_residual(self, y_hat: Tensor, blocks: Tensor, quality: int) -> Tensor:
        """The decoded residual image (3×H'×W', the padded size), right in the coded blocks. When few
        blocks are coded, each is synthesized alone from its latents and :data:`TILE_MARGIN` latents
        around them (the flat residual's beyond the frame): a sparse P-frame then costs a fraction of a
        whole-frame synthesis. Encoder and decoder choose alike, from the flags."""
        flat = self.flat_latent(quality)
        # skipped positions: a flat residual's latent
        y_hat = torch.where(_expand(blocks), y_hat.float(), flat)
        coded = blocks.nonzero().tolist()
        side = BLOCK + 2 * TILE_MARGIN
        if len(coded) * side**2 >= y_hat.shape[-2] * y_hat.shape[-1]:
            return self.residual.g_s(y_hat)[0].clamp(0, 1)
        m = TILE_MARGIN
        padded = flat.expand(1, -1, y_hat.shape[-2] + 2 * m, y_hat.shape[-1] + 2 * m).clone()
        padded[..., m:-m, m:-m] = y_hat
        tiles = torch.cat(
            [
                padded[..., r * BLOCK : r * BLOCK + side, c * BLOCK : c * BLOCK + side]
                for r, c in coded
            ]
        )
        inner = self.residual.g_s(tiles).clamp(0, 1)[..., 16 * m : -16 * m, 16 * m : -16 * m]
        canvas = torch.full((3, *(16 * n for n in y_hat.shape[-2:])), RESIDUAL_ZERO / 255)
        for tile, (r, c) in zip(inner, coded):
            canvas[
                :, r * SKIP_PIXELS : (r + 1) * SKIP_PIXELS, c * SKIP_PIXELS : (c + 1) * SKIP_PIXELS
            ] = tile
        return canvas

    @torch.inference_mode()
    def _encode_predicted(
        self,
        x: Tensor,
        previous: Tensor,
        reference: Tensor,
        quality: int,
        setup: object = None,
        skip_weight: float = DEFAULT_SKIP_WEIGHT,
    ) -> tuple[list[bytes], Tensor]:
        """A P-frame's sections and its decoded picture, at ``quality``'s λ."""
        cost = self._mode_cost(quality)
        current = to_levels(x)
        motion, prediction = self.search(current, reference, cost)
        q = torch.tensor([quality - 1])
        y = self.residual.g_a(self._residual_image(current, prediction))
        z = self.residual.h_a(y)
        blocks = self._blocks_worth_coding(current, prediction, y, z, q, skip_weight * cost)
        sections = [encode_flags(blocks), *motion.encode(self.config.search)]
        latent = self.residual.latent
        if not blocks.any():  # the prediction stands everywhere: no residual sections
            return [*sections, *[b""] * latent.sections], prediction
        z_sections, z_hat = latent.side.compress(z, q, keep=blocks)
        y_sections, y_hat = latent.y.compress(
            y,
            q,
            latent.exact_synthesis(z_hat),
            keep=_expand(blocks),
            reference=torch.zeros_like(y),
            rdo_weight=self._rdo_weight(quality, cost) if RDOQ_WEIGHT else None,
        )
        picture = self._reconstruct(prediction, y_hat, blocks, quality)
        return [*sections, *z_sections, *y_sections], picture

    def _blocks_worth_coding(
        self, current: Tensor, prediction: Tensor, y: Tensor, z: Tensor, q: Tensor, cost: float
    ) -> Tensor:
        """The skip decision: a dry run codes every block (float estimate), then a block is coded when
        the squared error its residual removes, at ``cost`` bits each, outweighs its bits."""
        rows, cols = y.shape[-2] // BLOCK, y.shape[-1] // BLOCK
        if cost == 0:
            return torch.zeros((rows, cols), dtype=torch.bool)
        if cost == float("inf"):
            return torch.ones((rows, cols), dtype=torch.bool)
        latent = self.residual.latent
        z_gained = latent.side.quantize_gained(z, q)
        hyper = self.residual.h_s(
            z_gained.float() * self.residual.z_gain.coding_inverse_gain(q).float()
        )
        coded, bits = latent.y.estimate(y, q, hyper)
        spent = F.avg_pool2d(bits.sum(dim=1, keepdim=True).double(), BLOCK, divisor_override=1)[
            0, 0
        ]
        skip_error = _squared_error(current, prediction)
        # a block whose whole prediction error is worth less than its bits stays skipped; only the
        # others are synthesized (alone, when few), which keeps static content cheap to encode
        candidates = cost * _block_sums(skip_error) > spent
        if not candidates.any():
            return candidates
        picture = self._reconstruct(prediction, coded, candidates, int(q) + 1)
        gained = _block_sums(skip_error - _squared_error(current, picture))
        return candidates & (cost * gained > spent)

    @torch.inference_mode()
    def _decode_predicted(self, sections: list[bytes], reference: Tensor, quality: int) -> Tensor:
        height, width = reference.shape[-2:]
        rows, cols = self.residual.latent_shape(height, width)
        blocks = decode_flags(sections[0], (rows // BLOCK, cols // BLOCK))
        motion = Partition.decode(sections[1:MOTION_END], height, width, self.config.search)
        prediction = self._prediction(reference, motion)
        if not blocks.any():
            if any(sections[MOTION_END:]):
                raise BitstreamError("residual data in a frame that codes no block")
            return prediction
        q = torch.tensor([quality - 1])
        latent = self.residual.latent
        z_shape = (1, self.residual.config.side_channels, *blocks.shape)
        z_hat = latent.side.decompress(
            sections[MOTION_END : MOTION_END + 1], q, z_shape, keep=blocks
        )
        shape = (1, self.residual.config.m, rows, cols)
        y_hat = latent.y.decompress(
            sections[MOTION_END + 1 :],
            q,
            shape,
            latent.exact_synthesis(z_hat),
            keep=_expand(blocks),
            reference=torch.zeros(shape),
        )
        return self._reconstruct(prediction, y_hat, blocks, quality)


def motion_rate_weight(cost: float) -> float:
    """Luma SAD worth one bit of motion: √(1/cost), H.264's λ_motion = √λ_mode, with λ_mode the squared
    error one bit is worth (``cost`` is bits per squared error)."""
    return (1 / cost) ** 0.5 if cost else 0.0


def _expand(blocks: Tensor) -> Tensor:
    """Skip-block flags as a per-latent mask."""
    return blocks.repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)


def _pixel_mask(blocks: Tensor, height: int, width: int) -> Tensor:
    """Skip-block flags as a per-pixel mask (H×W)."""
    return block_field(blocks, SKIP_PIXELS, height, width)


def _squared_error(a: Tensor, b: Tensor) -> Tensor:
    """Per-pixel squared error summed over channels (H×W, int64) of two uint8 pictures."""
    return (a.long() - b.long()).pow_(2).sum(0)


def _block_sums(values: Tensor) -> Tensor:
    """Sums over the 64×64 skip blocks (partial at the edges), float64."""
    height, width = values.shape
    padded = F.pad(values.double(), (0, -width % SKIP_PIXELS, 0, -height % SKIP_PIXELS))
    return F.avg_pool2d(padded[None, None], SKIP_PIXELS, divisor_override=1)[0, 0]
