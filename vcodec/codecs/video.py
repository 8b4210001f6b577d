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

::

    I:  x_t ─▶ image codec ─▶ packet [quality, z, anchors, non-anchors]         ŷ_t ─▶ g_s ─▶ x̂_t
    P:  x_t ─▶ g_a ─▶ y_t ─▶ skip flags ─▶ z_t of the coded blocks ─▶ hyper features ─┐
        [Gaussian(μ, σ) ◀─ hyper features + temporal(ŷ_{t−1}) + context] ◀──────────┘
        packet [flags, z, anchors, non-anchors]

Everything the coder sees is computed in fixed point (see :mod:`vcodec.layers.exact`), so the decoder
rebuilds every probability bit for bit; the state between frames is one latent, so memory does not
grow with the length of the video.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import BinaryIO

import constriction
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vcodec.codecs.base import DEFAULT_LAMBDAS, CodecConfig, _as_rgb
from vcodec.codecs.hyperprior import CheckerboardCodec, checkerboard_code, checkerboard_forward
from vcodec.entropy.container import (Container, FrameType, Kind, Packet, VideoInfo, find_packet, read_packet,
                                      read_video_header)
from vcodec.errors import BitstreamError, VcodecError
from vcodec.layers import CheckerboardConv2d
from vcodec.layers.exact import ExactStack, from_fixed, to_fixed
from vcodec.weights import resize_table_buffers, weights_hash

BLOCK = 4  # skip decisions cover BLOCK×BLOCK latents (64×64 pixels)
PREDICTED_SECTIONS = 4  # block flags, z, anchors, non-anchors
DEFAULT_INTRA_PERIOD = 32
RDOQ_WEIGHT = 2.0  # distortion weight of P-frame RDO quantization relative to λ (0: plain rounding)
DEFAULT_SKIP_WEIGHT = 1.0  # the weight of distortion against bits in the skip decision, relative to λ
DEFAULT_INTRA_BOOST = 1  # intra frames are coded this many qualities above the predicted frames


@dataclass
class VideoCodecConfig:
    """Architecture of the video codec: the image codec it builds on, and the temporal prior's width."""

    architecture: str = "temporal-checkerboard"
    n: int = 64
    m: int = 128
    lambdas: tuple[float, ...] = field(default=DEFAULT_LAMBDAS)
    temporal_width: int = 96
    hyper_n: int | None = None  # the image codec's hyper path width (None: n)

    def intra_config(self) -> CodecConfig:
        return CodecConfig("mean-scale-checkerboard", self.n, self.m, self.lambdas, self.hyper_n)

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.hyper_n is None:  # configs written before the field existed stay the same
            del out["hyper_n"]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "VideoCodecConfig":
        known = {k: data[k] for k in ("architecture", "n", "m", "lambdas", "temporal_width", "hyper_n") if k in data}
        known["lambdas"] = tuple(known.get("lambdas", DEFAULT_LAMBDAS))
        return cls(**known)


