"""Fuzzing every decoder: mutated, truncated, spliced and random streams must decode or raise
:class:`~vcodec.BitstreamError` — never another exception, never a hang.

Byte-level mutations mostly stop at the CRC32 checks, so half of the cases are built knowing the
format: a container's or a video packet's fields and sections are changed and the stream is written
again with valid CRCs, which is what gets damaged bytes past the parsers into the entropy decoders
and the networks behind them.

A hang is measured in work, not time, so a loaded or paused machine cannot make one and a run finds
the same ones anywhere: a :class:`WorkMeter` counts the elements every tensor operation of a decode
writes (the networks, and every allocation) and the symbols it range-decodes, and stops the decode
once that passes the case's limit — :data:`HANG_FACTOR` times the work of the target's largest seed,
scaled up by as much as the output the case declares, and the decoder accepts, is larger than the
seeds'. A decoder that loops, or works beyond what its declared and capped sizes allow (a size it
should have refused counts as none), is therefore stopped and reported, deterministically. Time is
measured only by ``benchmarks/fuzz.py``.

    report = run(targets()["image/mean-scale-checkerboard"], cases=10_000, seed=0)
"""

from __future__ import annotations

import io
import math
import resource
import traceback
import zlib
from dataclasses import dataclass, field
from typing import Callable

import constriction
import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from vcodec.entropy.container import Container, Packet, check_model, read_packet, read_video_header
from vcodec.errors import BitstreamError
from vcodec.testing.tiny import strengthen

HANG_FACTOR = (
    16  # a case may do this many times its target's largest seed's work (per declared output)
)


@dataclass
class Target:
    """A decoder under test: valid seed streams, and the call that decodes one stream completely."""

    name: str
    seeds: list[bytes]
    decode: Callable[[bytes], object]
    video: bool = False  # seeds are video streams (a header container, then packets)
    # output samples (pixels, or voxels) a stream declares, read and checked as the decoder does: 0 for
    # one it refuses before decoding. None: the output does not depend on the stream (or is the seeds').
    declared: Callable[[bytes], int] | None = None


@dataclass
class Report:
    """What a fuzz run saw: counts per outcome and the failing cases (the input and what happened)."""

    target: str
    cases: int = 0
    decoded: int = 0
    rejected: int = 0  # BitstreamError
    crashes: list[tuple[bytes, str]] = field(default_factory=list)
    hangs: list[tuple[bytes, int]] = field(
        default_factory=list
    )  # the input, and the work done when stopped
    most_work: float = 0.0  # the largest share of its work limit a case used (a hang: above 1)

    def summary(self) -> dict:
        return {
            "target": self.target,
            "cases": self.cases,
            "decoded": self.decoded,
            "rejected": self.rejected,
            "crashes": len(self.crashes),
            "hangs": len(self.hangs),
            "most_work": round(self.most_work, 4),
            "peak_rss_mib": peak_rss_mib(),
            "first_crash": self.crashes[0][1].strip().splitlines()[-1] if self.crashes else None,
        }


