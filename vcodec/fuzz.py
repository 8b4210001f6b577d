"""Fuzzing every decoder: mutated, truncated, spliced and random streams must decode or raise
:class:`~vcodec.BitstreamError` — never another exception, never a hang.

Byte-level mutations mostly stop at the CRC32 checks, so half of the cases are built knowing the
format: a container's or a video packet's fields and sections are changed and the stream is written
again with valid CRCs, which is what gets damaged bytes past the parsers into the entropy decoders
and the networks behind them. Declared sizes stay within a few times the seed's, so a case's time
measures the decoder and not a legitimately large picture (those are capped by the container).

    report = run(targets()["image/mean-scale-checkerboard"], cases=10_000, seed=0)
"""

from __future__ import annotations

import io
import resource
import time
import traceback
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from vcodec.entropy.container import Container, Packet, read_packet, read_video_header
from vcodec.errors import BitstreamError

HANG_SECONDS = 2.0


@dataclass
class Target:
    """A decoder under test: valid seed streams, and the call that decodes one stream completely."""

    name: str
    seeds: list[bytes]
    decode: Callable[[bytes], object]
    video: bool = False  # seeds are video streams (a header container, then packets)


@dataclass
class Report:
    """What a fuzz run saw: counts per outcome and the failing cases (the input and what happened)."""

    target: str
    cases: int = 0
    decoded: int = 0
    rejected: int = 0  # BitstreamError
    crashes: list[tuple[bytes, str]] = field(default_factory=list)
    hangs: list[tuple[bytes, float]] = field(default_factory=list)
    slowest_seconds: float = 0.0  # CPU seconds of the slowest case
    seconds: float = 0.0  # wall time of the run

    def summary(self) -> dict:
        return {"target": self.target, "cases": self.cases, "decoded": self.decoded, "rejected": self.rejected,
                "crashes": len(self.crashes), "hangs": len(self.hangs), "slowest_seconds": round(self.slowest_seconds, 4),
                "seconds": round(self.seconds, 1), "peak_rss_mib": peak_rss_mib(),
                "first_crash": self.crashes[0][1].strip().splitlines()[-1] if self.crashes else None}


def peak_rss_mib() -> float:
    """This process's peak resident memory so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(target: Target, cases: int, seed: int = 0, progress: bool = False, first: int = 0) -> Report:
    """Decode the mutated streams ``first`` … ``first + cases − 1`` of ``seed`` (case i is a function of
    ``seed`` and i alone, so a run can be continued, and any failure replayed with :func:`case`)."""
    from tqdm import tqdm

    report = Report(target.name)
    started = time.perf_counter()
    for index in tqdm(range(first, first + cases), desc=target.name, disable=not progress, unit="case"):
        data = case(target, seed, index)
        begin = time.process_time()  # CPU time: other processes or a paused run do not make a hang
        try:
            target.decode(data)
            report.decoded += 1
        except BitstreamError:
            report.rejected += 1
        except Exception:  # noqa: BLE001 — any other exception is the finding
            report.crashes.append((data, traceback.format_exc()))
        elapsed = time.process_time() - begin
        report.slowest_seconds = max(report.slowest_seconds, elapsed)
        if elapsed > HANG_SECONDS:
            report.hangs.append((data, elapsed))
        report.cases += 1
    report.seconds = time.perf_counter() - started
    return report


def case(target: Target, seed: int, index: int) -> bytes:
    """The ``index``-th fuzz input of a run with ``seed``."""
    rng = np.random.default_rng([seed, index])
    data = target.seeds[rng.integers(len(target.seeds))]
    if rng.random() < 0.5:
        return structured(target, data, rng)
    return mutate_bytes(data, rng, target.seeds)


# --- byte-level mutations ------------------------------------------------------------------------------
def mutate_bytes(data: bytes, rng: np.random.Generator, pool: list[bytes], rounds: int | None = None) -> bytes:
    """Some random edits of ``data``: bit flips, byte overwrites, truncation, insertion, deletion,
    duplication, splicing with another seed, or plain random bytes."""
    buffer = bytearray(data)
    for _ in range(rounds or int(rng.integers(1, 4))):
        buffer = _EDITS[rng.integers(len(_EDITS))](buffer, rng, pool)
    return bytes(buffer)


def _flip(b: bytearray, rng, pool) -> bytearray:
    if b:
        for _ in range(int(rng.integers(1, 9))):
            b[rng.integers(len(b))] ^= 1 << int(rng.integers(8))
    return b


def _overwrite(b: bytearray, rng, pool) -> bytearray:
    if b:
        at = int(rng.integers(len(b)))
        values = rng.choice([0x00, 0xFF, 0x7F, 0x80, int(rng.integers(256))], size=int(rng.integers(1, 9)))
        b[at : at + len(values)] = bytes(int(v) for v in values)
    return b


def _truncate(b: bytearray, rng, pool) -> bytearray:
    return b[: int(rng.integers(len(b) + 1))]


def _insert(b: bytearray, rng, pool) -> bytearray:
    at = int(rng.integers(len(b) + 1))
    return b[:at] + bytearray(rng.bytes(int(rng.integers(1, 64)))) + b[at:]


def _delete(b: bytearray, rng, pool) -> bytearray:
    if not b:
        return b
    at = int(rng.integers(len(b)))
    return b[:at] + b[at + int(rng.integers(1, 64)) :]


def _duplicate(b: bytearray, rng, pool) -> bytearray:
    if not b:
        return b
    at, length = int(rng.integers(len(b))), int(rng.integers(1, 256))
    return b[: at + length] + b[at : at + length] + b[at + length :]


def _splice(b: bytearray, rng, pool) -> bytearray:
    other = pool[rng.integers(len(pool))]
    cut, cut_other = int(rng.integers(len(b) + 1)), int(rng.integers(len(other) + 1))
    return b[:cut] + bytearray(other[cut_other:])


def _random(b: bytearray, rng, pool) -> bytearray:
    return bytearray(rng.bytes(int(rng.integers(0, 2 * len(b) + 2))))


_EDITS = (_flip, _flip, _overwrite, _truncate, _insert, _delete, _duplicate, _splice, _random)


# --- format-aware mutations (valid CRCs) -----------------------------------------------------------------
def structured(target: Target, data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` with fields or sections changed and every CRC made valid again."""
    if target.video:
        return _mutate_video(data, rng, target.seeds)
    return _mutate_container(Container.from_bytes(data), rng, target.seeds).to_bytes()


