"""What every learned image codec shares: variable-rate gain units, padding, and the container.

One model covers several rate points with gain units (Cui et al., "Asymmetric Gained Deep Image
Compression With Continuous Rate Adaptation", CVPR 2021): quality q scales each latent channel by a
learned gain before rounding and by a learned inverse gain after it, so larger gains mean finer
quantization and more bits.

::

    x ─pad─▶ g_a ─▶ y ─×gain[q]─▶ Q ─▶ ŷ_q ─×inv_gain[q]─▶ ŷ ─▶ g_s ─crop─▶ x̂
                                 │   ▲
                           entropy model (subclass)

Subclasses supply the entropy coding of y as a latent codec (:mod:`vcodec.latent_codecs`), composed
over the modules they own: float ``forward`` for training, exact ``compress``/``decompress``.

Qualities above the learned ones code the top learned quality and then a near-lossless residual
layer (:mod:`vcodec.entropy.residual`, one more section): the learned transforms saturate near
32 dB, and the residual layer carries quality on to visually lossless and beyond.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vcodec.defaults import REFINEMENT_MAX_ERRORS
from vcodec.entropy import residual
from vcodec.entropy.container import MAX_SIDE, Container, Kind, check_model
from vcodec.entropy.continuous import FactorizedModel, GaussianModel
from vcodec.errors import BitstreamError, VcodecError
from vcodec.io.images import MAX_PIXELS  # decoding larger images would need tiling (not yet)
from vcodec.latent_codecs.base import LatentCodec
from vcodec.layers import analysis_transform, synthesis_transform
from vcodec.weights import resize_table_buffers, weights_hash

# CompressAI's six λ for MSE (bmshj2018 qualities 1–6): one rate point each.
DEFAULT_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483)
DEFAULT_QUALITY_LAMBDA = DEFAULT_LAMBDAS[3]  # CompressAI's usual middle-high choice


@dataclass
class CodecConfig:
    """Architecture of a learned image codec: channel widths and the λ of each quality level."""

    architecture: str
    n: int = 64  # transform width
    m: int = 128  # latent channels of y
    lambdas: tuple[float, ...] = field(default=DEFAULT_LAMBDAS)
    hyper_n: int | None = None  # width of the hyper transforms and channels of z (None: n)

    def __post_init__(self) -> None:
        if self.hyper_n is not None and (
            isinstance(self.hyper_n, bool) or not isinstance(self.hyper_n, int)
        ):
            raise ValueError(f"hyper_n must be an integer, got {self.hyper_n!r}")
        if self.hyper_n == self.n:
            self.hyper_n = None  # the same model as leaving it out (configs compare equal)

    @property
    def side_channels(self) -> int:
        """Width of the hyper path (h_a, h_s) and channels of z."""
        return self.n if self.hyper_n is None else self.hyper_n

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.hyper_n is None:  # configs written before the field existed stay the same
            del out["hyper_n"]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "CodecConfig":
        known = {k: data[k] for k in ("architecture", "n", "m", "lambdas", "hyper_n") if k in data}
        known["lambdas"] = tuple(known.get("lambdas", DEFAULT_LAMBDAS))
        return cls(**known)


def _initial_log_gains(lambdas: tuple[float, ...], channels: int) -> Tensor:
    """Start gain ∝ √λ (quantization step ∝ 1/√λ is the MSE-optimal spacing), centred on 1."""
    lam = torch.tensor(lambdas, dtype=torch.float32)
    log_gain = 0.5 * torch.log(lam / lam.median())
    return log_gain.reshape(-1, 1).repeat(1, channels)


class GainUnit(nn.Module):
    """A learned per-channel gain and inverse gain for each quality level."""

    def __init__(self, lambdas: tuple[float, ...], channels: int):
        super().__init__()
        init = _initial_log_gains(lambdas, channels)
        self.log_gain = nn.Parameter(init.clone())
        self.log_inverse_gain = nn.Parameter(-init.clone())
        # What the coder uses: the gains rounded once (by freeze()) and stored with the weights, so
        # that no machine recomputes exp() and gets a different last bit.
        self.register_buffer("frozen_gain", torch.zeros(init.shape, dtype=torch.float64))
        self.register_buffer("frozen_inverse_gain", torch.zeros(init.shape, dtype=torch.float64))

    @torch.no_grad()
    def freeze(self) -> None:
        """Store the gains for coding, rounded to multiples of 2**-20."""
        for frozen, log in (
            (self.frozen_gain, self.log_gain),
            (self.frozen_inverse_gain, self.log_inverse_gain),
        ):
            frozen.copy_(torch.round(torch.exp(log.double()) * 2.0**20) * 2.0**-20)

    def coding_gain(self, quality: Tensor) -> Tensor:
        """The frozen gains (float64, B×C×1×1) that compress and decompress use."""
        return self.frozen_gain[quality][:, :, None, None]

    def coding_inverse_gain(self, quality: Tensor) -> Tensor:
        return self.frozen_inverse_gain[quality][:, :, None, None]

    def ungain(self, gained: Tensor, quality: Tensor) -> Tensor:
        """The decoder's ŷ (float32, for g_s) from a decoded gained latent (float64)."""
        return (gained * self.coding_inverse_gain(quality)).float()

    def gain(self, quality: Tensor) -> Tensor:
        """B×C×1×1 gains for a B-vector of 0-based quality levels."""
        return torch.exp(self.log_gain[quality])[:, :, None, None]

    def inverse_gain(self, quality: Tensor) -> Tensor:
        return torch.exp(self.log_inverse_gain[quality])[:, :, None, None]


