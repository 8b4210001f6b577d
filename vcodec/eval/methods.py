"""What ``--methods`` names: shipped or local learned codecs and the classical baselines, each as an
object with ``points`` (its rate points) and ``code`` (one real round trip through public APIs).

Learned codecs only go through ``compress``/``decompress`` and count every byte of the container.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from vcodec import zoo
from vcodec.defaults import DEFAULT_GOP
from vcodec.entropy.container import Container, read_packets, read_video_header
from vcodec.errors import VcodecError
from vcodec.eval.baselines import IMAGE_BASELINES, VIDEO_BASELINES, Coded
from vcodec.io.images import to_uint8
from vcodec.tokenizers.video import VIDEO_TOKEN_CHUNK, VIDEO_TOKEN_TILE, clip_pieces


def _round_trip(
    codec, image: np.ndarray, quality: int, effort: int = 0
) -> tuple[bytes, np.ndarray, float, float]:
    x = (
        torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float().div(255.0)
    )  # a writable copy
    start = time.perf_counter()
    data = codec.compress(x, quality=quality, **({"effort": effort} if effort else {}))
    middle = time.perf_counter()
    decoded = to_uint8(codec.decompress(data))
    return data, decoded, middle - start, time.perf_counter() - middle


@dataclass
class LearnedImageMethod:
    """A learned image codec over all its qualities."""

    name: str
    codec: object
    points: tuple[int, ...] = ()  # qualities; empty means all of the model's
    parameter: str = "quality"
    min_side: int = 1  # any size: the codec pads to its alignment
    parallel: bool = False  # runs in the main process, where torch already uses every core
    effort: int = 0  # encoder effort (refined latents); a method of its own on the RD plot

    def __post_init__(self) -> None:
        self.points = tuple(self.codec.check_quality(q) for q in self.points) or tuple(
            range(1, self.codec.num_qualities + 1)
        )

    @property
    def description(self) -> str:
        c = self.codec.config
        effort = f", encoder effort {self.effort}" if self.effort else ""
        return f"vcodec {c.architecture} (N={c.n}, M={c.m}), model '{self.codec.name}'{effort}"

    def missing(self) -> str | None:
        return None

    def code(self, image: np.ndarray, point: int) -> Coded:
        data, decoded, enc_s, dec_s = _round_trip(self.codec, image, point, self.effort)
        return Coded(
            len(data), decoded, enc_s, dec_s, payload_bytes=self.codec.parse(data).payload_bytes
        )


@dataclass
class LearnedIntraVideoMethod(LearnedImageMethod):
    """A learned image codec used on every frame (all-intra): the video reference until a learned
    video codec ships."""

    @property
    def description(self) -> str:
        return super().description + ", every frame intra-coded"

    def code(self, frames: np.ndarray, fps: Fraction, point: int) -> Coded:
        trips = [_round_trip(self.codec, frame, point) for frame in frames]
        payload = sum(self.codec.parse(t[0]).payload_bytes for t in trips)
        return Coded(
            sum(len(t[0]) for t in trips),
            np.stack([t[1] for t in trips]),
            sum(t[2] for t in trips),
            sum(t[3] for t in trips),
            payload_bytes=payload,
        )


@dataclass
class LearnedVideoMethod(LearnedImageMethod):
    """A learned video codec: the whole clip as one stream (header + a packet per frame), decoded back
    from its bytes; ``gop`` is the intra period, as for the classical encoders."""

    gop: int = DEFAULT_GOP

    @property
    def description(self) -> str:
        c = self.codec.config
        return f"vcodec {c.architecture} (N={c.n}, M={c.m}), model '{self.codec.name}', intra period {self.gop}"

    def code(self, frames: np.ndarray, fps: Fraction, point: int) -> Coded:
        import io

        height, width = frames.shape[1:3]
        tensors = (
            torch.from_numpy(np.array(f)).permute(2, 0, 1)[None].float().div(255.0) for f in frames
        )
        start = time.perf_counter()
        data = b"".join(
            self.codec.encode_stream(tensors, width, height, fps, point, self.gop, len(frames))
        )
        middle = time.perf_counter()
        stream = io.BytesIO(data)
        header, info = read_video_header(stream)
        packets = list(read_packets(stream, header, info))
        decoded = [to_uint8(x) for x in self.codec.decode(packets, width, height, point)]
        payload = sum(
            len(section) for p in packets for section in p.sections
        )  # entropy-coded bytes only
        return Coded(
            len(data),
            np.stack(decoded),
            middle - start,
            time.perf_counter() - middle,
            payload_bytes=payload,
        )


def token_counts(max_tokens: int) -> tuple[int, ...]:
    """The rate points of a 1D tokenizer: powers of two up to its K, and K itself."""
    return tuple(
        sorted({2**i for i in range(max_tokens.bit_length()) if 2**i <= max_tokens} | {max_tokens})
    )


def tiles(image: np.ndarray, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """An H×W×3 uint8 image as T×3×size×size float tiles (edges replicated to fill the last ones)
    and the (rows, columns) of the tiling."""
    h, w = image.shape[:2]
    rows, cols = -(-h // size), -(-w // size)
    padded = np.pad(image, ((0, rows * size - h), (0, cols * size - w), (0, 0)), mode="edge")
    x = torch.from_numpy(padded).permute(2, 0, 1).float().div(255.0)
    return x.unfold(1, size, size).unfold(2, size, size).permute(1, 2, 0, 3, 4).reshape(
        -1, 3, size, size
    ), (rows, cols)


def untile(decoded: torch.Tensor, grid: tuple[int, int], height: int, width: int) -> np.ndarray:
    rows, cols = grid
    size = decoded.shape[-1]
    image = (
        decoded.reshape(rows, cols, 3, size, size)
        .permute(2, 0, 3, 1, 4)
        .reshape(3, rows * size, cols * size)
    )
    return to_uint8(image[None, :, :height, :width])


@dataclass
class TokenizerMethod:
    """A fixed-size tokenizer on any image: every image_size² tile coded with its first k tokens, one
    token container per tile, so the bits are real and the picture is the same as every codec's."""

    name: str
    tokenizer: object
    points: tuple[int, ...] = ()
    parameter: str = "tokens"
    min_side: int = 1
    parallel: bool = False

    def __post_init__(self) -> None:
        prefixes = (
            len(self.tokenizer.token_grid) == 1
        )  # a 2D tokenizer has one rate point: its grid
        default = (
            token_counts(self.tokenizer.max_tokens) if prefixes else (self.tokenizer.max_tokens,)
        )
        self.points = tuple(self.tokenizer.check_num_tokens(k) for k in self.points) or default

    @property
    def description(self) -> str:
        t = self.tokenizer
        return (
            f"vcodec {t.config.architecture} tokenizer '{t.name}' ({t.config.summary()}), "
            f"{t.image_size}² tiles"
        )

    def missing(self) -> str | None:
        return None

    def code(self, image: np.ndarray, point: int) -> Coded:
        x, grid = tiles(image, self.tokenizer.image_size)
        start = time.perf_counter()
        streams = self.tokenizer.compress(x, num_tokens=point)
        middle = time.perf_counter()
        decoded = torch.cat([self.tokenizer.decompress(s) for s in streams])
        decode_s = time.perf_counter() - middle
        payload = sum(Container.from_bytes(data).payload_bytes for data in streams)
        return Coded(
            sum(map(len, streams)),
            untile(decoded, grid, *image.shape[:2]),
            middle - start,
            decode_s,
            payload_bytes=payload,
        )