def _mutate_container(c: Container, rng: np.random.Generator, pool: list[bytes]) -> Container:
    choice = rng.integers(8)
    if choice == 0 or not c.sections:  # a header field
        field_name = ("width", "height", "quality", "grey")[rng.integers(4)]
        value = getattr(c, field_name)
        if field_name == "grey":
            c.grey = not c.grey
        elif field_name == "quality":
            c.quality = int(rng.choice([0, 1, 2, value + 1, 255]))
        else:  # sizes stay near the seed's: a time limit must measure the decoder, not the picture
            setattr(c, field_name, int(rng.choice([1, 2, max(1, value - 1), value + 1, value * 2, value // 2 + 1,
                                                   int(rng.integers(1, 4 * value + 2))])))
    elif choice == 1:  # sections added, dropped or reordered
        sections = list(c.sections)
        operation = rng.integers(3)
        if operation == 0:
            sections.insert(int(rng.integers(len(sections) + 1)), bytes(rng.bytes(int(rng.integers(0, 32)))))
        elif operation == 1:
            del sections[rng.integers(len(sections))]
        else:
            rng.shuffle(sections)
        c.sections = sections
    else:  # one section's bytes
        at = int(rng.integers(len(c.sections)))
        c.sections = [*c.sections[:at], mutate_bytes(c.sections[at], rng, c.sections), *c.sections[at + 1 :]]
    return c


def _split_video(data: bytes) -> tuple[Container, list[Packet]]:
    stream = io.BytesIO(data)
    header, _ = read_video_header(stream)
    packets = []
    while (packet := read_packet(stream, len(data))) is not None:
        packets.append(packet)
    return header, packets


def _mutate_video(data: bytes, rng: np.random.Generator, pool: list[bytes]) -> bytes:
    header, packets = _split_video(data)
    choice = rng.integers(6)
    if choice == 0:  # the header's own fields or its video section
        header = _mutate_container(header, rng, pool)
    elif choice == 1 and packets:  # a packet's type or frame number
        packet = packets[rng.integers(len(packets))]
        if rng.random() < 0.5:
            packet.frame_type = packet.frame_type % 2 + 1
        else:
            packet.index = int(rng.choice([0, packet.index + 1, max(0, packet.index - 1), len(packets), 2**32 - 1]))
    elif choice == 2 and packets:  # packets dropped, repeated or swapped
        i, j = (int(v) for v in rng.integers(len(packets), size=2))
        operation = rng.integers(3)
        if operation == 0:
            del packets[i]
        elif operation == 1:
            packets.insert(j, packets[i])
        else:
            packets[i], packets[j] = packets[j], packets[i]
    elif packets:  # one packet's sections
        packet = packets[rng.integers(len(packets))]
        as_container = Container(header.kind, header.model, header.weights_hash, header.width, header.height,
                                 sections=list(packet.sections))
        packet.sections = _mutate_container(as_container, rng, pool).sections if rng.random() < 0.3 else \
            _mutate_one_section(packet.sections, rng)
    stream = header.to_bytes() + b"".join(p.to_bytes() for p in packets)
    return stream if rng.random() < 0.8 else mutate_bytes(stream, rng, pool, rounds=1)