class TemporalPrior(nn.Module):
    """Entropy parameters of a P-frame latent from its hyper features, ŷ_{t−1} and the checkerboard context."""

    def __init__(self, m: int, width: int):
        super().__init__()
        self.m = m
        self.temporal = nn.Sequential(
            nn.Conv2d(m, width, 3, padding=1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(width, 2 * m, 3, padding=1),
        )
        self.context = CheckerboardConv2d(m, 2 * m, kernel_size=5)
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(6 * m, 10 * m // 3, 1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(10 * m // 3, 8 * m // 3, 1), nn.LeakyReLU(inplace=True),
            nn.Conv2d(8 * m // 3, 3 * m, 1),
        )

    def params(self, hyper: Tensor, temporal: Tensor, context: Tensor, reference: Tensor) -> tuple[Tensor, Tensor]:
        """(scales, means) of the ungained latent (float, for training)."""
        scales, means, alpha = self.entropy_parameters(torch.cat((hyper, temporal, context), dim=1)).chunk(3, dim=1)
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


class LearnedVideoCodec(nn.Module):
    """I/P-frame video codec; ``encode`` / ``decode`` stream one packet per frame."""

    name: str = "unnamed"

    def __init__(self, config: VideoCodecConfig):
        super().__init__()
        self.config = config
        self.intra = CheckerboardCodec(config.intra_config())
        self.prior = TemporalPrior(config.m, config.temporal_width)
        self._exact: dict | None = None
        self._weights_hash: bytes | None = None

    # --- qualities (those of the image codec) -------------------------------------------------------
    @property
    def num_qualities(self) -> int:
        return self.intra.num_qualities

    @property
    def default_quality(self) -> int:
        return self.intra.default_quality

    def check_quality(self, quality: int) -> int:
        return self.intra.check_quality(quality)

    # --- training ---------------------------------------------------------------------------------
    def forward(self, frames: Tensor, quality: Tensor) -> dict:
        """Training pass on B×2×3×H×W frame pairs: likelihoods of frame 1's latent coded as a P-frame after
        frame 0 is intra-coded (``quality`` 1-based per sample), and frame 0's intra likelihoods."""
        q = quality.long().reshape(-1) - 1
        with torch.no_grad():
            y0, y1 = self.intra.g_a(frames[:, 0]), self.intra.g_a(frames[:, 1])
            reference, intra_likelihoods = self.intra._forward_latent(y0, q)
            z_hat, z_likelihoods = self.intra.z_model(self.intra.h_a(y1) * self.intra.z_gain.gain(q))
            hyper = self.intra._hyper_features(z_hat, q)
        gain, inverse = self.intra.y_gain.gain(q), self.intra.y_gain.inverse_gain(q)
        temporal = self.prior.temporal(reference)

        def params(context: Tensor | None) -> tuple[Tensor, Tensor]:
            context = torch.zeros_like(hyper) if context is None else context
            scales, means = self.prior.params(hyper, temporal, context, reference)
            return scales * gain, means * gain

        _, likelihoods = checkerboard_forward(y1 * gain, params, self.prior.context, inverse, self.intra.y_model)
        return {"likelihoods": {"y": likelihoods, "z": z_likelihoods}, "intra_likelihoods": intra_likelihoods}

    # --- coding state -------------------------------------------------------------------------------
    def update(self) -> None:
        """Freeze what the coder uses: the image codec's tables and gains, and the exact temporal networks."""
        self.intra.update()
        self._exact = None
        self._weights_hash = None

    @property
    def exact(self) -> dict:
        if self._exact is None:
            self._exact = {"temporal": ExactStack(self.prior.temporal), "context": ExactStack(self.prior.context),
                           "entropy_parameters": ExactStack(self.prior.entropy_parameters)}
        return self._exact

    @property
    def weights_hash(self) -> bytes:
        if self._weights_hash is None:
            self._weights_hash = weights_hash(self)
        return self._weights_hash

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._exact, self._weights_hash = None, None
        resize_table_buffers(self, state_dict)
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.intra._exact, self.intra._weights_hash = None, None
        return result

    # --- streaming coding ---------------------------------------------------------------------------
    def encode(self, frames: Iterable[Tensor], quality: int | None = None, intra_period: int = DEFAULT_INTRA_PERIOD,
               skip_weight: float = DEFAULT_SKIP_WEIGHT, intra_boost: int = DEFAULT_INTRA_BOOST) -> Iterator[Packet]:
        """One packet per frame (1×3×H×W or 3×H×W floats in [0, 1], all the same size): an intra frame
        every ``intra_period`` frames, predicted frames in between. ``skip_weight`` scales the distortion
        side of the skip decision: 1 is the codec's λ, larger skips less (``math.inf``: never), 0 always.
        Intra frames are coded ``intra_boost`` qualities higher (at most the model's best): the blocks
        later frames copy inherit their quality, as in classical codecs' I/P quality ratio."""
        for packet, _, _ in self._encode_latents(frames, quality, intra_period, skip_weight, intra_boost):
            yield packet

    def encode_and_reconstruct(self, frames: Iterable[Tensor], quality: int | None = None,
                               intra_period: int = DEFAULT_INTRA_PERIOD, skip_weight: float = DEFAULT_SKIP_WEIGHT,
                               intra_boost: int = DEFAULT_INTRA_BOOST) -> Iterator[tuple[Packet, Tensor]]:
        """Like :meth:`encode`, with each frame as the decoder will output it (costs a synthesis per frame)."""
        for packet, latent, size in self._encode_latents(frames, quality, intra_period, skip_weight, intra_boost):
            yield packet, self._synthesize(latent, *size)

    @torch.inference_mode()
    def _encode_latents(self, frames: Iterable[Tensor], quality: int | None, intra_period: int,
                        skip_weight: float, intra_boost: int = DEFAULT_INTRA_BOOST
                        ) -> Iterator[tuple[Packet, Tensor, tuple[int, int]]]:
        quality = self.check_quality(self.default_quality if quality is None else quality)
        if intra_period < 1:
            raise VcodecError(f"the intra period must be at least 1 frame, got {intra_period}")
        if intra_boost < 0:
            raise VcodecError(f"the intra boost must be 0 or more qualities, got {intra_boost}")
        intra_quality = min(quality + intra_boost, self.num_qualities)
        q = torch.tensor([quality - 1])
        reference, size, cost = None, None, 0.0  # cost: bits per unit of latent squared error, from λ
        for index, frame in enumerate(frames):
            x, _ = _as_rgb(frame, False)
            if size is None:
                size = tuple(x.shape[-2:])
            elif tuple(x.shape[-2:]) != size:
                raise VcodecError(f"frame {index} is {x.shape[-1]}×{x.shape[-2]}, the video is {size[1]}×{size[0]}")
            if index % intra_period == 0:
                sections, reference = self.intra._encode(x, intra_quality)
                sections = [bytes([intra_quality]), *sections]
                if intra_period > 1:  # bits per unit of latent squared error: this GOP's RD decisions
                    lam = self.intra.config.lambdas[quality - 1]
                    cost = lam * 255**2 * self._synthesis_gain(reference, q) / 3
                yield Packet(FrameType.INTRA, index, sections), reference, size
            else:
                sections, reference = self._encode_predicted(x, reference, q, cost, skip_weight)
                yield Packet(FrameType.PREDICTED, index, sections), reference, size

    @torch.inference_mode()
    def _synthesize(self, latent: Tensor, height: int, width: int) -> Tensor:
        return self.intra.synthesize(latent, height, width)

    @torch.inference_mode()
    def decode(self, packets: Iterable[Packet | None], width: int, height: int, quality: int,
               keep_going: bool = False) -> Iterator[Tensor]:
        """The frames (1×3×H×W in [0, 1]) of a packet sequence that starts with an intra packet.

        With ``keep_going``, a lost packet (None) or one that does not decode repeats the last good frame
        (grey before the first) until the next intra packet; otherwise it raises BitstreamError.
        """
        if not 1 <= quality <= self.num_qualities:
            raise BitstreamError(f"stream declares quality {quality}, model has 1–{self.num_qualities}")
        q = torch.tensor([quality - 1])
        shape = self.intra._latent_shape(height, width)
        reference, last = None, None
        for index, packet in enumerate(packets):
            try:
                reference = self._decode_packet(index, packet, reference, q, shape)
                last = self._synthesize(reference, height, width)
            except BitstreamError:
                if not keep_going:
                    raise
                reference = None  # everything up to the next intra frame depends on what was lost
            yield torch.full((1, 3, height, width), 0.5) if last is None else last

    def _decode_packet(self, index: int, packet: Packet | None, reference: Tensor | None, q: Tensor,
                       shape: tuple[int, int]) -> Tensor:
        if packet is None:
            raise BitstreamError(f"frame {index}: packet lost")
        # intra packets lead with their quality; those of streams from before it was added do not
        expected = (self.intra.sections + 1, self.intra.sections) if packet.frame_type == FrameType.INTRA else \
            (PREDICTED_SECTIONS,)
        if len(packet.sections) not in expected:
            raise BitstreamError(f"frame {index}: packet has {len(packet.sections)} sections, expected {expected[0]}")
        try:
            if packet.frame_type == FrameType.INTRA and len(packet.sections) == self.intra.sections:
                return self.intra._decompress_latent(packet.sections, q, shape)
            if packet.frame_type == FrameType.INTRA:
                return self.intra._decompress_latent(packet.sections[1:], self._intra_q(packet.sections[0]), shape)
            if reference is None:
                raise BitstreamError("a predicted frame with no intra frame before it")
            return self._decode_predicted(packet.sections, reference, q)
        except BitstreamError as err:
            raise BitstreamError(f"frame {index}: {err}") from None

    def _intra_q(self, section: bytes) -> Tensor:
        """The 0-based quality index an intra packet's first section declares."""
        if len(section) != 1 or not 1 <= section[0] <= self.num_qualities:
            raise BitstreamError(f"intra frame declares quality {section.hex() or 'nothing'}, model has "
                                 f"1–{self.num_qualities}")
        return torch.tensor([section[0] - 1])

    # --- predicted frames ---------------------------------------------------------------------------
    def _coding_params(self, inputs: tuple[Tensor, Tensor], reference: Tensor, context: Tensor | None, half: Tensor,
                       gain: Tensor) -> tuple[Tensor, Tensor]:
        """(scales, means) of the gained latent at one checkerboard half, in exact arithmetic."""
        hyper, temporal = (features[..., half] for features in inputs)
        context = torch.zeros_like(hyper) if context is None else context
        stacked = torch.cat((hyper, temporal, context), dim=1).unsqueeze(-1)
        scales, means, alpha = from_fixed(self.exact["entropy_parameters"](stacked).squeeze(-1)).chunk(3, dim=1)
        gain = gain.reshape(1, -1, 1)
        return scales * gain, (means + alpha * reference[..., half]) * gain

    def _temporal_features(self, reference: Tensor) -> Tensor:
        """The temporal prior's features of ŷ_{t−1}, in exact fixed point."""
        return self.exact["temporal"](to_fixed(reference.double()))

    def _code_predicted(self, z_hat: Tensor, reference: Tensor, temporal: Tensor, keep: Tensor, q: Tensor,
                        code_half) -> Tensor:
        """Both checkerboard passes of a P-frame's y; skipped positions take the reference's values.
        ``temporal`` is :meth:`_temporal_features` of the reference."""
        gain, inverse = self.intra.y_gain.coding_gain(q), self.intra.y_gain.coding_inverse_gain(q)
        reference64 = reference.double()
        inputs = (self.intra._coding_features(z_hat, q), temporal)
        reference_gained = reference64 * gain

        def code_kept(i: int, half: Tensor, scales: Tensor, means: Tensor) -> Tensor:
            values = reference_gained[..., half].clone()
            kept = keep[half]
            values[..., kept] = code_half(i, half, kept, scales[..., kept], means[..., kept])
            return values

        y_hat = checkerboard_code(
            tuple(reference.shape[1:]), lambda context, half: self._coding_params(inputs, reference64, context, half, gain),
            self.exact["context"], inverse, code_kept, reference.device)
        return torch.where(keep, self.intra.y_gain.ungain(y_hat, q), reference)

    def _skipped_z(self, blocks: Tensor) -> Tensor:
        """ẑ where every block is skipped: the factorized model's medians (its symbol 0)."""
        return self.intra.z_model._medians().expand(1, -1, *blocks.shape).clone()

    def _synthesis_gain(self, latent: Tensor, q: Tensor) -> float:
        """Pixel squared error per unit of latent squared error around ``latent``: the synthesis transform's
        gain for quantization-sized changes (measured, so the skip decision can weigh latent errors)."""
        generator = torch.Generator().manual_seed(0)
        step = self.intra.y_gain.coding_inverse_gain(q).float()
        delta = (torch.rand(latent.shape, generator=generator) - 0.5) * step
        change = self.intra.g_s(latent + delta) - self.intra.g_s(latent)
        return float(change.pow(2).sum() / delta.pow(2).sum())

    def _encode_predicted(self, x: Tensor, reference: Tensor, q: Tensor, cost: float,
                          skip_weight: float) -> tuple[list[bytes], Tensor]:
        """A P-frame's sections and its ŷ; ``cost`` converts latent squared error into bits (λ·255²·gain/3),
        weighted by ``skip_weight`` in the skip decision and by :data:`RDOQ_WEIGHT` in quantization."""
        gain = self.intra.y_gain.coding_gain(q)
        y = self.intra.g_a(self.intra._pad(x))
        y_gained = y.double() * gain
        z_gained = self.intra.h_a(y).double() * self.intra.z_gain.coding_gain(q)
        temporal = self._temporal_features(reference)  # shared by the dry run and the coding pass
        blocks = self._blocks_worth_coding(y, y_gained, z_gained, reference, temporal, q, skip_weight * cost)
        z_hat = self._skipped_z(blocks)
        z_data, z_values = self.intra.z_model.compress(z_gained[..., blocks].unsqueeze(-1))
        z_hat[..., blocks] = z_values.squeeze(-1)
        sections = [encode_flags(blocks), z_data]

        weight = RDOQ_WEIGHT * cost / gain.reshape(1, -1, 1).pow(2)  # bits per unit of gained latent squared error

        def code_half(i: int, half: Tensor, kept: Tensor, scales: Tensor, means: Tensor) -> Tensor:
            target = y_gained[..., half][..., kept]
            if RDOQ_WEIGHT:
                target = self.intra.y_model.rd_values(target, scales, means, weight)
            data, values = self.intra.y_model.compress(target, scales, means)
            sections.append(data)
            return values

        y_hat = self._code_predicted(z_hat, reference, temporal, expand_blocks(blocks), q, code_half)
        return sections, y_hat

    def _blocks_worth_coding(self, y: Tensor, y_gained: Tensor, z_gained: Tensor, reference: Tensor, temporal: Tensor,
                             q: Tensor, cost: float) -> Tensor:
        """The rate–distortion skip decision: a dry run codes every block to learn its bits and its
        latent error, then a block is coded when the distortion that copying would add costs more."""
        height, width = reference.shape[-2:]
        every = torch.ones((height // BLOCK, width // BLOCK), dtype=torch.bool)
        if cost == 0:
            return ~every
        if math.isinf(cost):
            return every
        _, z_values = self.intra.z_model.compress(z_gained)
        bits = torch.zeros((height, width), dtype=torch.float64)

        def estimate_half(i: int, half: Tensor, kept: Tensor, scales: Tensor, means: Tensor) -> Tensor:
            values = torch.round(y_gained[..., half] - means) + means
            bits[half] = self.intra.y_model.bits(values, scales, means).sum(dim=1)[0].double()
            return values

        coded = self._code_predicted(z_values, reference, temporal, expand_blocks(every), q, estimate_half)
        extra = ((y - reference).pow(2) - (y - coded).pow(2)).sum(dim=1)[0].double()
        return F.avg_pool2d((cost * extra - bits)[None, None], BLOCK, divisor_override=1)[0, 0] > 0

    def _decode_predicted(self, sections: list[bytes], reference: Tensor, q: Tensor) -> Tensor:
        height, width = reference.shape[-2:]
        blocks = decode_flags(sections[0], (height // BLOCK, width // BLOCK))
        z_hat = self._skipped_z(blocks)
        z_values = self.intra.z_model.decompress(sections[1], (1, z_hat.shape[1], int(blocks.sum()), 1))
        z_hat[..., blocks] = z_values.squeeze(-1)
        return self._code_predicted(
            z_hat, reference, self._temporal_features(reference), expand_blocks(blocks), q,
            lambda i, half, kept, scales, means: self.intra.y_model.decompress(sections[i + 2], scales, means))


def expand_blocks(blocks: Tensor) -> Tensor:
    """Block flags (h/BLOCK × w/BLOCK) as a per-latent mask (h × w)."""
    return blocks.repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)


def encode_flags(blocks: Tensor) -> bytes:
    """Which blocks are coded: a byte p (0: none, 255: all, else their share in 255ths) and, in between,
    the flags range-coded as Bernoulli(p/255)."""
    flags = blocks.reshape(-1).numpy().astype(np.int32)
    coded = int(flags.sum())
    if coded == 0 or coded == flags.size:
        return bytes([255 if coded else 0])
    share = min(max(round(255 * coded / flags.size), 1), 254)
    encoder = constriction.stream.queue.RangeEncoder()
    encoder.encode(flags, _bernoulli(share))
    return bytes([share]) + encoder.get_compressed().astype("<u4").tobytes()


def decode_flags(data: bytes, shape: tuple[int, int]) -> Tensor:
    if not data:
        raise BitstreamError("predicted frame has no block flags")
    share, rest = data[0], data[1:]
    count = shape[0] * shape[1]
    if share in (0, 255):
        if rest:
            raise BitstreamError("block flags carry unexpected bytes")
        return torch.full(shape, share == 255, dtype=torch.bool)
    if len(rest) % 4:
        raise BitstreamError("block flags are not a whole number of words")
    try:
        decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(rest, dtype="<u4").astype(np.uint32))
        flags = decoder.decode(_bernoulli(share), count)
    except (ValueError, RuntimeError, AssertionError) as err:
        raise BitstreamError(f"block flags are corrupt ({err})") from None
    return torch.from_numpy(flags.astype(bool)).reshape(shape)


def _bernoulli(share: int):
    return constriction.stream.model.Categorical(np.array([255 - share, share], dtype=np.float64) / 255, perfect=False)


def stream_header(codec: LearnedVideoCodec, width: int, height: int, fps: Fraction, quality: int,
                  intra_period: int, frame_count: int) -> bytes:
    """The header container of a video stream (a fixed size for given model and sizes, so it can be
    rewritten with the final frame count once the packets are out)."""
    fps = Fraction(fps).limit_denominator(1 << 16)
    info = VideoInfo(fps.numerator, fps.denominator, frame_count, intra_period)
    return Container(kind=Kind.VIDEO, model=codec.name, weights_hash=codec.weights_hash, width=width, height=height,
                     quality=quality, sections=[info.to_bytes()]).to_bytes()


def check_stream_model(codec: LearnedVideoCodec, header: Container) -> None:
    """BitstreamError unless the stream header names exactly this codec's weights."""
    if codec.name != header.model or codec.weights_hash != header.weights_hash:
        raise BitstreamError(f"stream was made by model '{header.model}' ({header.weights_hash.hex()}), "
                             f"not by '{codec.name}' ({codec.weights_hash.hex()})")


def decode_stream(codec: LearnedVideoCodec, stream: BinaryIO, keep_going: bool = False,
                  problems: list[str] | None = None) -> tuple[Container, VideoInfo, Iterator[Tensor]]:
    """A whole video stream through ``codec``: its header, what the header says, and the decoded frames
    (a generator: frames come out as packets are read)."""
    header, info = read_video_header(stream)
    check_stream_model(codec, header)
    packets = read_packets(stream, header, info, keep_going, problems)
    return header, info, codec.decode(packets, header.width, header.height, header.quality, keep_going)


def read_packets(stream: BinaryIO, header: Container, info: VideoInfo, keep_going: bool = False,
                 problems: list[str] | None = None) -> Iterator[Packet | None]:
    """The packets after a video header, in frame order, each checked. A damaged or missing one raises
    BitstreamError naming its frame; with ``keep_going`` it yields None for every frame it cannot read,
    finds the next whole packet, and notes what happened in ``problems``."""
    limit = 1024 + 16 * header.width * header.height  # far above what any frame of this size codes to
    index = 0
    while index < info.frame_count:
        position = stream.tell()
        try:
            packet = read_packet(stream, limit)
            if packet is None:
                raise BitstreamError(f"stream ends after {index} of {info.frame_count} frames")
            if packet.index != index:
                raise BitstreamError(f"packet of frame {packet.index} where frame {index} belongs")
        except BitstreamError as err:
            message = str(err) if str(err).startswith("stream ends") else f"frame {index}: {err}"
            if not keep_going:
                raise BitstreamError(message) from None
            stream.seek(position + 1)
            packet = _next_packet(stream, limit, index, info.frame_count, position)
            if packet is None:  # no more frames lost than bytes left: damage, not a fabricated frame count
                found = min(info.frame_count, index + max(1, stream.seek(0, 2) - position))
            else:
                found = packet.index
            if problems is not None:
                lost = f"frame {index}" if found == index + 1 else f"frames {index}–{found - 1}"
                problems.append(f"{message} ({lost} lost)")
            yield from [None] * (found - index)
            index = found
            if packet is None:
                return
        yield packet
        index += 1
    if not keep_going and stream.read(1):
        raise BitstreamError(f"unexpected bytes after the last of {info.frame_count} frames")


def _next_packet(stream: BinaryIO, limit: int, after: int, count: int, damaged_from: int) -> Packet | None:
    """The next whole packet of a later frame than ``after`` (None when the stream has none) whose frame
    number is plausible: at least one damaged byte per lost frame, so a stray packet cannot make the
    decoder emit millions of stand-in frames from a few bytes."""
    while (packet := find_packet(stream, limit)) is not None:
        start = stream.tell() - len(packet.to_bytes())
        if after < packet.index < count and packet.index - after <= start - damaged_from:
            return packet
    return None