@dataclass
class VideoTokenizerMethod:
    """A causal video tokenizer on any clip: chunks of ``points`` frames, cut into tiles of at most 256²,
    one token container per piece (all bytes counted), decoded back from those bytes."""

    name: str
    tokenizer: object
    points: tuple[int, ...] = (VIDEO_TOKEN_CHUNK,)
    parameter: str = "chunk"
    min_side: int = 1
    parallel: bool = False

    @property
    def description(self) -> str:
        c = self.tokenizer.config
        return (
            f"vcodec {c.architecture} video tokenizer '{self.tokenizer.name}' ({c.summary()}), "
            f"tiles of at most {VIDEO_TOKEN_TILE}²"
        )

    def missing(self) -> str | None:
        return None

    def code(self, frames: np.ndarray, fps: Fraction, point: int) -> Coded:
        decoded = np.empty_like(frames)
        num_bytes, payload, encode_s, decode_s = 0, 0, 0.0, 0.0
        for t, y, x, piece in clip_pieces(frames, point, VIDEO_TOKEN_TILE, self.tokenizer.config):
            start = time.perf_counter()
            (data,) = self.tokenizer.compress(piece)
            middle = time.perf_counter()
            video = self.tokenizer.decompress(data)[0].permute(1, 2, 3, 0)  # t×S×S×3 in [0, 1]
            decode_s += time.perf_counter() - middle
            encode_s += middle - start
            target = decoded[t, y, x]
            target[...] = (
                video.mul(255)
                .round()
                .to(torch.uint8)
                .numpy()[tuple(slice(n) for n in target.shape)]
            )
            num_bytes, payload = (
                num_bytes + len(data),
                payload + Container.from_bytes(data).payload_bytes,
            )
        return Coded(num_bytes, decoded, encode_s, decode_s, payload_bytes=payload)


