"""A causal video tokenizer (first slice): causal 3D convolutions and an FSQ bottleneck, in the manner of
MAGVIT-v2 and the Cosmos causal tokenizers.

The first frame is tokenized by itself and every later group of ``temporal_factor`` frames together,
so a clip of 1 + 4n frames gives 1 + n token frames of (H/8)×(W/8) tokens, and a clip's first tokens
do not change when frames are appended. ``compress`` writes one token container per clip, its ids
range-coded under a categorical prior fitted to tokens (:meth:`fit_prior`). Training through
``vcodec train`` and a shipped checkpoint come next (issue 6).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from vcodec.entropy import coder
from vcodec.entropy.categorical import StaticTokenPrior
from vcodec.errors import BitstreamError
from vcodec.layers.causal import CausalConv3d, CausalResBlock, CausalTimeUpsample, SpaceUpsample
from vcodec.quantizers import build_quantizer
from vcodec.tokenizers.base import read_token_container, token_container
from vcodec.weights import weights_hash

MAX_CLIP_TOKENS = 1 << 24  # what a stream may declare before anything is allocated


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
        known = {k: data[k] for k in ("architecture", "channels", "spatial_downsamples", "temporal_downsamples",
                                      "levels") if k in data}
        known["levels"] = tuple(known.get("levels", (8, 5, 5, 5)))
        return cls(**known)

    @property
    def spatial_factor(self) -> int:
        return 2**self.spatial_downsamples

    @property
    def temporal_factor(self) -> int:
        return 2**self.temporal_downsamples


class CausalVideoTokenizer(nn.Module):
    """Video (B×3×T×H×W in [0, 1], T = 1 + k·temporal_factor, H and W multiples of the spatial factor)
    ↔ token ids (B×T'×h×w) ↔ bytes."""

    name: str = "unnamed"

    def __init__(self, config: Causal3DConfig):
        super().__init__()
        self.config = config
        self._weights_hash: bytes | None = None
        c, dim = config.channels, len(config.levels)
        down = [CausalConv3d(3, c)]
        for i in range(max(config.spatial_downsamples, config.temporal_downsamples)):
            time, space = int(i < config.temporal_downsamples) + 1, int(i < config.spatial_downsamples) + 1
            down += [CausalResBlock(c), nn.SiLU(), CausalConv3d(c, c, stride=(time, space, space))]
        self.encoder = nn.Sequential(*down, CausalResBlock(c), nn.SiLU(), CausalConv3d(c, dim, (1, 1, 1)))
        up = [CausalConv3d(dim, c), CausalResBlock(c)]
        for i in reversed(range(max(config.spatial_downsamples, config.temporal_downsamples))):
            if i < config.temporal_downsamples:
                up.append(CausalTimeUpsample(c))
            if i < config.spatial_downsamples:
                up.append(SpaceUpsample(c))
            up += [CausalResBlock(c), nn.SiLU()]
        self.decoder = nn.Sequential(*up, CausalConv3d(c, 3))
        self.quantizer = build_quantizer("fsq", dim, levels=config.levels)
        self.prior = StaticTokenPrior(self.quantizer.vocab_sizes, positions=1)  # one histogram for every token

    @property
    def vocab_sizes(self) -> tuple[int, ...]:
        return self.quantizer.vocab_sizes

    def check_video(self, video: Tensor) -> None:
        """ValueError unless ``video`` is B×3×T×H×W floats with T = 1 + k·temporal_factor and H, W
        multiples of the spatial factor."""
        s, t = self.config.spatial_factor, self.config.temporal_factor
        if video.dim() != 5 or video.shape[1] != 3 or not video.is_floating_point():
            raise ValueError(f"expected a float video B×3×T×H×W, got {tuple(video.shape)} {video.dtype}")
        frames, height, width = video.shape[2:]
        if (frames - 1) % t or height % s or width % s:
            raise ValueError(f"expected 1 + k·{t} frames and sides that are multiples of {s}, got {frames} frames "
                             f"of {width}×{height}")

    def forward(self, video: Tensor) -> dict:
        """Training pass: {"x_hat", "quantizer"} (the quantizer's output, with its loss and usage)."""
        self.check_video(video)
        latent = self.encoder(video * 2 - 1)
        b, d, t, h, w = latent.shape
        out = self.quantizer(latent.permute(0, 2, 3, 4, 1).reshape(b, t * h * w, d))
        quantized = out.quantized.reshape(b, t, h, w, d).permute(0, 4, 1, 2, 3)
        return {"x_hat": (self.decoder(quantized) + 1) / 2, "quantizer": out}

    @torch.no_grad()
    def encode(self, video: Tensor) -> Tensor:
        """Token ids, B×T'×h×w."""
        self.check_video(video)
        latent = self.encoder(video * 2 - 1)
        b, d, t, h, w = latent.shape
        indices = self.quantizer(latent.permute(0, 2, 3, 4, 1).reshape(b, t * h * w, d)).indices
        return indices[..., 0].reshape(b, t, h, w)

    def embed(self, tokens: Tensor) -> Tensor:
        """Code vectors, B×T'×h×w×D."""
        if tokens.dim() != 4 or tokens.dtype not in (torch.int32, torch.int64):
            raise ValueError(f"expected integer tokens B×T'×h×w, got {tuple(tokens.shape)} {tokens.dtype}")
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

    @property
    def weights_hash(self) -> bytes:
        if self._weights_hash is None:
            self._weights_hash = weights_hash(self)
        return self._weights_hash

    def compress(self, video: Tensor) -> list[bytes]:
        """One token container per clip of the batch."""
        tables = self.prior._coder_tables()
        height, width = video.shape[-2:]
        return [token_container(self, width, height, t.shape[0],
                                coder.encode(t.numpy().reshape(-1), np.zeros(t.numel(), dtype=np.intp), tables))
                for t in self.encode(video)]

    def decompress_tokens(self, data: bytes) -> Tensor:
        """The 1×T'×h×w ids of a container made by :meth:`compress` of this model."""
        container, frames = read_token_container(data, self)
        s = self.config.spatial_factor
        if container.width % s or container.height % s:
            raise BitstreamError(f"stream declares {container.width}×{container.height}, not multiples of {s}")
        shape = (1, frames, container.height // s, container.width // s)
        if not 1 <= frames or int(np.prod(shape)) > MAX_CLIP_TOKENS:
            raise BitstreamError(f"stream declares {frames} token frames of {shape[2]}×{shape[3]}, beyond the limits")
        ids = coder.decode(container.sections[1], np.zeros(int(np.prod(shape)), dtype=np.intp), self.prior._coder_tables())
        if ids.min() < 0 or ids.max() >= self.vocab_sizes[0]:
            raise BitstreamError("token data decodes to ids outside the vocabulary")
        return torch.from_numpy(ids.astype(np.int64)).reshape(shape)

    def decompress(self, data: bytes) -> Tensor:
        """The decoded clip, 1×3×T×H×W."""
        return self.decode(self.decompress_tokens(data))