def _mutate_one_section(sections: list[bytes], rng: np.random.Generator) -> list[bytes]:
    if not sections:
        return sections
    at = int(rng.integers(len(sections)))
    return [*sections[:at], mutate_bytes(sections[at], rng, sections), *sections[at + 1 :]]


# --- the decoders of the project, on tiny models ---------------------------------------------------------
def _images(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 56), indexing="ij")
    smooth = (0.8 * torch.stack((xx, yy, 0.5 * (xx + yy))) + 0.2 * torch.rand(3, 40, 56, generator=g)).clamp(0, 1)
    return [smooth[None], torch.rand(1, 3, 33, 17, generator=g), torch.rand(1, 1, 20, 24, generator=g)]


def _strengthen(module: torch.nn.Module) -> None:
    """Scale an untrained analysis transform up, so its latents are large enough to code real symbols."""
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(3)


def image_targets() -> dict[str, Target]:
    from vcodec.codecs import ARCHITECTURES, CodecConfig, build_codec

    targets = {}
    for architecture in ARCHITECTURES:
        torch.manual_seed(0)
        codec = build_codec(CodecConfig(architecture, n=16, m=24, lambdas=(0.0035, 0.013, 0.0483)), "fuzz")
        _strengthen(codec.g_a)
        codec.eval().update()
        seeds = [codec.compress(x, quality=q) for x in _images() for q in (1, 3)]
        targets[f"image/{architecture}"] = Target(f"image/{architecture}", seeds, codec.decompress)
    return targets


def video_targets() -> dict[str, Target]:
    """Streams of a tiny video codec without and with motion vectors, decoded strictly and with --keep-going."""
    targets = {}
    for name, motion in (("video", 0), ("video/motion", 4)):
        codec, seeds = _video_codec_and_seeds(motion)
        targets[name] = Target(name, seeds, _video_decoder(codec, False), video=True)
        targets[f"{name}/keep-going"] = Target(f"{name}/keep-going", seeds, _video_decoder(codec, True), video=True)
    return targets


def _video_codec_and_seeds(motion_search: int) -> tuple[torch.nn.Module, list[bytes]]:
    from fractions import Fraction

    from vcodec.codecs.video import VideoCodecConfig, stream_header
    from vcodec.models import build_model

    torch.manual_seed(0)
    config = VideoCodecConfig(n=16, m=24, lambdas=(0.0035, 0.013, 0.0483), temporal_width=8,
                              motion_search=motion_search, motion_width=8)
    codec = build_model(config, "fuzz-video")
    _strengthen(codec.intra.g_a)
    with torch.no_grad():
        codec.prior.start_from(codec.intra)
        for p in codec.prior.parameters() if motion_search else codec.prior.temporal.parameters():
            p.add_(0.05 * torch.randn_like(p))
    codec.eval().update()
    g = torch.Generator().manual_seed(1)
    base = torch.rand(1, 3, 40, 72, generator=g)
    frames = [torch.roll(base, shifts=2 * t, dims=-1) for t in range(3)]
    seeds = []
    skip_weight = 1000 if motion_search else 1  # with motion, code blocks (and so vectors) in every P-frame
    for quality, period in ((1, 3), (3, 2)):
        packets = list(codec.encode(frames, quality, period, skip_weight=skip_weight))
        seeds.append(stream_header(codec, 72, 40, Fraction(25), quality, period, len(packets))
                     + b"".join(p.to_bytes() for p in packets))
    return codec, seeds


def _video_decoder(codec: torch.nn.Module, keep_going: bool) -> Callable[[bytes], object]:
    from vcodec.codecs.video import decode_stream

    def decode(data: bytes) -> int:
        _, _, decoded = decode_stream(codec, io.BytesIO(data), keep_going)
        return sum(1 for _ in decoded)
    return decode


