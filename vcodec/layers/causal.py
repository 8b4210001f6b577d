"""Causal 3D convolutions for video: an output frame depends on its own and earlier input frames only.

As in MAGVIT-v2 and NVIDIA's Cosmos tokenizers, time is padded on the past side alone (by repeating the
first frame), so the first frame is coded by itself and a clip of 1 + s·n frames maps to 1 + n
latent frames under a temporal stride s. Space is padded symmetrically, as in 2D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CausalConv3d(nn.Conv3d):
    """A Conv3d over B×C×T×H×W whose outputs never see later frames."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int] = (3, 3, 3),
        stride: tuple[int, int, int] = (1, 1, 1),
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0)
        self.time_pad, self.space_pad = kernel_size[0] - 1, kernel_size[1] // 2

    def forward(self, x: Tensor) -> Tensor:
        s = self.space_pad
        return super().forward(F.pad(x, (s, s, s, s, self.time_pad, 0), mode="replicate"))


class CausalResBlock(nn.Module):
    """Two causal 3×3×3 convolutions with a residual connection."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            CausalConv3d(channels, channels), nn.SiLU(), CausalConv3d(channels, channels)
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class CausalTimeUpsample(nn.Module):
    """Doubles the frame rate causally: each frame becomes two (channels → time), and the first input
    frame, which stands alone, yields one, so 1 + n frames become 1 + 2n."""

    def __init__(self, channels: int):
        super().__init__()
        self.expand = CausalConv3d(channels, 2 * channels)

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        doubled = (
            self.expand(x)
            .reshape(b, 2, c, t, h, w)
            .permute(0, 2, 3, 1, 4, 5)
            .reshape(b, c, 2 * t, h, w)
        )
        return doubled[:, :, 1:]


class SpaceUpsample(nn.Module):
    """Doubles height and width of every frame (nearest neighbour, then a causal convolution)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = CausalConv3d(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(torch.repeat_interleave(torch.repeat_interleave(x, 2, dim=-1), 2, dim=-2))