def token_bytes(tokenizer, images: dict[str, np.ndarray], k: int) -> tuple[float, float]:
    """(entropy-coded bytes of k token ids, raw bytes k·log2(V)/8) per tile, over every tile of ``images``."""
    coded, count = 0, 0
    for image in images.values():
        x, _ = tiles(image, tokenizer.image_size)
        coded += sum(
            len(Container.from_bytes(s).sections[1]) for s in tokenizer.compress(x, num_tokens=k)
        )
        count += x.shape[0]
    return coded / count, k * float(np.log2(np.prod(tokenizer.vocab_sizes))) / 8


def _default_model(video: bool) -> str:
    """The default model: for videos the shipped video codec, or the image codec all-intra without one."""
    return (
        zoo.DEFAULT_VIDEO_MODEL
        if video and zoo.DEFAULT_VIDEO_MODEL in zoo.list_models()
        else zoo.DEFAULT_MODEL
    )


def _learned(name: str, video: bool):
    from vcodec import registry

    model = _default_model(video) if name == "default" else name
    loaded = zoo.load(model)
    label = loaded.name if model in zoo.list_models() else Path(model).name
    return registry.kind_of(loaded).eval_method(label, loaded, video)


def resolve_methods(
    spec: str,
    video: bool = False,
    sweeps: dict[str, tuple[int, ...]] | None = None,
    efforts: tuple[int, ...] = (0,),
) -> list:
    """The methods of a comma-separated ``--methods`` value (``all`` for every available baseline
    plus the default model). Unknown names are an error; ``sweeps`` replaces a method's rate points
    (qualities of a learned codec, Pillow qualities, QPs or CRFs); each learned image codec is coded
    at every encoder effort in ``efforts``, a method (NAME-effortN) per level above 0."""
    from dataclasses import replace

    baselines = VIDEO_BASELINES if video else IMAGE_BASELINES
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if names == ["all"]:
        names = ["default", *baselines]
    if not names:
        raise VcodecError("no methods given")
    if len(set(names)) != len(names):
        raise VcodecError(f"a method is named twice in '{spec}'")
    methods = []
    for name in names:
        if name in baselines:
            methods.append(baselines[name])
        elif name == "default" or name in zoo.list_models() or Path(name).is_dir():
            methods.append(_learned(name, video))
        else:
            known = ", ".join(["default", *zoo.list_models(), *baselines])
            raise VcodecError(
                f"unknown method '{name}' (choose from {known}, or a checkpoint folder)"
            )
    labels = [m.name for m in methods]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise VcodecError(
            f"several methods would be called {', '.join(repeated)} (a model named twice, or two "
            f"checkpoint folders with the same name); their results would mix"
        )
    for name, points in (sweeps or {}).items():
        index = next((i for i, m in enumerate(methods) if m.name == name or names[i] == name), None)
        if index is None:
            raise VcodecError(f"--sweep names '{name}', which is not among the methods")
        try:
            methods[index] = replace(methods[index], points=tuple(points))
        except ValueError as err:
            raise VcodecError(f"--sweep {name}: {err}") from None
    return _with_efforts(methods, efforts)


def _with_efforts(methods: list, efforts: tuple[int, ...]) -> list:
    """Each learned image method once per effort level (level 0 keeps its name)."""
    from dataclasses import replace

    from vcodec.codecs.base import check_effort

    for level in efforts:
        check_effort(level)
    out = []
    for method in methods:
        if type(method) is not LearnedImageMethod:
            out.append(method)
            continue
        out += [
            replace(method, effort=e, name=method.name + (f"-effort{e}" if e else ""))
            for e in sorted(set(efforts))
        ]
    return out
