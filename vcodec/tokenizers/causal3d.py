"""A causal video tokenizer (first slice): causal 3D convolutions and an FSQ bottleneck, in the manner of
MAGVIT-v2 and the Cosmos causal tokenizers.

The first frame is tokenized by itself and every later group of ``temporal_factor`` frames together,
so a clip of 1 + 4n frames gives 1 + n token frames of (H/8)×(W/8) tokens, and a clip's first tokens
do not change when frames are appended. ``compress`` writes one token container per clip, its ids
range-coded under a categorical prior fitted to tokens (:meth:`fit_prior`). ``vcodec train
--architecture causal-3d`` trains it on synthetic clips cut from the training photos.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from vcodec.entropy import coder
from vcodec.entropy.categorical import StaticTokenPrior
from vcodec.entropy.container import Container
from vcodec.errors import BitstreamError
from vcodec.layers.causal import CausalConv3d, CausalResBlock, CausalTimeUpsample, SpaceUpsample
from vcodec.quantizers import build_quantizer
from vcodec.tokenizers.base import TokenModel, read_token_container, token_container

MAX_CLIP_TOKENS = 1 << 24  # what a stream may declare before anything is allocated
MAX_DECODED_VOXELS = (
    1 << 21
)  # frames × pixels decompress() decodes in one pass: 17 frames of 350², or one
# 17-frame 256² tile of tokenize_frames with room; the decoder's activations take ~256 bytes per voxel
VIDEO_TOKEN_CHUNK = (
    17  # frames per independently tokenized chunk: 1 + 4·4 for a temporal factor of 4
)
VIDEO_TOKEN_TILE = 256  # pixels per tile side: bounds the 3D convolutions' memory on large frames


def clip_pieces(
    frames: np.ndarray, chunk: int, tile: int, config: "Causal3DConfig"
) -> Iterator[tuple[slice, slice, slice, torch.Tensor]]:
    """A T×H×W×3 uint8 clip as independent 1×3×t×h×w float pieces (and where each came from), as a causal
    video tokenizer of ``config`` takes them: chunks of up to ``chunk`` frames, the last one's frames
    repeated to 1 + k·temporal factor, and tiles of at most ``tile`` pixels a side, edges replicated
    to a multiple of the spatial factor."""
    t_total, height, width = frames.shape[:3]
    space, time_factor = config.spatial_factor, config.temporal_factor
    tile_h, tile_w = (min(tile, -(-side // space) * space) for side in (height, width))
    for t0 in range(0, t_total, chunk):
        part = frames[t0 : t0 + chunk]
        length = 1 + -(-(len(part) - 1) // time_factor) * time_factor
        part = np.concatenate([part, np.repeat(part[-1:], length - len(part), axis=0)])
        for y0 in range(0, height, tile_h):
            for x0 in range(0, width, tile_w):
                piece = part[:, y0 : y0 + tile_h, x0 : x0 + tile_w]
                piece = np.pad(
                    piece,
                    ((0, 0), (0, tile_h - piece.shape[1]), (0, tile_w - piece.shape[2]), (0, 0)),
                    mode="edge",
                )
                where = (slice(t0, t0 + chunk), slice(y0, y0 + tile_h), slice(x0, x0 + tile_w))
                yield *where, torch.from_numpy(piece).permute(3, 0, 1, 2)[None].float().div(255.0)


@dataclass
class Causal3DConfig:
    """Widths and strides of the causal video tokenizer."""

    architecture: str = "causal-3d"
    channels: int = 64
    spatial_downsamples: int = 3  # each halves height and width: factor 8
    temporal_downsamples: int = 2  # each halves the frame rate after the first frame: factor 4
    levels: tuple[int, ...] = field(default=(8, 5, 5, 5))  # FSQ levels: a vocabulary of 1000

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Causal3DConfig":
        known = {
            k: data[k]
            for k in (
                "architecture",
                "channels",
                "spatial_downsamples",
                "temporal_downsamples",
                "levels",
            )
            if k in data
        }
        known["levels"] = tuple(known.get("levels", (8, 5, 5, 5)))
        return cls(**known)

    def summary(self) -> str:
        """One line for model cards and result descriptions."""
        return (
            f"causal 3D conv encoder/decoder, {self.channels} channels, {self.spatial_factor}× in space and "
            f"{self.temporal_factor}× in time after the first frame, FSQ levels {list(self.levels)}"
        )

    @property
    def spatial_factor(self) -> int:
        return 2**self.spatial_downsamples

    @property
    def temporal_factor(self) -> int:
        return 2**self.temporal_downsamples


class CausalVideoTokenizer(TokenModel):
    """Video (B×3×T×H×W in [0, 1], T = 1 + k·temporal_factor, H and W multiples of the spatial factor)
    ↔ token ids (B×T'×h×w) ↔ bytes."""

    def __init__(self, config: Causal3DConfig):
        super().__init__()
        self.config = config
        c, dim = config.channels, len(config.levels)
        down = [CausalConv3d(3, c)]
        for i in range(max(config.spatial_downsamples, config.temporal_downsamples)):
            time, space = (
                int(i < config.temporal_downsamples) + 1,
                int(i < config.spatial_downsamples) + 1,
            )
            down += [CausalResBlock(c), nn.SiLU(), CausalConv3d(c, c, stride=(time, space, space))]
        self.encoder = nn.Sequential(
            *down, CausalResBlock(c), nn.SiLU(), CausalConv3d(c, dim, (1, 1, 1))
        )
        up = [CausalConv3d(dim, c), CausalResBlock(c)]
        for i in reversed(range(max(config.spatial_downsamples, config.temporal_downsamples))):
            if i < config.temporal_downsamples:
                up.append(CausalTimeUpsample(c))
            if i < config.spatial_downsamples:
                up.append(SpaceUpsample(c))
            up += [CausalResBlock(c), nn.SiLU()]
        self.decoder = nn.Sequential(*up, CausalConv3d(c, 3))
        self.quantizer = build_quantizer("fsq", dim, levels=config.levels)
        self.prior = StaticTokenPrior(
            self.quantizer.vocab_sizes, positions=1
        )  # one histogram for every token

    def check_video(self, video: Tensor) -> None:
        """ValueError unless ``video`` is B×3×T×H×W floats with T = 1 + k·temporal_factor and H, W
        multiples of the spatial factor."""
        s, t = self.config.spatial_factor, self.config.temporal_factor
        if video.dim() != 5 or video.shape[1] != 3 or not video.is_floating_point():
            raise ValueError(
                f"expected a float video B×3×T×H×W, got {tuple(video.shape)} {video.dtype}"
            )
        frames, height, width = video.shape[2:]
        if (frames - 1) % t or height % s or width % s:
            raise ValueError(
                f"expected 1 + k·{t} frames and sides that are multiples of {s}, got {frames} frames "
                f"of {width}×{height}"
            )

    def forward(self, video: Tensor) -> dict:
        """Training pass: {"x_hat", "quantizer"} (the quantizer's output, with its loss and usage)."""
        self.check_video(video)
        latent = self.encoder(video * 2 - 1)
        b, d, t, h, w = latent.shape
        out = self.quantizer(latent.permute(0, 2, 3, 4, 1).reshape(b, t * h * w, d))
        quantized = out.quantized.reshape(b, t, h, w, d).permute(0, 4, 1, 2, 3)
        return {"x_hat": (self.decoder(quantized) + 1) / 2, "quantizer": out}

    @property
    def max_tokens(self) -> int:
        """The most tokens one clip's stream may hold (its grid depends on the clip's size)."""
        return MAX_CLIP_TOKENS

    def check_num_tokens(self, num_tokens: int | None) -> None:
        """A video tokenizer always gives its whole grid: ``num_tokens`` must be None."""
        if num_tokens is not None:
            raise ValueError(
                "num_tokens applies to 1D image tokenizers; a video tokenizer gives its whole grid"
            )

    @torch.no_grad()
    def encode(self, video: Tensor, num_tokens: int | None = None) -> Tensor:
        """Token ids, B×T'×h×w (the whole grid: ``num_tokens`` is for the protocol and must be None)."""
        self.check_num_tokens(num_tokens)
        self.check_video(video)
        latent = self.encoder(video * 2 - 1)
        b, d, t, h, w = latent.shape
        indices = self.quantizer(latent.permute(0, 2, 3, 4, 1).reshape(b, t * h * w, d)).indices
        return indices[..., 0].reshape(b, t, h, w)

    def embed(self, tokens: Tensor) -> Tensor:
        """Code vectors, B×T'×h×w×D."""
        if tokens.dim() != 4 or tokens.dtype not in (torch.int32, torch.int64):
            raise ValueError(
                f"expected integer tokens B×T'×h×w, got {tuple(tokens.shape)} {tokens.dtype}"
            )
        if tokens.min() < 0 or tokens.max() >= self.vocab_sizes[0]:
            raise ValueError(f"token ids must lie in 0…{self.vocab_sizes[0] - 1}")
        b, t, h, w = tokens.shape
        return self.quantizer.embed(tokens.reshape(b, -1, 1).long()).reshape(b, t, h, w, -1)

    @torch.no_grad()
    def decode(self, tokens: Tensor) -> Tensor:
        """The video, B×3×T×H×W in [0, 1] (T = 1 + (T' − 1)·temporal_factor)."""
        codes = self.embed(tokens).permute(0, 4, 1, 2, 3)
        return ((self.decoder(codes) + 1) / 2).clamp(0, 1)

    # --- bytes ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def fit_prior(self, tokens: Tensor) -> None:
        """Fit the coding prior to the frequencies of some tokens (any shape)."""
        self.prior.fit(tokens.reshape(-1, 1, 1))
        self._weights_hash = None

    def compress(self, video: Tensor) -> list[bytes]:
        """One token container per clip of the batch."""
        tables = self.prior._coder_tables()
        height, width = video.shape[-2:]
        return [
            token_container(
                self,
                width,
                height,
                t.shape[0],
                coder.encode(t.numpy().reshape(-1), np.zeros(t.numel(), dtype=np.intp), tables),
            )
            for t in self.encode(video)
        ]

    def _declared_shape(self, data: bytes) -> tuple[Container, tuple[int, int, int, int]]:
        """The container of a token stream of this model and the 1×T'×h×w id grid it declares, checked."""
        container, frames = read_token_container(data, self)
        s = self.config.spatial_factor
        if container.width % s or container.height % s:
            raise BitstreamError(
                f"stream declares {container.width}×{container.height}, not multiples of {s}"
            )
        shape = (1, frames, container.height // s, container.width // s)
        if not 1 <= frames or int(np.prod(shape)) > MAX_CLIP_TOKENS:
            raise BitstreamError(
                f"stream declares {frames} token frames of {shape[2]}×{shape[3]}, beyond the limits"
            )
        return container, shape

    def decompress_tokens(self, data: bytes) -> Tensor:
        """The 1×T'×h×w ids of a container made by :meth:`compress` of this model."""
        container, shape = self._declared_shape(data)
        ids = coder.decode(
            container.sections[1],
            np.zeros(int(np.prod(shape)), dtype=np.intp),
            self.prior._coder_tables(),
        )
        if ids.min() < 0 or ids.max() >= self.vocab_sizes[0]:
            raise BitstreamError("token data decodes to ids outside the vocabulary")
        return torch.from_numpy(ids.astype(np.int64)).reshape(shape)

    def decompress(self, data: bytes) -> Tensor:
        """The decoded clip, 1×3×T×H×W (decoded in one pass, so its size is bounded; decode longer or
        larger token grids chunk by chunk with :meth:`decode`)."""
        _, (_, count, height, width) = self._declared_shape(data)
        frames, s = 1 + self.config.temporal_factor * (count - 1), self.config.spatial_factor
        if frames * height * width * s * s > MAX_DECODED_VOXELS:
            raise BitstreamError(
                f"stream declares a clip of {frames} frames of {width * s}×{height * s}, "
                f"more than decompress decodes in one pass ({MAX_DECODED_VOXELS:,} voxels)"
            )
        return self.decode(self.decompress_tokens(data))


@torch.no_grad()
def tokenize_frames(
    tokenizer: CausalVideoTokenizer,
    frames: np.ndarray,
    chunk: int = VIDEO_TOKEN_CHUNK,
    tile: int = VIDEO_TOKEN_TILE,
) -> Tensor:
    """Token ids (T'×⌈H/8⌉×⌈W/8⌉) of a T×H×W×3 uint8 clip of any size and length: chunks of ``chunk``
    frames tokenized independently (each starts a new group of 1 + (chunk − 1)/4 token frames), every
    frame in tiles of at most ``tile`` pixels whose token grids are stitched together."""
    c = tokenizer.config
    if (chunk - 1) % c.temporal_factor or chunk < 1:
        raise ValueError(f"chunk must be 1 + k·{c.temporal_factor} frames, got {chunk}")
    height, width = (-(-side // c.spatial_factor) for side in frames.shape[1:3])
    chunks: list[Tensor] = []
    for t, y, x, piece in clip_pieces(frames, chunk, tile, c):
        ids = tokenizer.encode(piece)[0]
        if y.start == 0 and x.start == 0:
            chunks.append(torch.empty((ids.shape[0], height, width), dtype=ids.dtype))
        top, left = y.start // c.spatial_factor, x.start // c.spatial_factor
        target = chunks[-1][:, top : top + ids.shape[1], left : left + ids.shape[2]]
        target.copy_(ids[:, : target.shape[1], : target.shape[2]])
    return torch.cat(chunks)
