"""A causal video tokenizer in a trained image codec's latent space (:mod:`.latent`, FlexTok's design
carried to video): the codec's frozen g_a maps each frame to its (H/16)×(W/16) latent grid, the first
frame is coded alone and every later group of ``temporal_factor`` frames together, and the codec's
frozen g_s paints the frames back.

    frames ─g_a─▶ t ─┬ frame 0 ──────────── 1×1 linear over its M channels ─────▶ FSQ ─▶ ids (h×w×G)
                     └ frames 4i+1 … 4i+4 ── 1×1 linear over their stacked 4·M ──▶ FSQ ─▶ ids (h×w×G)
    ids ─codes─▶ the transposed maps ─▶ t̂ of each frame ─g_s─▶ frames

Both maps are synthesis-weighted KLTs (:func:`~vcodec.tokenizers.latent.synthesis_weighted_klt`),
fitted once to the latents of training clips (:meth:`LatentVideoTokenizer.fit_start`): the group's
transform finds what its frames share and how they move (in a still shot almost everything lies in
their mean), so four frames cost one frame's tokens. Every token frame has the same G sub-tokens, the
strongest components on the channels with the most levels. A token frame depends on no later frame,
so a clip's first tokens do not change when frames are appended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from vcodec.entropy.categorical import StaticTokenPrior
from vcodec.latent_grid import STRIDE as CODEC_STRIDE  # pixels per latent position
from vcodec.quantizers import build_quantizer
from vcodec.tokenizers.latent import CodecLatentSpace, fit_fsq_transform, linearised_synthesis
from vcodec.tokenizers.video import VideoTokenModel

FRAMES_PER_PASS = 16  # frames through g_a or g_s at a time: bounds memory on long or large clips


def _default_levels() -> list[list[int]]:
    return [[45, 21], [13, 13, 11], [9, 7, 7, 5], [5, 5, 5, 5, 5], [5, 3, 3, 3, 3, 3, 3]]


@dataclass
class LatentVideoConfig:
    """Architecture of a :class:`LatentVideoTokenizer`."""

    codec: str = "checkerboard-medium-v2"  # the image codec whose g_a and g_s it works between
    levels: list = field(default_factory=_default_levels)  # FSQ levels, one list per sub-token
    step: float = 1.0  # the quantization step, in √(pixel squared error) units
    temporal_downsamples: int = 2  # frames per group after the first: 2**this
    architecture: str = "latent-video"

    def __post_init__(self) -> None:
        if not self.levels or not all(isinstance(token, (list, tuple)) for token in self.levels):
            raise ValueError(
                f"levels must be one list of FSQ levels per sub-token, e.g. [[9, 7], [5, 5, 5]], "
                f"got {self.levels}"
            )
        if self.step <= 0 or not 0 <= self.temporal_downsamples <= 4:
            raise ValueError("step must be positive and temporal_downsamples in 0…4")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LatentVideoConfig":
        return cls(**data)

    @property
    def spatial_factor(self) -> int:
        return CODEC_STRIDE

    @property
    def temporal_factor(self) -> int:
        return 2**self.temporal_downsamples

    @property
    def token_dim(self) -> int:
        """Quantized channels per token: the levels of all sub-tokens."""
        return sum(len(token) for token in self.levels)

    def summary(self) -> str:
        """One line for model cards and result descriptions."""
        return (
            f"synthesis-weighted KLTs over `{self.codec}`'s latent grid (frozen g_a and g_s, "
            f"{self.spatial_factor}× in space): the first frame alone, then {self.temporal_factor} "
            f"frames at a time, each position one token of {len(self.levels)} FSQ sub-tokens with "
            f"levels {[list(token) for token in self.levels]}"
        )


class LatentVideoTokenizer(CodecLatentSpace, VideoTokenModel):
    """Clips (B×3×T×H×W) ↔ token ids B×T'×h×w×G over the codec's latent grid, decoded through its g_s."""

    def __init__(self, config: LatentVideoConfig, codec: nn.Module, name: str = "unnamed"):
        """``codec``: the loaded image codec ``config.codec`` names (``vcodec.zoo.build`` loads it)."""
        self._attach_codec(codec)
        super().__init__()
        self.config, self.name = config, name
        m, d, group = codec.config.m, config.token_dim, config.temporal_factor
        self.intra_project, self.intra_unproject = nn.Conv2d(m, d, 1), nn.Conv2d(d, m, 1)
        self.group_project = nn.Conv2d(group * m, d, 1)
        self.group_unproject = nn.Conv2d(d, group * m, 1)
        self.quantizer = build_quantizer("fsq", d, levels=config.levels, hard_clamp=True)
        # two histograms per sub-token: the first token frame (one frame's KLT), the groups' (4 frames')
        self.prior = StaticTokenPrior(self.quantizer.vocab_sizes, positions=2)
        self.register_buffer("linear_fitted", torch.zeros((), dtype=torch.bool))

    # --- frames ↔ latent grids -----------------------------------------------------------------------
    def _latents(self, video: Tensor) -> Tensor:
        """B×T×M×h×w: each frame's latent grid as g_s reads it."""
        frames = video.transpose(1, 2).flatten(0, 1)
        grids = [
            self._input_grid(frames[i : i + FRAMES_PER_PASS])
            for i in range(0, len(frames), FRAMES_PER_PASS)
        ]
        return torch.cat(grids).unflatten(0, video.shape[:1] + video.shape[2:3])

    def _groups(self, t: Tensor) -> Tensor:
        """B×T×M×h×w latents after the first frame → (B·T')×(group·M)×h×w, frames stacked."""
        b, frames, m, h, w = t.shape
        group = self.config.temporal_factor
        return t[:, 1:].reshape(b * ((frames - 1) // group), group * m, h, w)

    def _codes(self, video: Tensor) -> Tensor:
        t = self._latents(video)
        b, frames = t.shape[:2]
        intra = self.intra_project(t[:, 0])[:, None]
        groups = self.group_project(self._groups(t))
        groups = groups.unflatten(0, (b, (frames - 1) // self.config.temporal_factor))
        return torch.cat([intra, groups], dim=1).permute(0, 1, 3, 4, 2)

    def _frames(self, codes: Tensor) -> Tensor:
        codes = codes.permute(0, 1, 4, 2, 3)  # B×T'×D×h×w
        b, token_frames, _, h, w = codes.shape
        intra = self.intra_unproject(codes[:, 0])[:, None]
        groups = self.group_unproject(codes[:, 1:].flatten(0, 1))
        frames_after = (token_frames - 1) * self.config.temporal_factor
        groups = groups.reshape(b, frames_after, intra.shape[2], h, w)
        t = torch.cat([intra, groups], dim=1).flatten(0, 1)
        frames = torch.cat(
            [
                self._run_codec(self.codec.g_s, t[i : i + FRAMES_PER_PASS])
                for i in range(0, len(t), FRAMES_PER_PASS)
            ]
        )
        return frames.unflatten(0, (b, 1 + frames_after)).transpose(1, 2)

    # --- the transform code ----------------------------------------------------------------------------
    @torch.no_grad()
    def fit_start(self, clips: Tensor) -> None:
        """Fit both maps to training clips (B×3×(1 + group)×H×W): synthesis-weighted KLTs of the first
        frames' latents and of the groups' stacked latents. Once per model: a trained or loaded one
        keeps its maps."""
        self.check_video(clips)
        if clips.shape[2] < 1 + self.config.temporal_factor:
            raise ValueError(
                f"fitting needs clips of at least 1 + {self.config.temporal_factor} frames, "
                f"got {clips.shape[2]}"
            )
        if bool(self.linear_fitted):
            return
        t = self._latents(clips[:, :, : 1 + self.config.temporal_factor])
        metric = linearised_synthesis(self.codec.g_s, t[:, 0], CODEC_STRIDE)
        group_metric = _block_diagonal(metric, self.config.temporal_factor)
        levels, step = self.config.levels, self.config.step
        fit_fsq_transform(self.intra_project, self.intra_unproject, t[:, 0], metric, levels, step)
        fit_fsq_transform(
            self.group_project, self.group_unproject, self._groups(t), group_metric, levels, step
        )
        self.linear_fitted.fill_(True)


def _block_diagonal(metric: Tensor, blocks: int) -> Tensor:
    """The Gram kernel of ``blocks`` frames stacked along channels, each synthesised alone: the
    frame's kernel on the diagonal, nothing across frames."""
    m = metric.shape[0]
    out = metric.new_zeros(blocks * m, blocks * m, *metric.shape[2:])
    for i in range(blocks):
        out[i * m : (i + 1) * m, i * m : (i + 1) * m] = metric
    return out