class LearnedImageCodec(nn.Module):
    """Base class: ``forward`` for training, ``compress``/``decompress`` for bytes (one container)."""

    name: str = "unnamed"
    alignment: int = 16  # the input is padded to a multiple of this

    def __init__(self, config: CodecConfig):
        super().__init__()
        self.config = config
        self.g_a = analysis_transform(config.n, config.m)
        self.g_s = synthesis_transform(config.n, config.m)
        self.y_gain = GainUnit(config.lambdas, config.m)
        self._weights_hash: bytes | None = None
        self._exact: dict | None = None
        self._latent: LatentCodec | None = None

    # --- qualities -----------------------------------------------------------------------------
    @property
    def num_qualities(self) -> int:
        """The learned qualities (one per λ): what training and the video codec use."""
        return len(self.config.lambdas)

    @property
    def max_quality(self) -> int:
        """The best quality: the learned ones, then one per :data:`REFINEMENT_MAX_ERRORS` entry."""
        return self.num_qualities + len(REFINEMENT_MAX_ERRORS)

    def max_error(self, quality: int) -> int | None:
        """The residual layer's largest per-sample error at ``quality`` (None: no residual layer)."""
        return (
            REFINEMENT_MAX_ERRORS[quality - self.num_qualities - 1]
            if self.refined(quality)
            else None
        )

    def refined(self, quality: int) -> bool:
        return quality > self.num_qualities

    @property
    def default_quality(self) -> int:
        """The quality whose λ is nearest 0.013 (CompressAI's quality 4 of 6), so adding higher rate
        points to a model does not make its default files larger."""
        distance = [abs(math.log(lam / DEFAULT_QUALITY_LAMBDA)) for lam in self.config.lambdas]
        return 1 + distance.index(min(distance))

    def check_quality(self, quality: int) -> int:
        if not 1 <= int(quality) <= self.max_quality:
            raise VcodecError(
                f"quality {quality} is out of range: this model has qualities 1–{self.max_quality} "
                f"(1–{self.num_qualities} learned, above that with a near-lossless residual layer)"
            )
        return int(quality)

    # --- training --------------------------------------------------------------------------------
    def forward(self, x: Tensor, quality: Tensor | int | None = None) -> dict:
        """CompressAI's contract: {"x_hat", "likelihoods"}; ``quality`` is 1-based, one per sample."""
        q = self._quality_index(quality, x.shape[0], x.device)
        y = self.g_a(x)
        y_hat, likelihoods = self.forward_latent(y, q)
        return {"x_hat": self.g_s(y_hat), "likelihoods": likelihoods}

    def _quality_index(
        self, quality: Tensor | int | None, batch: int, device: torch.device
    ) -> Tensor:
        if quality is None:
            quality = self.default_quality
        q = torch.as_tensor(quality, device=device).long().reshape(-1).expand(batch)
        return q - 1

    def aux_loss(self) -> Tensor:
        """Loss of the factorized models' quantile parameters (trained by a separate optimizer)."""
        losses = [m.aux_loss() for m in self.modules() if isinstance(m, FactorizedModel)]
        return sum(losses) if losses else torch.zeros(())

    # --- coding ----------------------------------------------------------------------------------
    def update(self) -> None:
        """Freeze what the coder uses after training: integer CDF tables, rounded gains, exact networks."""
        for module in self.modules():
            if isinstance(module, (FactorizedModel, GaussianModel)):
                module.update()
            elif isinstance(module, GainUnit):
                module.freeze()
        self.forget_coding_state()

    @property
    def exact(self) -> dict:
        """Integer-exact copies of the networks that predict entropy parameters (built on first use)."""
        if self._exact is None:
            self._exact = self._build_exact()
        return self._exact

    def _build_exact(self) -> dict:
        return {}

    @property
    def latent(self) -> LatentCodec:
        """How y is entropy-coded: a latent codec over this model's modules (built on first use)."""
        if self._latent is None:
            self._latent = self._build_latent()
        return self._latent

    def _build_latent(self) -> LatentCodec:
        raise NotImplementedError

    @property
    def sections(self) -> int:
        """How many entropy-coded sections the learned layer writes."""
        return self.latent.sections

    @property
    def weights_hash(self) -> bytes:
        """First 8 bytes of the SHA-256 of all weights and CDF tables: names the exact model in streams."""
        if self._weights_hash is None:
            self._weights_hash = weights_hash(self)
        return self._weights_hash

    # --- the latent level: what video codecs, benchmarks and encoder-side tools build on ----------------
    def pad(self, x: Tensor) -> Tensor:
        """``x`` padded (edges replicated) to the multiple of :attr:`alignment` the transforms need."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.alignment, (-w) % self.alignment
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    def latent_shape(self, height: int, width: int) -> tuple[int, int]:
        """Rows and columns of the latent y of a height × width image."""
        a = self.alignment
        return (height + a - 1) // a * (a // 16), (width + a - 1) // a * (a // 16)

    @torch.inference_mode()
    def compress(
        self,
        x: Tensor,
        quality: int | None = None,
        grey: bool = False,
        effort: int = 0,
        progress: Callable[[int], None] | None = None,
    ) -> bytes:
        """A complete container for one image: 1×C×H×W or C×H×W floats in [0, 1].

        C may be 3 (RGB), 1 (greyscale: decoded as greyscale) or 4 (RGBA: composited on white).
        ``effort`` 1–3 refines the latent at encode time (slower, smaller; any decoder reads it; see
        :mod:`vcodec.codecs.effort`), reporting each step to ``progress``; 0 is the plain encode.
        """
        x, grey = _as_rgb(x, grey)
        quality = self.check_quality(self.default_quality if quality is None else quality)
        sections, y_hat = self.encode_latent(
            x, min(quality, self.num_qualities), effort=effort, progress=progress
        )
        if self.refined(quality):
            base = self._base_output(y_hat, *x.shape[-2:], grey)
            section, _ = residual.encode(_levels(x, grey), _levels(base), self.max_error(quality))
            sections.append(section)
        return Container(
            kind=Kind.IMAGE,
            model=self.name,
            weights_hash=self.weights_hash,
            width=x.shape[-1],
            height=x.shape[-2],
            quality=quality,
            grey=grey,
            sections=sections,
        ).to_bytes()

    @torch.inference_mode()
    def reconstruction(self, x: Tensor, quality: int | None = None, effort: int = 0) -> Tensor:
        """The image the decoder will output for ``x`` (g_s of the encoder's ŷ)."""
        x, _ = _as_rgb(x, False)
        quality = self.check_quality(self.default_quality if quality is None else quality)
        _, y_hat = self.encode_latent(x, min(quality, self.num_qualities), effort=effort)
        base = self.synthesize(y_hat, x.shape[-2], x.shape[-1])
        if not self.refined(quality):
            return base
        return _from_levels(residual.refine(_levels(x), _levels(base), self.max_error(quality)))

    def synthesize(self, y_hat: Tensor, height: int, width: int) -> Tensor:
        """The decoded image of ŷ, cropped to height × width, clipped to [0, 1], in the default layout
        (g_s computes in channels-last)."""
        return self.g_s(y_hat)[..., :height, :width].clamp(0, 1).contiguous()

    @torch.inference_mode()
    def encode_latent(
        self,
        x: Tensor,
        quality: int,
        effort: int = 0,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[list[bytes], Tensor]:
        """Analysis and entropy coding of a 1×3×H×W image: the sections, and ŷ exactly as
        :meth:`decode_latent` will rebuild it (what a video codec predicts from). ``effort``: see
        :meth:`compress`."""
        q = torch.tensor([quality - 1], device=x.device)
        plain = self._compress_latent(self.g_a(self.pad(x)), q)
        if not check_effort(effort):
            return plain
        from vcodec.codecs.effort import rd_cost, refine_latent
        from vcodec.defaults import EFFORT_ITERATIONS

        refined = self._compress_latent(
            refine_latent(self, x, quality, EFFORT_ITERATIONS[effort], progress=progress), q
        )
        lam = self.config.lambdas[quality - 1]

        def cost(candidate: tuple[list[bytes], Tensor]) -> float:
            bits = 8 * sum(len(s) for s in candidate[0])
            return float(rd_cost(bits, self.synthesize(candidate[1], *x.shape[-2:]), x, lam))

        return min((plain, refined), key=cost)  # the plain encode on a tie

    @torch.inference_mode()
    def decode_latent(self, sections: list[bytes], quality: int, shape: tuple[int, int]) -> Tensor:
        """ŷ (1×M×h×w, ``shape`` from :meth:`latent_shape`) from the sections :meth:`encode_latent`
        wrote at ``quality``; BitstreamError if they cannot be its sections."""
        device = next(self.parameters()).device
        return self._decompress_latent(sections, torch.tensor([quality - 1], device=device), shape)

    def forget_coding_state(self) -> None:
        """Drop what is derived from the weights (exact networks, weights hash) after they change."""
        self._exact = None
        self._weights_hash = None
        self._latent = None

    @torch.inference_mode()
    def decompress(self, data: bytes) -> Tensor:
        """The decoded image (1×3×H×W floats in [0, 1]; 1×1×H×W for a greyscale source)."""
        return self.decode_container(self.parse(data))

    def parse(self, data: bytes) -> Container:
        """Read and check a container: right kind, this model, a valid quality and section count."""
        container = Container.from_bytes(data)
        if container.kind != Kind.IMAGE:
            raise BitstreamError(f"stream holds {container.kind.name.lower()} data, not an image")
        check_model(container, self.name, self.weights_hash)
        if container.width * container.height > MAX_PIXELS:
            raise BitstreamError(
                f"stream declares {container.width}×{container.height} pixels, beyond {MAX_PIXELS:,}"
            )
        if not 1 <= container.quality <= self.max_quality:
            raise BitstreamError(
                f"stream declares quality {container.quality}, model has 1–{self.max_quality}"
            )
        expected = self.sections + self.refined(container.quality)
        if len(container.sections) != expected:
            raise BitstreamError(
                f"stream has {len(container.sections)} sections, model writes {expected} "
                f"at quality {container.quality}"
            )
        return container

    @torch.inference_mode()
    def decode_container(self, container: Container) -> Tensor:
        """Decode a container that :meth:`parse` accepted (greyscale sources come back as 1 channel)."""
        shape = self.latent_shape(container.height, container.width)
        quality, sections = container.quality, container.sections
        y_hat = self.decode_latent(
            sections[: self.sections], min(quality, self.num_qualities), shape
        )
        x_hat = self._base_output(y_hat, container.height, container.width, container.grey)
        if not self.refined(quality):
            return x_hat
        return _from_levels(residual.decode(sections[-1], _levels(x_hat)))

    def _base_output(self, y_hat: Tensor, height: int, width: int, grey: bool) -> Tensor:
        """What the learned layer decodes to (1 channel for a greyscale source)."""
        x_hat = self.synthesize(y_hat, height, width)
        return x_hat.mean(dim=1, keepdim=True) if grey else x_hat

    # --- the entropy model of y ------------------------------------------------------------------
    def forward_latent(self, y: Tensor, q: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Training pass of the latent codec: ŷ and likelihoods by name (``q`` 0-based)."""
        return self.latent.forward(y, q)

    def _compress_latent(self, y: Tensor, q: Tensor) -> tuple[list[bytes], Tensor]:
        """The sections, and ŷ exactly as the decoder will rebuild it."""
        sections, y_hat = self.latent.compress(y, q)
        return sections, y_hat.float()

    def _decompress_latent(
        self, sections: list[bytes], q: Tensor, shape: tuple[int, int]
    ) -> Tensor:
        return self.latent.decompress(sections, q, (1, self.config.m, *shape)).float()

    # --- weights ---------------------------------------------------------------------------------
    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Like ``nn.Module.load_state_dict``, resizing the CDF-table buffers to the stored tables."""
        resize_table_buffers(self, state_dict)
        self.forget_coding_state()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def check_effort(effort: int) -> int:
    """``effort`` if it is a level the encoder has (0 … :data:`MAX_EFFORT`), else VcodecError."""
    from vcodec.defaults import MAX_EFFORT

    if isinstance(effort, bool) or not isinstance(effort, int) or not 0 <= effort <= MAX_EFFORT:
        raise VcodecError(f"effort must be 0–{MAX_EFFORT} (0: the plain encode), got {effort!r}")
    return effort


def _levels(x: Tensor, grey: bool = False) -> np.ndarray:
    """A 1×C×H×W image in [0, 1] as C×H×W 8-bit levels, rounded as files are written (one channel
    for a greyscale source)."""
    x = x.mean(dim=1, keepdim=True) if grey else x
    return x[0].clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()


def _from_levels(levels: np.ndarray) -> Tensor:
    return torch.from_numpy(levels).float().div(255)[None]


def _as_rgb(x: Tensor, grey: bool) -> tuple[Tensor, bool]:
    """One image as 1×3×H×W: greyscale replicated (and flagged), alpha composited on white."""
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] not in (1, 3, 4):
        raise VcodecError(
            f"expected one image as 1×C×H×W with C = 1, 3 or 4, got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise VcodecError(
            f"expected float pixels in [0, 1], got {x.dtype} (divide uint8 images by 255)"
        )
    if not torch.isfinite(x).all():
        raise VcodecError("image contains NaN or infinite values")
    x = x.float().clamp(0, 1)
    h, w = x.shape[-2:]
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE) or h * w > MAX_PIXELS:
        raise VcodecError(
            f"image of {w}×{h} pixels is beyond the limits ({MAX_SIDE} a side, {MAX_PIXELS:,} pixels)"
        )
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1), True
    if x.shape[1] == 4:
        alpha = x[:, 3:]
        return x[:, :3] * alpha + (1 - alpha), grey
    return x, grey
