"""What every latent codec offers, and the gains it codes through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from torch import Tensor

Quantize = Callable[[Tensor], Tensor]  # a rounding of centred values: straight-through, soft, …


class Gains(Protocol):
    """Per-quality channel gains (:class:`vcodec.codecs.base.GainUnit`, or a slice of one)."""

    def gain(self, q: Tensor) -> Tensor: ...
    def inverse_gain(self, q: Tensor) -> Tensor: ...
    def coding_gain(self, q: Tensor) -> Tensor: ...
    def coding_inverse_gain(self, q: Tensor) -> Tensor: ...


class GainView:
    """Channels ``start:stop`` of a gain unit: the gains of one channel group."""

    def __init__(self, gains: Gains, start: int, stop: int):
        self.gains, self.start, self.stop = gains, start, stop

    def gain(self, q: Tensor) -> Tensor:
        return self.gains.gain(q)[:, self.start : self.stop]

    def inverse_gain(self, q: Tensor) -> Tensor:
        return self.gains.inverse_gain(q)[:, self.start : self.stop]

    def coding_gain(self, q: Tensor) -> Tensor:
        return self.gains.coding_gain(q)[:, self.start : self.stop]

    def coding_inverse_gain(self, q: Tensor) -> Tensor:
        return self.gains.coding_inverse_gain(q)[:, self.start : self.stop]


class LatentCodec:
    """Entropy coding of a latent y (ungained, B×C×H×W) at 0-based qualities ``q``.

    ``condition`` is what the part is conditioned on (hyper features, earlier channel groups, a
    temporal prediction: whatever its parameter functions take), None for unconditional parts.
    ŷ comes back ungained: float for :meth:`forward`, float64 from :meth:`compress` and
    :meth:`decompress`, which agree exactly.
    """

    sections: int = 1  # how many entropy-coded sections compress writes

    def forward(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[Tensor, dict]:
        """Training pass: ŷ (noisy or straight-through) and likelihoods by name."""
        raise NotImplementedError

    def compress(self, y: Tensor, q: Tensor, condition: Any = None) -> tuple[list[bytes], Tensor]:
        """The sections and ŷ exactly as :meth:`decompress` rebuilds it."""
        raise NotImplementedError

    def decompress(
        self, sections: list[bytes], q: Tensor, shape: tuple[int, ...], condition: Any = None
    ) -> Tensor:
        """ŷ (shape 1×C×H×W) from the sections :meth:`compress` wrote."""
        raise NotImplementedError

    def relaxed(
        self, y: Tensor, q: Tensor, quantize: Quantize, condition: Any = None
    ) -> tuple[Tensor, Tensor]:
        """ŷ and its total bits in float with the coding gains, rounded by ``quantize`` (a
        differentiable stand-in for rounding): what encode-time refinement optimises."""
        raise NotImplementedError
