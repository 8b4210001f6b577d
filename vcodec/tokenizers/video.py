"""What causal video tokenizers share: the clip layout (the first frame alone, then every group of
``temporal_factor`` frames, each a token frame of (H/s)×(W/s) tokens), id validation, token streams
under a categorical prior, and cutting clips of any size and length into the pieces they take.

A subclass provides ``config`` (with ``spatial_factor`` and ``temporal_factor``), ``quantizer``,
``prior`` and two networks: ``_codes`` (video → B×T'×h×w×D continuous codes) and ``_frames`` (quantized
codes → video).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from vcodec.entropy import coder
from vcodec.entropy.container import Container
from vcodec.errors import BitstreamError
from vcodec.tokenizers.base import TokenModel, read_token_container, token_container

MAX_CLIP_TOKENS = 1 << 24  # what a stream may declare before anything is allocated
# frames × pixels decompress() decodes in one pass: 17 frames of 350², or one 17-frame 256² tile of
# tokenize_frames with room; a 3D conv decoder's activations take ~256 bytes per voxel
MAX_DECODED_VOXELS = 1 << 21
VIDEO_TOKEN_CHUNK = (
    17  # frames per independently tokenized chunk: 1 + 4·4 for a temporal factor of 4
)
VIDEO_TOKEN_TILE = 256  # pixels per tile side: bounds the decoders' memory on large frames


class VideoTokenModel(TokenModel):
    """Video (B×3×T×H×W in [0, 1], T = 1 + k·temporal_factor, H and W multiples of the spatial factor)
    ↔ token ids (B×T'×h×w, or B×T'×h×w×G with G sub-tokens) ↔ bytes."""

    def _codes(self, video: Tensor) -> Tensor:
        """B×T'×h×w×D continuous codes of a checked video."""
        raise NotImplementedError

    def _frames(self, codes: Tensor) -> Tensor:
        """The video (B×3×T×H×W, not clamped) of B×T'×h×w×D quantized codes."""
        raise NotImplementedError

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

    def _quantize(self, codes: Tensor):
        """The quantizer's output for B×T'×h×w×D codes (ids B×(T'·h·w)×G)."""
        return self.quantizer(codes.flatten(1, 3))

    def forward(self, video: Tensor) -> dict:
        """Training pass: {"x_hat", "quantizer"} (the quantizer's output, with its loss and usage)."""
        self.check_video(video)
        codes = self._codes(video)
        out = self._quantize(codes)
        return {"x_hat": self._frames(out.quantized.reshape(codes.shape)), "quantizer": out}

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

    # --- ids: B×T'×h×w (one vocabulary) or B×T'×h×w×G (G sub-tokens) ---------------------------------
    def _public(self, indices: Tensor) -> Tensor:
        return indices[..., 0] if len(self.vocab_sizes) == 1 else indices

    def _as_indices(self, tokens: Tensor) -> Tensor:
        """B×T'×h×w×G long ids of public tokens, checked (ValueError names the expected shape)."""
        groups = len(self.vocab_sizes)
        shape = "B×T'×h×w" + ("" if groups == 1 else f"×{groups}")
        if tokens.dtype not in (torch.int32, torch.int64) or tokens.dim() != 4 + (groups > 1):
            raise ValueError(
                f"expected integer tokens {shape}, got {tuple(tokens.shape)} {tokens.dtype}"
            )
        indices = tokens[..., None] if groups == 1 else tokens
        if indices.shape[-1] != groups:
            raise ValueError(f"expected integer tokens {shape}, got {tuple(tokens.shape)}")
        for g, vocab in enumerate(self.vocab_sizes):
            if indices[..., g].min() < 0 or indices[..., g].max() >= vocab:
                raise ValueError(
                    f"token ids must lie in 0…{vocab - 1}"
                    + ("" if groups == 1 else f" (sub-token {g})")
                )
        return indices.long()

    @torch.no_grad()
    def encode(self, video: Tensor, num_tokens: int | None = None) -> Tensor:
        """Token ids, B×T'×h×w(×G) (the whole grid: ``num_tokens`` is for the protocol and must be None)."""
        self.check_num_tokens(num_tokens)
        self.check_video(video)
        codes = self._codes(video)
        indices = self._quantize(codes).indices
        return self._public(indices.reshape(*codes.shape[:4], -1))

    def embed(self, tokens: Tensor) -> Tensor:
        """Code vectors, B×T'×h×w×D."""
        indices = self._as_indices(tokens)
        b, t, h, w, g = indices.shape
        return self.quantizer.embed(indices.reshape(b, -1, g)).reshape(b, t, h, w, -1)

    @torch.no_grad()
    def decode(self, tokens: Tensor) -> Tensor:
        """The video, B×3×T×H×W in [0, 1] (T = 1 + (T' − 1)·temporal_factor)."""
        return self._frames(self.embed(tokens)).clamp(0, 1)

    # --- bytes ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def fit_prior(self, tokens: Tensor) -> None:
        """Fit the coding prior to the frequencies of some tokens: one histogram per sub-token, and,
        where the prior has two positions, one for the first token frame (one frame coded alone) and
        one for the token frames after it (groups of frames)."""
        ids = self._as_indices(tokens)
        kinds = self._frame_kinds(ids.shape[1])
        groups = len(self.vocab_sizes)
        self.prior.fit_positions(
            [
                ids[:, torch.from_numpy(kinds == n)].reshape(-1, groups)
                for n in range(self.prior.positions)
            ]
        )
        self._weights_hash = None

    def _frame_kinds(self, frames: int) -> np.ndarray:
        """The prior position of each token frame: its index, the last position for all later ones."""
        return np.minimum(np.arange(frames), self.prior.positions - 1)

    def _table_indexes(self, grid: tuple[int, ...]) -> np.ndarray:
        """The prior's table of each id of a T'×h×w token grid (G sub-tokens each, in that order):
        sub-token g's table of the token frame's kind (first or later, where the prior tells them
        apart), which is the prior's table g·positions + kind."""
        frames, height, width = grid
        kind = self._frame_kinds(frames).repeat(height * width)
        sub_tokens = np.arange(len(self.vocab_sizes), dtype=np.intp)
        return (sub_tokens[None, :] * self.prior.positions + kind[:, None]).reshape(-1)

    def compress(self, video: Tensor) -> list[bytes]:
        """One token container per clip of the batch."""
        tables = self.prior._coder_tables()
        height, width = video.shape[-2:]
        streams = []
        for ids in self._as_indices(self.encode(video)):
            payload = coder.encode(
                ids.numpy().reshape(-1), self._table_indexes(tuple(ids.shape[:3])), tables
            )
            streams.append(token_container(self, width, height, ids.shape[0], payload))
        return streams

    def _declared_shape(self, data: bytes) -> tuple[Container, tuple[int, int, int, int]]:
        """The container of a token stream of this model and the 1×T'×h×w id grid it declares, checked."""
        container, frames = read_token_container(data, self)
        s = self.config.spatial_factor
        if container.width % s or container.height % s:
            raise BitstreamError(
                f"stream declares {container.width}×{container.height}, not multiples of {s}"
            )
        shape = (1, frames, container.height // s, container.width // s)
        if not 1 <= frames or int(np.prod(shape)) * len(self.vocab_sizes) > MAX_CLIP_TOKENS:
            raise BitstreamError(
                f"stream declares {frames} token frames of {shape[2]}×{shape[3]}, beyond the limits"
            )
        return container, shape

    def decompress_tokens(self, data: bytes) -> Tensor:
        """The 1×T'×h×w(×G) ids of a container made by :meth:`compress` of this model."""
        container, shape = self._declared_shape(data)
        groups = len(self.vocab_sizes)
        ids = coder.decode(
            container.sections[1],
            self._table_indexes(shape[1:]),
            self.prior._coder_tables(),
        ).reshape(*shape, groups)
        vocab = np.array(self.vocab_sizes)
        if ids.min() < 0 or (ids >= vocab).any():
            raise BitstreamError("token data decodes to ids outside the vocabulary")
        return self._public(torch.from_numpy(ids.astype(np.int64)))

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


def clip_pieces(
    frames: np.ndarray, chunk: int, tile: int, config
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


@torch.no_grad()
def tokenize_frames(
    tokenizer: VideoTokenModel,
    frames: np.ndarray,
    chunk: int = VIDEO_TOKEN_CHUNK,
    tile: int = VIDEO_TOKEN_TILE,
) -> Tensor:
    """Token ids (T'×⌈H/s⌉×⌈W/s⌉, ×G with sub-tokens) of a T×H×W×3 uint8 clip of any size and length:
    chunks of ``chunk`` frames tokenized independently (each starts a new group of
    1 + (chunk − 1)/temporal_factor token frames), every frame in tiles of at most ``tile`` pixels whose
    token grids are stitched together."""
    c = tokenizer.config
    if (chunk - 1) % c.temporal_factor or chunk < 1:
        raise ValueError(f"chunk must be 1 + k·{c.temporal_factor} frames, got {chunk}")
    height, width = (-(-side // c.spatial_factor) for side in frames.shape[1:3])
    chunks: list[Tensor] = []
    for t, y, x, piece in clip_pieces(frames, chunk, tile, c):
        ids = tokenizer.encode(piece)[0]
        if y.start == 0 and x.start == 0:
            chunks.append(
                torch.empty((ids.shape[0], height, width, *ids.shape[3:]), dtype=ids.dtype)
            )
        top, left = y.start // c.spatial_factor, x.start // c.spatial_factor
        target = chunks[-1][:, top : top + ids.shape[1], left : left + ids.shape[2]]
        target.copy_(ids[:, : target.shape[1], : target.shape[2]])
    return torch.cat(chunks)
