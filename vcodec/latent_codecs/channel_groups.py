"""Channel groups coded in turn (Minnen & Singh, "Channel-wise Autoregressive Entropy Models for
Learned Image Compression", ICIP 2020; with checkerboard groups, He et al., "ELIC", CVPR 2022): y is
split along channels, and each group is coded by its own latent codec, conditioned on the codec's
condition and on the groups decoded before it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from vcodec.latent_codecs.base import LatentCodec


class ChannelGroupsLatentCodec(LatentCodec):
    """``groups`` are the channel counts; ``codecs[k]`` codes group k given the condition
    ``(condition, earlier)``, where ``earlier`` is the ŷ of groups 0…k−1 concatenated along channels
    (None for group 0). Each group codec's gains are its channels' (see :class:`GainView`)."""

    def __init__(self, groups: list[int], codecs: list[LatentCodec]):
        if len(groups) != len(codecs) or not groups or min(groups) < 1:
            raise ValueError("one latent codec per channel group, and every group non-empty")
        self.groups, self.codecs = list(groups), list(codecs)
        self.sections = sum(codec.sections for codec in codecs)

    @staticmethod
    def _earlier(decoded: list[Tensor]) -> Tensor | None:
        return torch.cat(decoded, dim=1) if decoded else None

    def forward(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[Tensor, dict]:
        decoded, likelihoods = [], {}
        for k, (codec, part) in enumerate(zip(self.codecs, y.split(self.groups, dim=1))):
            y_hat, group = codec.forward(part, q, (condition, self._earlier(decoded)))
            decoded.append(y_hat)
            likelihoods.update({f"{name}{k}": value for name, value in group.items()})
        return torch.cat(decoded, dim=1), likelihoods

    def relaxed(
        self, y: Tensor, q: Tensor, quantize, condition: Any = None
    ) -> tuple[Tensor, Tensor]:
        decoded, bits = [], 0
        for codec, part in zip(self.codecs, y.split(self.groups, dim=1)):
            y_hat, group_bits = codec.relaxed(
                part, q, quantize, (condition, self._earlier(decoded))
            )
            decoded.append(y_hat)
            bits = bits + group_bits
        return torch.cat(decoded, dim=1), bits

    def compress(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[list[bytes], Tensor]:
        decoded, sections = [], []
        for codec, part in zip(self.codecs, y.split(self.groups, dim=1)):
            group_sections, y_hat = codec.compress(part, q, (condition, self._earlier(decoded)))
            sections += group_sections
            decoded.append(y_hat)
        return sections, torch.cat(decoded, dim=1)

    def decompress(
        self, sections: list[bytes], q: Tensor, shape: tuple[int, ...], condition: Any = None
    ) -> Tensor:
        decoded, start = [], 0
        for codec, channels in zip(self.codecs, self.groups):
            count = codec.sections
            group_shape = (shape[0], channels, *shape[2:])
            y_hat = codec.decompress(
                sections[start : start + count], q, group_shape, (condition, self._earlier(decoded))
            )
            decoded.append(y_hat)
            start += count
        return torch.cat(decoded, dim=1)