def peak_rss_mib() -> float:
    """This process's peak resident memory so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(
    target: Target, cases: int, seed: int = 0, progress: bool = False, first: int = 0
) -> Report:
    """Decode the mutated streams ``first`` … ``first + cases − 1`` of ``seed`` (case i is a function of
    ``seed`` and i alone, so a run can be continued, and any failure replayed with :func:`case`)."""
    from tqdm import tqdm

    report = Report(target.name)
    baseline = seed_work(target)
    for index in tqdm(
        range(first, first + cases), desc=target.name, disable=not progress, unit="case"
    ):
        data = case(target, seed, index)
        limit = work_limit(target, data, baseline)
        outcome, work, trace = decode_case(target, data, limit)
        if outcome == "decoded":
            report.decoded += 1
        elif outcome == "rejected":
            report.rejected += 1
        elif outcome == "crash":
            report.crashes.append((data, trace))
        else:
            report.hangs.append((data, work))
        report.most_work = max(report.most_work, work / limit if limit else float(work > 0))
        report.cases += 1
    return report


# --- work, instead of time ------------------------------------------------------------------------------
class WorkLimitExceeded(BaseException):
    """Raised inside a decode that has done more work than its case allows (not an ``Exception``, so no
    decoder's own ``except`` can take it for damage)."""


_RANGE_DECODER = constriction.stream.queue.RangeDecoder


class WorkMeter(TorchDispatchMode):
    """While active: counts the elements written by every tensor operation and the symbols decoded by
    every range decoder (counted before they are decoded), and raises :class:`WorkLimitExceeded` when
    their sum passes ``limit``. Both counts are functions of the input alone."""

    active: "WorkMeter | None" = None

    def __init__(self, limit: float = math.inf):
        super().__init__()
        self.limit, self.work = limit, 0

    def add(self, amount: int) -> None:
        self.work += amount
        if self.work > self.limit:
            raise WorkLimitExceeded(f"{self.work:,} units of work, limit {self.limit:,.0f}")

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.add(
            out.numel()
            if isinstance(out, torch.Tensor)
            # the common case, first: this runs per op
            else sum(t.numel() for t in tree_leaves(out) if isinstance(t, torch.Tensor))
        )
        return out

    def __enter__(self):
        if WorkMeter.active is not None:
            raise RuntimeError("work meters do not nest")
        WorkMeter.active = self
        constriction.stream.queue.RangeDecoder = (
            _CountingRangeDecoder  # the decoders look it up per stream
        )
        return super().__enter__()

    def __exit__(self, *exc):
        WorkMeter.active = None
        constriction.stream.queue.RangeDecoder = _RANGE_DECODER
        return super().__exit__(*exc)


class _CountingRangeDecoder:
    """constriction's range decoder, with every symbol it decodes counted by the active meter."""

    def __init__(self, *args, **kwargs):
        self._decoder = _RANGE_DECODER(*args, **kwargs)

    def decode(self, model, *params):
        if WorkMeter.active is not None:
            first = (
                params[0] if params else None
            )  # a count, or per-symbol parameters (one row a symbol)
            WorkMeter.active.add(
                1
                if first is None
                else int(first)
                if isinstance(first, (int, np.integer))
                else len(first)
                if np.ndim(first)
                else 1
            )
        return self._decoder.decode(model, *params)

    def __getattr__(self, name: str):
        return getattr(self._decoder, name)


def decode_case(
    target: Target, data: bytes, limit: float = math.inf
) -> tuple[str, int, str | None]:
    """Decode one input under a work limit: ("decoded" | "rejected" | "crash" | "hang", the work done,
    the traceback of a crash)."""
    meter = WorkMeter(limit)
    try:
        with meter:
            target.decode(data)
        return "decoded", meter.work, None
    except BitstreamError:
        return "rejected", meter.work, None
    except WorkLimitExceeded:
        return "hang", meter.work, None
    except Exception:  # noqa: BLE001 — any other exception is the finding
        return "crash", meter.work, traceback.format_exc()


def declared_samples(target: Target, data: bytes) -> int:
    """The output ``data`` declares and ``target``'s decoder accepts (1 for every stream of a target
    whose output does not depend on its stream; 0 for one the decoder refuses before decoding)."""
    if target.declared is None:
        return 1
    try:
        return max(0, int(target.declared(data)))
    except Exception:  # noqa: BLE001 — refused (a crash is the decode's to report)
        return 0


def seed_work(target: Target) -> tuple[int, int]:
    """The most work any seed of ``target`` takes to decode, and the most output any seed declares."""
    work = []
    for seed in target.seeds:
        outcome, units, trace = decode_case(target, seed)
        if outcome != "decoded":
            raise RuntimeError(f"{target.name}: a seed does not decode ({outcome})\n{trace or ''}")
        work.append(units)
    return max(work), max(1, *(declared_samples(target, s) for s in target.seeds))


def work_limit(target: Target, data: bytes, baseline: tuple[int, int] | None = None) -> float:
    """The work a decode of ``data`` may do before it counts as a hang: :data:`HANG_FACTOR` times the
    largest seed's, times the ratio of the output ``data`` declares to the seeds' when that is larger."""
    work, samples = baseline or seed_work(target)
    return HANG_FACTOR * work * max(1.0, declared_samples(target, data) / samples)


def case(target: Target, seed: int, index: int) -> bytes:
    """The ``index``-th fuzz input of a run with ``seed``."""
    rng = np.random.default_rng([seed, index])
    data = target.seeds[rng.integers(len(target.seeds))]
    if rng.random() < 0.5:
        return structured(target, data, rng)
    return mutate_bytes(data, rng, target.seeds)


# --- byte-level mutations ------------------------------------------------------------------------------
def mutate_bytes(
    data: bytes, rng: np.random.Generator, pool: list[bytes], rounds: int | None = None
) -> bytes:
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
        values = rng.choice(
            [0x00, 0xFF, 0x7F, 0x80, int(rng.integers(256))], size=int(rng.integers(1, 9))
        )
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
        else:  # sizes stay near the seed's (a larger one also raises the case's work limit)
            setattr(
                c,
                field_name,
                int(
                    rng.choice(
                        [
                            1,
                            2,
                            max(1, value - 1),
                            value + 1,
                            value * 2,
                            value // 2 + 1,
                            int(rng.integers(1, 4 * value + 2)),
                        ]
                    )
                ),
            )
    elif choice == 1:  # sections added, dropped or reordered
        sections = list(c.sections)
        operation = rng.integers(3)
        if operation == 0:
            sections.insert(
                int(rng.integers(len(sections) + 1)), bytes(rng.bytes(int(rng.integers(0, 32))))
            )
        elif operation == 1:
            del sections[rng.integers(len(sections))]
        else:
            rng.shuffle(sections)
        c.sections = sections
    else:  # one section's bytes
        at = int(rng.integers(len(c.sections)))
        c.sections = [
            *c.sections[:at],
            mutate_bytes(c.sections[at], rng, c.sections),
            *c.sections[at + 1 :],
        ]
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
            packet.index = int(
                rng.choice([0, packet.index + 1, max(0, packet.index - 1), len(packets), 2**32 - 1])
            )
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
        as_container = Container(
            header.kind,
            header.model,
            header.weights_hash,
            header.width,
            header.height,
            sections=list(packet.sections),
        )
        packet.sections = (
            _mutate_container(as_container, rng, pool).sections
            if rng.random() < 0.3
            else _mutate_one_section(packet.sections, rng)
        )
    stream = header.to_bytes() + b"".join(p.to_bytes() for p in packets)
    return stream if rng.random() < 0.8 else mutate_bytes(stream, rng, pool, rounds=1)


def _mutate_one_section(sections: list[bytes], rng: np.random.Generator) -> list[bytes]:
    if not sections:
        return sections
    at = int(rng.integers(len(sections)))
    return [*sections[:at], mutate_bytes(sections[at], rng, sections), *sections[at + 1 :]]


# --- the output a stream declares, as its decoder reads and caps it ---------------------------------------
def image_output(codec) -> Callable[[bytes], int]:
    """Pixels of an image stream (the codec's own parse checks them against its limits)."""

    def declared(data: bytes) -> int:
        container = codec.parse(data)
        return container.width * container.height

    return declared


def video_output(codec) -> Callable[[bytes], int]:
    """Pixels of a video stream's frames. Its frame count does not count: the decoder decodes a frame per
    whole packet and stands in for at most one lost frame per damaged byte, so a count buys no work."""

    def declared(data: bytes) -> int:
        header, _ = read_video_header(io.BytesIO(data))
        check_model(header, codec.name, codec.weights_hash)
        return header.width * header.height

    return declared


def clip_output(tokenizer) -> Callable[[bytes], int]:
    """Voxels of a video token stream's clip; 0 beyond what ``decompress`` decodes in one pass (it
    refuses those before decoding)."""
    from vcodec.tokenizers.video import MAX_DECODED_VOXELS

    def declared(data: bytes) -> int:
        _, (_, count, height, width) = tokenizer._declared_shape(data)
        c = tokenizer.config
        voxels = (1 + c.temporal_factor * (count - 1)) * height * width * c.spatial_factor**2
        return voxels if voxels <= MAX_DECODED_VOXELS else 0

    return declared


# --- the decoders of the project, on tiny models ---------------------------------------------------------
def test_images(seed: int = 0) -> list[torch.Tensor]:
    """A smooth 40×56 image, a noisy 17×33 one and a greyscale one (padding, colour and grey paths)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 56), indexing="ij")
    smooth = (
        0.8 * torch.stack((xx, yy, 0.5 * (xx + yy))) + 0.2 * torch.rand(3, 40, 56, generator=g)
    ).clamp(0, 1)
    return [
        smooth[None],
        torch.rand(1, 3, 33, 17, generator=g),
        torch.rand(1, 1, 20, 24, generator=g),
    ]


def image_targets() -> dict[str, Target]:
    from vcodec import registry

    targets = {}
    for architecture in registry.architectures("image-codec"):
        torch.manual_seed(0)
        codec = registry.build_model(registry.architecture(architecture).tiny_config(), "fuzz")
        strengthen(codec.g_a)
        codec.eval().update()
        qualities = (1, 3, codec.max_quality)  # the last with the near-lossless residual layer
        seeds = [codec.compress(x, quality=q) for x in test_images() for q in qualities]
        targets[f"image/{architecture}"] = Target(
            f"image/{architecture}", seeds, codec.decompress, declared=image_output(codec)
        )
    return targets


def video_targets() -> dict[str, Target]:
    """Streams of a tiny video codec without and with motion vectors, decoded strictly and with --keep-going."""
    targets = {}
    cases = [
        (name, *_video_codec_and_seeds(motion))
        for name, motion in (("video", 0), ("video/motion", 4))
    ]
    cases.append(("video/pixel", *_pixel_codec_and_seeds()))
    for name, codec, seeds in cases:
        targets[name] = Target(
            name, seeds, video_decoder(codec, False), video=True, declared=video_output(codec)
        )
        targets[f"{name}/keep-going"] = Target(
            f"{name}/keep-going",
            seeds,
            video_decoder(codec, True),
            video=True,
            declared=video_output(codec),
        )
    return targets


def _video_codec_and_seeds(motion_search: int) -> tuple[torch.nn.Module, list[bytes]]:
    from fractions import Fraction

    from vcodec import registry

    torch.manual_seed(0)
    tiny = registry.architecture("temporal-checkerboard")
    config = tiny.tiny_config(motion_search=motion_search, motion_width=8)
    codec = registry.build_model(config, "fuzz-video")
    strengthen(codec.intra.g_a)
    with torch.no_grad():
        codec.prior.start_from(codec.intra)
        for p in codec.prior.parameters() if motion_search else codec.prior.temporal.parameters():
            p.add_(0.05 * torch.randn_like(p))
    codec.eval().update()
    g = torch.Generator().manual_seed(1)
    base = torch.rand(1, 3, 40, 72, generator=g)
    frames = [torch.roll(base, shifts=2 * t, dims=-1) for t in range(3)]
    seeds = []
    skip_weight = (
        1000 if motion_search else 1
    )  # with motion, code blocks (and so vectors) in every P-frame
    for quality, period in ((1, 3), (3, 2)):
        stream = codec.encode_stream(
            frames,
            72,
            40,
            Fraction(25),
            quality,
            period,
            frame_count=len(frames),
            skip_weight=skip_weight,
        )
        seeds.append(b"".join(stream))
    return codec, seeds


def _pixel_codec_and_seeds() -> tuple[torch.nn.Module, list[bytes]]:
    """A tiny pixel-domain codec and streams of a pan with a moving patch: split motion, coded and
    skipped blocks."""
    from fractions import Fraction

    from vcodec.testing.tiny import tiny_pixel_codec

    codec = tiny_pixel_codec("fuzz-pixel")
    g = torch.Generator().manual_seed(2)
    base = torch.rand(1, 3, 72, 136, generator=g)
    frames = [torch.roll(base, shifts=2 * t, dims=-1) for t in range(3)]
    frames[2][..., 8:24, 8:24] = torch.rand(1, 3, 16, 16, generator=g)
    seeds = [
        b"".join(
            codec.encode_stream(
                frames, 136, 72, Fraction(25), quality, 3, frame_count=3, skip_weight=weight
            )
        )
        for quality, weight in ((1, 1.0), (3, 1000.0))
    ]
    return codec, seeds


def video_decoder(codec: torch.nn.Module, keep_going: bool) -> Callable[[bytes], object]:
    """Decode a whole video stream through ``codec``, counting the frames (what a fuzz target calls)."""

    def decode(data: bytes) -> int:
        _, _, decoded = codec.decode_stream(io.BytesIO(data), keep_going)
        return sum(1 for _ in decoded)

    return decode


def token_targets() -> dict[str, Target]:
    from vcodec import registry, zoo
    from vcodec.tokenizers import (
        Causal3DConfig,
        CausalVideoTokenizer,
        Conv2DConfig,
        Conv2DTokenizer,
        Transformer1DConfig,
        Transformer1DTokenizer,
    )

    targets = {}
    fsq = {"quantizer": "fsq", "quantizer_options": {"levels": (8, 5, 5, 5)}}
    small = dict(image_size=32, **fsq)
    for name, tokenizer in (
        (
            "tokens/transformer-1d",
            Transformer1DTokenizer(
                Transformer1DConfig(
                    **small, patch_size=8, width=32, depth=1, heads=2, num_tokens=16
                ),
                "fuzz",
            ),
        ),
        (
            "tokens/transformer-1d-ar",
            Transformer1DTokenizer(
                Transformer1DConfig(
                    **small,
                    patch_size=8,
                    width=32,
                    depth=1,
                    heads=2,
                    num_tokens=16,
                    prior="autoregressive",
                ),
                "fuzz",
            ),
        ),
        ("tokens/conv-2d", Conv2DTokenizer(Conv2DConfig(**small, factor=8, channels=8), "fuzz")),
        (  # on the shipped image codec's g_a and g_s
            "tokens/latent-1d",
            zoo.build(registry.architecture("latent-1d").tiny_config(num_tokens=16), "fuzz"),
        ),
    ):
        torch.manual_seed(0)
        tokenizer.eval()
        images = torch.rand(6, 3, 32, 32)
        indices = tokenizer.as_indices(tokenizer.encode(images))
        if tokenizer.config.prior == "autoregressive":
            tokenizer.prior.fit(indices, steps=40)
        else:
            tokenizer.prior.fit(indices)
        tokenizer.update()
        seeds = tokenizer.compress(images[:3]) + (
            tokenizer.compress(images[3:], num_tokens=4) if len(tokenizer.token_grid) == 1 else []
        )
        targets[name] = Target(name, seeds, tokenizer.decompress)
    torch.manual_seed(0)
    video_tokenizer = CausalVideoTokenizer(Causal3DConfig(channels=8)).eval()
    video_tokenizer.name = "fuzz"
    clips = torch.rand(2, 3, 5, 32, 40)
    video_tokenizer.fit_prior(video_tokenizer.encode(clips))
    targets["tokens/causal-3d"] = Target(
        "tokens/causal-3d",
        video_tokenizer.compress(clips),
        video_tokenizer.decompress,
        declared=clip_output(video_tokenizer),
    )
    return targets


def shipped_targets() -> dict[str, Target]:
    """The decoders of the shipped checkpoints (the real networks and tables), on small seed streams."""
    from vcodec import registry, zoo

    targets = {}
    for info in zoo.model_infos():
        if not registry.kind(info.kind).decodes_streams:  # a token prior is a generator
            continue
        seeds = torch.Generator().manual_seed(
            zlib.crc32(info.name.encode())
        )  # adding a model changes no other
        target = model_target(f"shipped/{info.name}", zoo.load(info.name), seeds)
        targets[target.name] = target
    return targets


def model_target(
    name: str, model: torch.nn.Module, generator: torch.Generator | None = None
) -> Target | None:
    """The decoder of any model, on the seed streams its kind makes (None: its kind decodes no streams)."""
    from vcodec import registry

    made = registry.kind_of(model).fuzz_seeds(model, generator or torch.Generator().manual_seed(0))
    return (
        None
        if made is None
        else Target(name, made.seeds, made.decode, video=made.video, declared=made.declared)
    )


def container_target() -> Target:
    """The container parser alone, on the seeds of every other target."""
    seeds = [s for t in image_targets().values() for s in t.seeds]
    return Target("container", seeds, Container.from_bytes)


def targets() -> dict[str, Target]:
    """Every decoder of the project, keyed by name."""
    return {
        "container": container_target(),
        **image_targets(),
        **video_targets(),
        **token_targets(),
    }