def token_targets() -> dict[str, Target]:
    from vcodec.tokenizers import (Causal3DConfig, CausalVideoTokenizer, Conv2DConfig, Conv2DTokenizer,
                                   Transformer1DConfig, Transformer1DTokenizer)

    targets = {}
    fsq = {"quantizer": "fsq", "quantizer_options": {"levels": (8, 5, 5, 5)}}
    small = dict(image_size=32, **fsq)
    for name, tokenizer in (
            ("tokens/transformer-1d", Transformer1DTokenizer(Transformer1DConfig(**small, patch_size=8, width=32, depth=1,
                                                                                  heads=2, num_tokens=16), "fuzz")),
            ("tokens/transformer-1d-ar", Transformer1DTokenizer(Transformer1DConfig(**small, patch_size=8, width=32,
                                                                                     depth=1, heads=2, num_tokens=16,
                                                                                     prior="autoregressive"), "fuzz")),
            ("tokens/conv-2d", Conv2DTokenizer(Conv2DConfig(**small, factor=8, channels=8), "fuzz"))):
        torch.manual_seed(0)
        tokenizer.eval()
        images = torch.rand(6, 3, 32, 32)
        indices = tokenizer.as_indices(tokenizer.encode(images))
        if tokenizer.config.prior == "autoregressive":
            tokenizer.prior.fit(indices, steps=40)
        else:
            tokenizer.prior.fit(indices)
        tokenizer.update()
        seeds = tokenizer.compress(images[:3]) + (tokenizer.compress(images[3:], num_tokens=4)
                                                  if len(tokenizer.token_grid) == 1 else [])
        targets[name] = Target(name, seeds, tokenizer.decompress)
    torch.manual_seed(0)
    video_tokenizer = CausalVideoTokenizer(Causal3DConfig(channels=8)).eval()
    video_tokenizer.name = "fuzz"
    clips = torch.rand(2, 3, 5, 32, 40)
    video_tokenizer.fit_prior(video_tokenizer.encode(clips))
    targets["tokens/causal-3d"] = Target("tokens/causal-3d", video_tokenizer.compress(clips),
                                         video_tokenizer.decompress)
    return targets


def shipped_targets() -> dict[str, Target]:
    """The decoders of the shipped checkpoints (the real networks and tables), on small seed streams."""
    from fractions import Fraction

    from vcodec import zoo
    from vcodec.codecs.video import decode_stream, stream_header
    from vcodec.models import model_kind

    targets = {}
    for name in zoo.list_models():
        if zoo.shipped_info(name).kind == "token-prior":  # a generator: it decodes no streams
            continue
        g = torch.Generator().manual_seed(zlib.crc32(name.encode()))  # per model: adding one changes no other
        model = zoo.load(name)
        kind = model_kind(model.config)
        if kind == "image-codec":
            seeds = [model.compress(x, quality=q) for x in (_images()[0], torch.rand(1, 3, 24, 70, generator=g))
                     for q in (1, model.num_qualities)]
            decode = model.decompress
        elif kind == "video-codec":
            base = _images()[0][..., :32, :48]
            frames = [torch.roll(base, shifts=t, dims=-1) for t in range(4)]
            seeds = [stream_header(model, 48, 32, Fraction(25), q, 2, 4) + b"".join(p.to_bytes() for p in
                                                                                 model.encode(frames, q, 2))
                     for q in (1, model.num_qualities)]

            def decode(data: bytes, codec=model) -> int:
                return sum(1 for _ in decode_stream(codec, io.BytesIO(data), keep_going=True)[2])
        elif kind == "video-tokenizer":
            seeds = model.compress(torch.rand(2, 3, 5, 32, 32, generator=g))
            decode = model.decompress
        else:
            size = model.image_size
            seeds = model.compress(torch.rand(2, 3, size, size, generator=g))
            if len(model.token_grid) == 1:
                seeds += model.compress(torch.rand(1, 3, size, size, generator=g), num_tokens=4)
            decode = model.decompress
        targets[f"shipped/{name}"] = Target(f"shipped/{name}", seeds, decode, video=kind == "video-codec")
    return targets


def container_target() -> Target:
    """The container parser alone, on the seeds of every other target."""
    seeds = [s for t in image_targets().values() for s in t.seeds]
    return Target("container", seeds, Container.from_bytes)


def targets() -> dict[str, Target]:
    """Every decoder of the project, keyed by name."""
    return {"container": container_target(), **image_targets(), **video_targets(), **token_targets()}
