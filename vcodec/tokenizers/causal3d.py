"""A causal video tokenizer: causal 3D convolutions and an FSQ bottleneck, in the manner of MAGVIT-v2
and the Cosmos causal tokenizers.

The first frame is tokenized by itself and every later group of ``temporal_factor`` frames together,
so a clip of 1 + 4n frames gives 1 + n token frames of (H/8)×(W/8) tokens, and a clip's first tokens
do not change when frames are appended. ``compress`` writes one token container per clip, its ids
range-coded under a categorical prior fitted to tokens (:meth:`fit_prior`); what video tokenizers share
is in :mod:`vcodec.tokenizers.video`. ``vcodec train --architecture causal-3d`` trains it on synthetic
clips cut from the training photos.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from torch import Tensor, nn

from vcodec.entropy.categorical import StaticTokenPrior
from vcodec.layers.causal import CausalConv3d, CausalResBlock, CausalTimeUpsample, SpaceUpsample
from vcodec.quantizers import build_quantizer
from vcodec.tokenizers.video import VideoTokenModel


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


class CausalVideoTokenizer(VideoTokenModel):
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

    def _codes(self, video: Tensor) -> Tensor:
        return self.encoder(video * 2 - 1).permute(0, 2, 3, 4, 1)

    def _frames(self, codes: Tensor) -> Tensor:
        return (self.decoder(codes.permute(0, 4, 1, 2, 3)) + 1) / 2
