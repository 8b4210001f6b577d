"""What every I/P-frame video codec shares: the packet loop, the stream file and the decoder's recovery.

A video is an intra frame at least every ``intra_period`` frames (and, where the encoder finds it
cheaper, at a new shot), coded by an image codec (``intra``), and predicted frames in between, each
coded against the state the previous frame left (a latent, or a decoded picture). The stream is a
header and one packet per frame; an intra packet is ``[quality, the image codec's sections]``. A subclass says how a predicted frame is coded
(:meth:`VideoCodec._encode_predicted` / :meth:`VideoCodec._decode_predicted`), what state the frames
pass on (:meth:`VideoCodec._intra_state`) and how that state becomes a picture (:meth:`VideoCodec._picture`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import BinaryIO

import torch
from torch import Tensor, nn

from vcodec.codecs.base import _as_rgb, check_effort
from vcodec.codecs.hyperprior import CheckerboardCodec
from vcodec.defaults import DEFAULT_INTRA_BOOST, DEFAULT_INTRA_PERIOD
from vcodec.entropy.container import (
    Container,
    FrameType,
    Packet,
    VideoInfo,
    check_model,
    read_packets,
    read_video_header,
    video_header,
)
from vcodec.entropy.flags import decode_flags
from vcodec.errors import BitstreamError, VcodecError
from vcodec.weights import resize_table_buffers, weights_hash

BLOCK = 4  # skip decisions cover BLOCK×BLOCK latents: 64×64 pixels, one z position
RDOQ_WEIGHT = 2.0  # distortion weight of P-frame RDO quantization relative to λ (0: plain rounding)
DEFAULT_SKIP_WEIGHT = 1.0  # the weight of distortion against bits in skip decisions, relative to λ
# a predicted frame is also tried as an intra frame when its rate–distortion cost exceeds this share of
# the GOP's intra frame's (a speed knob: the decision itself compares the two codings)
SCENE_CUT_TRIAL = 0.5


class VideoCodec(nn.Module):
    """An I/P-frame video codec over an image codec; ``encode`` / ``decode`` stream one packet per frame."""

    name: str = "unnamed"
    intra: CheckerboardCodec
    _weights_hash: bytes | None = None
    first_format_version: int = 1  # the oldest container version whose packets this codec reads

    # --- qualities (those of the image codec) -------------------------------------------------------
    @property
    def num_qualities(self) -> int:
        return self.intra.num_qualities

    @property
    def default_quality(self) -> int:
        return self.intra.default_quality

    def check_quality(self, quality: int) -> int:
        """The image codec's learned qualities (its residual layer is for still images)."""
        if not 1 <= int(quality) <= self.num_qualities:
            raise VcodecError(
                f"quality {quality} is out of range: this video model has qualities 1–{self.num_qualities}"
            )
        return int(quality)

    @property
    def weights_hash(self) -> bytes:
        if self._weights_hash is None:
            self._weights_hash = weights_hash(self)
        return self._weights_hash

    # --- weights and what is derived from them ------------------------------------------------------
    def image_codecs(self) -> list[CheckerboardCodec]:
        """The image codecs this video codec holds (their coding state follows their weights)."""
        return [self.intra]

    def forget_coding_state(self) -> None:
        """Drop what is derived from the weights (hash, exact networks) after they change."""
        self._weights_hash = None
        for codec in self.image_codecs():
            codec.forget_coding_state()

    def update(self) -> None:
        """Freeze what the coder uses: the image codecs' tables and exact networks."""
        for codec in self.image_codecs():
            codec.update()
        self.forget_coding_state()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        resize_table_buffers(self, state_dict)
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.forget_coding_state()
        return result

    # --- what a subclass defines ----------------------------------------------------------------------
    predicted_sections: int  # sections of a predicted packet: skip flags, motion, then the rest
    motion_sections: int  # how many of them after the flags carry motion

    def _intra_state(self, latent: Tensor, height: int, width: int) -> Tensor:
        """The state an intra frame's decoded latent passes on."""
        raise NotImplementedError

    def _picture(self, state: Tensor, height: int, width: int) -> Tensor:
        """The decoded frame (1×3×H×W floats in [0, 1]) of a frame's state."""
        raise NotImplementedError

    def _frame_quality(self, quality: int, since_intra: int) -> int:
        """The quality of the predicted frame ``since_intra`` frames after its intra frame: the
        stream's, unless a codec varies it through the GOP (the decoder knows it the same way)."""
        return quality

    def _gop_setup(self, state: Tensor, quality: int) -> object:
        """What the predicted frames of a GOP decide with, from its intra frame's state (their RD scale)."""
        return None

    def _encode_predicted(
        self, x: Tensor, previous: Tensor, state: Tensor, quality: int, setup: object, **options
    ) -> tuple[list[bytes], Tensor]:
        """A predicted frame's sections and its state; ``previous`` is the source frame before ``x``."""
        raise NotImplementedError

    def _decode_predicted(self, sections: list[bytes], state: Tensor, quality: int) -> Tensor:
        raise NotImplementedError

    def breakdown(self, packet: Packet, height: int, width: int) -> dict[str, int]:
        """Where a predicted packet's bytes go (``flags``, ``motion``, ``residual``: what codes the
        picture) and how many of its skip blocks (``blocks``) it codes (``coded``): for benchmarks."""
        rows, cols = self.intra.latent_shape(height, width)
        flags = decode_flags(packet.sections[0], (rows // BLOCK, cols // BLOCK))
        sizes = [len(s) for s in packet.sections]
        motion_end = 1 + self.motion_sections
        return {
            "flags": sizes[0],
            "motion": sum(sizes[1:motion_end]),
            "residual": sum(sizes[motion_end:]),
            "coded": int(flags.sum()),
            "blocks": flags.numel(),
        }

    # --- streaming coding ---------------------------------------------------------------------------
    def encode(
        self,
        frames: Iterable[Tensor],
        quality: int | None = None,
        intra_period: int = DEFAULT_INTRA_PERIOD,
        skip_weight: float = DEFAULT_SKIP_WEIGHT,
        intra_boost: int = DEFAULT_INTRA_BOOST,
        effort: int = 0,
        scene_cuts: bool = True,
    ) -> Iterator[Packet]:
        """One packet per frame (1×3×H×W or 3×H×W floats in [0, 1], all the same size): an intra frame
        at least every ``intra_period`` frames, predicted frames in between. ``skip_weight`` scales the
        distortion side of the skip decision: 1 is the codec's λ, larger skips less (``math.inf``:
        never), 0 always. Intra frames are coded ``intra_boost`` qualities higher (at most the model's
        best): the blocks later frames copy inherit their quality, as in classical codecs' I/P quality
        ratio. ``effort`` refines intra frames' latents at encode time (see the image codec's
        ``compress``). With ``scene_cuts``, a codec that can weigh its frames' distortion
        (:meth:`_state_error`) codes a frame as an intra frame when that costs less than predicting it
        (a new shot), and the intra period restarts there."""
        for packet, _, _ in self.encode_states(
            frames, quality, intra_period, skip_weight, intra_boost, effort, scene_cuts
        ):
            yield packet

    def encode_and_reconstruct(
        self,
        frames: Iterable[Tensor],
        quality: int | None = None,
        intra_period: int = DEFAULT_INTRA_PERIOD,
        skip_weight: float = DEFAULT_SKIP_WEIGHT,
        intra_boost: int = DEFAULT_INTRA_BOOST,
        scene_cuts: bool = True,
    ) -> Iterator[tuple[Packet, Tensor]]:
        """Like :meth:`encode`, with each frame as the decoder will output it."""
        for packet, state, size in self.encode_states(
            frames, quality, intra_period, skip_weight, intra_boost, scene_cuts=scene_cuts
        ):
            yield packet, self._picture(state, *size)

    @torch.inference_mode()
    def encode_states(
        self,
        frames: Iterable[Tensor],
        quality: int | None,
        intra_period: int,
        skip_weight: float = DEFAULT_SKIP_WEIGHT,
        intra_boost: int = DEFAULT_INTRA_BOOST,
        effort: int = 0,
        scene_cuts: bool = True,
    ) -> Iterator[tuple[Packet, Tensor, tuple[int, int]]]:
        """Like :meth:`encode`, with each frame's state as the decoder will rebuild it, and the frame size."""
        quality = self.check_quality(self.default_quality if quality is None else quality)
        if intra_period < 1:
            raise VcodecError(f"the intra period must be at least 1 frame, got {intra_period}")
        check_effort(effort)
        if intra_boost < 0:
            raise VcodecError(f"the intra boost must be 0 or more qualities, got {intra_boost}")
        intra_quality = min(quality + intra_boost, self.num_qualities)
        size, setup, previous, since_intra, last_intra = None, None, None, 0, (0, None)
        for index, frame in enumerate(frames):
            x, _ = _as_rgb(frame, False)
            size = _same_size(x, size, index)
            if index == 0 or since_intra == intra_period:
                packet, state = self._encode_intra(x, index, intra_quality, effort)
            else:
                frame_quality = self._frame_quality(quality, since_intra)
                sections, predicted = self._encode_predicted(
                    x, previous, state, frame_quality, setup, skip_weight=skip_weight
                )
                packet, state = Packet(FrameType.PREDICTED, index, sections), predicted
                if scene_cuts and last_intra[1] is not None:
                    packet, state = self._cheaper_as_intra(
                        x, (packet, state), last_intra, frame_quality, intra_quality, effort
                    )
            intra = packet.frame_type == FrameType.INTRA
            since_intra = 1 if intra else since_intra + 1  # the next frame's, from the last intra
            if intra:
                last_intra = (_bits(packet), self._state_error(x, state) if scene_cuts else None)
                if intra_period > 1:
                    setup = self._gop_setup(state, quality)
            yield packet, state, size
            previous = x

    def _encode_intra(
        self, x: Tensor, index: int, quality: int, effort: int
    ) -> tuple[Packet, Tensor]:
        """An intra packet (``[quality, the image codec's sections]``) and its state."""
        sections, latent = self.intra.encode_latent(x, quality, effort=effort)
        state = self._intra_state(latent, *x.shape[-2:])
        return Packet(FrameType.INTRA, index, [bytes([quality]), *sections]), state

    def _cheaper_as_intra(
        self,
        x: Tensor,
        predicted: tuple[Packet, Tensor],
        last_intra: tuple[int, float],
        quality: int,
        intra_quality: int,
        effort: int,
    ) -> tuple[Packet, Tensor]:
        """The predicted frame (its packet and state), or the frame coded as an intra frame when that
        has the lower rate–distortion cost at the predicted frame's λ (bits + cost · squared error).
        Only a frame whose prediction costs more than :data:`SCENE_CUT_TRIAL` of the last intra frame
        (``last_intra``: its bits and squared error) is tried: a new shot, not every busy frame."""
        cost = self._mode_cost(quality)
        predicted_cost = _bits(predicted[0]) + cost * self._state_error(x, predicted[1])
        if predicted_cost <= SCENE_CUT_TRIAL * (last_intra[0] + cost * last_intra[1]):
            return predicted
        packet, state = self._encode_intra(x, predicted[0].index, intra_quality, effort)
        if _bits(packet) + cost * self._state_error(x, state) < predicted_cost:
            return packet, state
        return predicted

    def _mode_cost(self, quality: int) -> float:
        """Bits per unit of squared error in 8-bit levels at ``quality``, from the codec's λ (its loss
        is bits + λ·255²·MSE on [0, 1] over three channels)."""
        return self.intra.config.lambdas[quality - 1] / 3

    def _state_error(self, x: Tensor, state: Tensor) -> float | None:
        """The squared error (8-bit levels, summed over pixels and channels) of the frame a state
        decodes to against the source ``x``; None when that is costly to know (a codec whose state is
        a latent), which leaves such codecs without scene-cut decisions."""
        return None

    # --- the file: a header, then the packets ------------------------------------------------------------
    def header(
        self,
        width: int,
        height: int,
        fps: Fraction,
        quality: int,
        intra_period: int,
        frame_count: int,
    ) -> bytes:
        """The stream header of a video this codec codes (same size whatever ``frame_count``)."""
        return video_header(
            self.name, self.weights_hash, width, height, fps, quality, intra_period, frame_count
        )

    def encode_stream(
        self,
        frames: Iterable[Tensor],
        width: int,
        height: int,
        fps: Fraction,
        quality: int | None = None,
        intra_period: int = DEFAULT_INTRA_PERIOD,
        frame_count: int = 0,
        **options,
    ) -> Iterator[bytes]:
        """The bytes of a whole video file, as they are written: the header (declaring ``frame_count``;
        rewrite it with :meth:`header` once the count is known), then one packet per frame
        (``options``: those of :meth:`encode`)."""
        quality = self.check_quality(self.default_quality if quality is None else quality)
        if intra_period < 1:  # before the header is out
            raise VcodecError(f"the intra period must be at least 1 frame, got {intra_period}")
        check_effort(options.get("effort", 0))
        yield self.header(width, height, fps, quality, intra_period, frame_count)
        for packet in self.encode(frames, quality, intra_period, **options):
            yield packet.to_bytes()

    def decode_stream(
        self, stream: BinaryIO, keep_going: bool = False, problems: list[str] | None = None
    ) -> tuple[Container, VideoInfo, Iterator[Tensor]]:
        """A whole video file: its header, what the header says, and the decoded frames (a generator:
        frames come out as packets are read). ``keep_going`` and ``problems``: see :func:`read_packets`."""
        header, info = read_video_header(stream)
        check_model(header, self.name, self.weights_hash)
        if header.version < self.first_format_version:
            raise BitstreamError(
                f"stream is in format version {header.version}, whose {self.name} packets this "
                f"vcodec no longer reads (version {self.first_format_version} or later); re-encode it"
            )
        packets = read_packets(stream, header, info, keep_going, problems)
        return (
            header,
            info,
            self.decode(packets, header.width, header.height, header.quality, keep_going),
        )

    @torch.inference_mode()
    def decode(
        self,
        packets: Iterable[Packet | None],
        width: int,
        height: int,
        quality: int,
        keep_going: bool = False,
    ) -> Iterator[Tensor]:
        """The frames (1×3×H×W in [0, 1]) of a packet sequence that starts with an intra packet.

        With ``keep_going``, a lost packet (None) or one that does not decode repeats the last good frame
        (grey before the first) until the next intra packet; otherwise it raises BitstreamError.
        """
        self._check_stream_quality(quality)
        state, last, since_intra = None, None, 0
        for index, packet in enumerate(packets):
            since_intra = _frames_since_intra(packet, since_intra)
            try:
                state = self._decode_packet(
                    index, packet, state, quality, since_intra, height, width
                )
                last = self._picture(state, height, width)
            except BitstreamError:
                if not keep_going:
                    raise
                state = None  # everything up to the next intra frame depends on what was lost
            yield torch.full((1, 3, height, width), 0.5) if last is None else last

    @torch.inference_mode()
    def decode_states(
        self, packets: Iterable[Packet], width: int, height: int, quality: int
    ) -> Iterator[Tensor]:
        """The state of every frame of a packet sequence, exactly as the encoder had it (what
        :meth:`decode` outputs); BitstreamError at the first packet that does not decode."""
        self._check_stream_quality(quality)
        state, since_intra = None, 0
        for index, packet in enumerate(packets):
            since_intra = _frames_since_intra(packet, since_intra)
            state = self._decode_packet(index, packet, state, quality, since_intra, height, width)
            yield state

    def _check_stream_quality(self, quality: int) -> None:
        if not 1 <= quality <= self.num_qualities:
            raise BitstreamError(
                f"stream declares quality {quality}, model has 1–{self.num_qualities}"
            )

    def _decode_packet(
        self,
        index: int,
        packet: Packet | None,
        state: Tensor | None,
        quality: int,
        since_intra: int,
        height: int,
        width: int,
    ) -> Tensor:
        if packet is None:
            raise BitstreamError(f"frame {index}: packet lost")
        intra = packet.frame_type == FrameType.INTRA  # [quality, the image codec's sections]
        expected = self.intra.sections + 1 if intra else self.predicted_sections
        if len(packet.sections) != expected:
            raise BitstreamError(
                f"frame {index}: packet has {len(packet.sections)} sections, expected {expected}"
            )
        try:
            if intra:
                latent = self.intra.decode_latent(
                    packet.sections[1:],
                    self._intra_quality(packet.sections[0]),
                    self.intra.latent_shape(height, width),
                )
                return self._intra_state(latent, height, width)
            if state is None:
                raise BitstreamError("a predicted frame with no intra frame before it")
            frame_quality = self._frame_quality(quality, since_intra)
            return self._decode_predicted(packet.sections, state, frame_quality)
        except BitstreamError as err:
            raise BitstreamError(f"frame {index}: {err}") from None

    def _intra_quality(self, section: bytes) -> int:
        """The quality an intra packet's first section declares."""
        if len(section) != 1 or not 1 <= section[0] <= self.num_qualities:
            raise BitstreamError(
                f"intra frame declares quality {section.hex() or 'nothing'}, model has "
                f"1–{self.num_qualities}"
            )
        return section[0]


def _same_size(x: Tensor, size: tuple[int, int] | None, index: int) -> tuple[int, int]:
    """The video's frame size (H, W): the first frame's; VcodecError for a frame of another size."""
    if size is not None and tuple(x.shape[-2:]) != size:
        raise VcodecError(
            f"frame {index} is {x.shape[-1]}×{x.shape[-2]}, the video is {size[1]}×{size[0]}"
        )
    return tuple(x.shape[-2:])


def _bits(packet: Packet) -> int:
    """The bits of a packet's sections (its framing is about the same for every packet)."""
    return 8 * sum(map(len, packet.sections))


def _frames_since_intra(packet: Packet | None, before: int) -> int:
    """How many frames after the last intra frame ``packet`` is (0 for an intra packet)."""
    return 0 if packet is not None and packet.frame_type == FrameType.INTRA else before + 1


def synthesis_gain(codec: CheckerboardCodec, latent: Tensor, q: Tensor) -> float:
    """Pixel squared error per unit of latent squared error around ``latent``: ``codec``'s synthesis
    gain for quantization-sized changes at quality index ``q`` (a seeded draw, so it repeats), which
    lets rate–distortion decisions weigh latent errors."""
    generator = torch.Generator().manual_seed(0)
    step = codec.y_gain.coding_inverse_gain(q).float()
    delta = (torch.rand(latent.shape, generator=generator) - 0.5) * step
    change = codec.g_s(latent + delta) - codec.g_s(latent)
    return float(change.pow(2).sum() / delta.pow(2).sum())
