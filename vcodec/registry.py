"""Every model kind and architecture by name: the one place that knows which is which.

A *kind* (image codec, video codec, image tokenizer, video tokenizer, token prior) says what all its
models share: how they train (objective, data, crop rules, starting weights), how they are measured
and exported (model card), how they are evaluated, which other checkpoints they depend on and how a
fuzzer feeds their decoders (:class:`vcodec.kinds.base.ModelKind`). An *architecture* is one network
design of a kind: a config dataclass, the model class built from it and a tiny config for tests.

The zoo, trainer, exporter, evaluator, command line and fuzzer ask here instead of branching on a
model's type. Adding an architecture is one new file (its config and model) and one :func:`register`
call. Lookups import nothing heavy: classes are named as ``"module:attribute"`` and imported on first
use, so ``vcodec models`` lists checkpoints without torch.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from torch import nn

    from vcodec.kinds.base import ModelKind

__all__ = [
    "Architecture",
    "ModelConfig",
    "architecture",
    "architectures",
    "build_model",
    "config_from_dict",
    "kind",
    "kind_of",
    "kinds",
    "load_plugins",
    "register",
    "resolve",
    "unregister",
]

KIND_CLASSES = {
    "image-codec": "vcodec.kinds.image_codec:ImageCodecKind",
    "video-codec": "vcodec.kinds.video_codec:VideoCodecKind",
    "tokenizer": "vcodec.kinds.tokenizer:TokenizerKind",
    "video-tokenizer": "vcodec.kinds.video_tokenizer:VideoTokenizerKind",
    "token-prior": "vcodec.kinds.token_prior:TokenPriorKind",
}


class ModelConfig(Protocol):
    """What every architecture's config dataclass provides."""

    architecture: str

    def to_dict(self) -> dict: ...


def resolve(target: str | Any) -> Any:
    """``"package.module:attribute"`` imported, or ``target`` itself when it is not a string."""
    if not isinstance(target, str):
        return target
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Architecture:
    """One network design: its kind, its config dataclass and model class (objects or import strings),
    the fields of a tiny config for tests, and the line a model card starts from."""

    name: str
    kind: str
    config: str | type
    model: str | type
    tiny: dict = field(default_factory=dict)
    description: str = ""

    @property
    def config_type(self) -> type:
        return resolve(self.config)

    @property
    def model_type(self) -> type:
        return resolve(self.model)

    def config_from_dict(self, data: dict) -> Any:
        return self.config_type.from_dict({**data, "architecture": self.name})

    def tiny_config(self, **overrides) -> Any:
        """A small config of this architecture, for tests (the architecture's own defaults elsewhere)."""
        return self.config_from_dict({**self.tiny, **overrides})


_ARCHITECTURES: dict[str, Architecture] = {}
_KINDS: dict[str, ModelKind] = {}


def register(arch: Architecture, replace: bool = False) -> Architecture:
    """Make ``arch`` known to every entry point (training, export, loading, evaluation, fuzzing)."""
    if arch.kind not in KIND_CLASSES:
        raise ValueError(f"unknown kind {arch.kind!r} (known: {', '.join(KIND_CLASSES)})")
    if arch.name in _ARCHITECTURES and not replace:
        raise ValueError(f"architecture {arch.name!r} is registered already")
    _ARCHITECTURES[arch.name] = arch
    return arch


def load_plugins(spec: str | None = None) -> list[str]:
    """Import the modules ``spec`` names (comma-separated; default ``$VCODEC_PLUGINS``), which register
    architectures of their own, so the command line knows them too. Returns the modules imported."""
    from vcodec.errors import VcodecError

    names = [
        n.strip()
        for n in (os.environ.get("VCODEC_PLUGINS", "") if spec is None else spec).split(",")
    ]
    for name in filter(None, names):
        try:
            importlib.import_module(name)
        except Exception as err:  # any failure of a user's module is theirs to see, in one line
            raise VcodecError(
                f"VCODEC_PLUGINS: cannot import {name} ({type(err).__name__}: {err})"
            ) from None
    return [n for n in names if n]


def unregister(name: str) -> None:
    """Forget an architecture (tests that register one of their own clean up with this)."""
    _ARCHITECTURES.pop(name, None)


def architectures(kind_name: str | None = None) -> list[str]:
    """Names of the registered architectures (of one kind), sorted."""
    return sorted(n for n, a in _ARCHITECTURES.items() if kind_name is None or a.kind == kind_name)


def architecture(name: str) -> Architecture:
    try:
        return _ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown architecture {name!r} (known: {', '.join(architectures())})"
        ) from None


def kinds() -> list[str]:
    return list(KIND_CLASSES)


def kind(name: str) -> ModelKind:
    """The kind called ``name`` (one shared instance)."""
    if name not in _KINDS:
        if name not in KIND_CLASSES:
            raise ValueError(f"unknown kind {name!r} (known: {', '.join(KIND_CLASSES)})")
        _KINDS[name] = resolve(KIND_CLASSES[name])()
    return _KINDS[name]


def kind_of(config_or_model: Any) -> ModelKind:
    """The kind of a config, or of a model (through its ``config``)."""
    config = getattr(config_or_model, "config", config_or_model)
    return kind(architecture(config.architecture).kind)


def config_from_dict(data: dict) -> Any:
    """The config a checkpoint or run stores (``{"architecture": …, …}``), as its dataclass."""
    return architecture(data.get("architecture")).config_from_dict(data)


def build_model(config: Any, name: str = "unnamed", **dependencies: nn.Module) -> nn.Module:
    """An untrained model of ``config``'s architecture, named ``name``; ``dependencies`` are the loaded
    checkpoints its kind needs (:meth:`ModelKind.dependencies`), e.g. a token prior's tokenizer."""
    model = architecture(config.architecture).model_type(config, **dependencies)
    model.name = name
    return model


_TINY_CODEC = {"n": 16, "m": 24, "lambdas": (0.0035, 0.013, 0.0483)}
_BUILT_IN = (
    Architecture(
        "factorized",
        "image-codec",
        "vcodec.codecs.base:CodecConfig",
        "vcodec.codecs.factorized:FactorizedPriorCodec",
        _TINY_CODEC,
        "Variable-rate factorized-prior codec (Ballé et al. 2017).",
    ),
    Architecture(
        "scale-hyperprior",
        "image-codec",
        "vcodec.codecs.base:CodecConfig",
        "vcodec.codecs.hyperprior:ScaleHyperpriorCodec",
        _TINY_CODEC,
        "Variable-rate scale hyperprior (Ballé et al. 2018).",
    ),
    Architecture(
        "mean-scale-checkerboard",
        "image-codec",
        "vcodec.codecs.base:CodecConfig",
        "vcodec.codecs.hyperprior:CheckerboardCodec",
        _TINY_CODEC,
        "Variable-rate mean-scale hyperprior with checkerboard context.",
    ),
    Architecture(
        "mean-scale-checkerboard-channel",
        "image-codec",
        "vcodec.codecs.base:CodecConfig",
        "vcodec.codecs.checkerboard_channel:CheckerboardChannelCodec",
        _TINY_CODEC,
        "Mean-scale checkerboard hyperprior, each half coded in channel groups corrected by the "
        "groups before them.",
    ),
    Architecture(
        "temporal-checkerboard",
        "video-codec",
        "vcodec.codecs.video:VideoCodecConfig",
        "vcodec.codecs.video:LearnedVideoCodec",
        {**_TINY_CODEC, "temporal_width": 8},
        "Learned video codec: intra frames from the image codec, predicted frames under a temporal "
        "entropy model with block skipping.",
    ),
    Architecture(
        "pixel-residual",
        "video-codec",
        "vcodec.codecs.pixel_video:PixelVideoConfig",
        "vcodec.codecs.pixel_video:PixelResidualCodec",
        {**_TINY_CODEC, "search": 4},
        "Pixel-domain video codec: quarter-pel block motion compensation, and the prediction error "
        "coded by a learned image codec in 64×64 blocks that may be skipped.",
    ),
    Architecture(
        "transformer-1d",
        "tokenizer",
        "vcodec.tokenizers.transformer1d:Transformer1DConfig",
        "vcodec.tokenizers.transformer1d:Transformer1DTokenizer",
        {
            "image_size": 32,
            "patch_size": 8,
            "num_tokens": 8,
            "width": 32,
            "depth": 1,
            "heads": 2,
            "token_dim": 4,
        },
        "1D transformer tokenizer trained with nested tail dropout: any prefix of its tokens decodes.",
    ),
    Architecture(
        "latent-1d",
        "tokenizer",
        "vcodec.tokenizers.latent1d:Latent1DConfig",
        "vcodec.tokenizers.latent1d:LatentTransformer1DTokenizer",
        {
            "image_size": 32,
            "patch_size": 1,
            "num_tokens": 4,
            "width": 32,
            "depth": 1,
            "heads": 2,
            "token_dim": 4,
            "quantizer_options": {"levels": [5, 5, 5, 5], "hard_clamp": True},
        },
        "1D transformer tokenizer over an image codec's latent grid (frozen g_a and g_s), trained "
        "with nested tail dropout: any prefix of its tokens decodes.",
    ),
    Architecture(
        "latent-2d",
        "tokenizer",
        "vcodec.tokenizers.latent2d:Latent2DConfig",
        "vcodec.tokenizers.latent2d:LatentConv2DTokenizer",
        {"image_size": 32, "width": 16, "blocks": 1, "levels": [[5, 5], [3, 3, 3]]},
        "2D tokenizer over an image codec's latent grid (frozen g_a and g_s): one token of factorized "
        "FSQ sub-tokens per latent position, conv mixers on both sides.",
    ),
    Architecture(
        "conv-2d",
        "tokenizer",
        "vcodec.tokenizers.conv2d:Conv2DConfig",
        "vcodec.tokenizers.conv2d:Conv2DTokenizer",
        {"image_size": 32, "factor": 8, "channels": 8, "token_dim": 4},
        "2D convolutional VQ tokenizer (VQGAN-style): one token per cell of its grid.",
    ),
    Architecture(
        "causal-3d",
        "video-tokenizer",
        "vcodec.tokenizers.causal3d:Causal3DConfig",
        "vcodec.tokenizers.causal3d:CausalVideoTokenizer",
        {"channels": 8},
        "Causal video tokenizer (MAGVIT-v2 / Cosmos style): the first frame alone, then every 4 frames, "
        "to an 8×-downsampled grid of FSQ tokens.",
    ),
    Architecture(
        "latent-video",
        "video-tokenizer",
        "vcodec.tokenizers.latent_video:LatentVideoConfig",
        "vcodec.tokenizers.latent_video:LatentVideoTokenizer",
        {"levels": [[5, 5], [3, 3, 3]]},
        "Causal video tokenizer over an image codec's latent grid (frozen g_a and g_s): the first "
        "frame alone, then every 4 frames, one token of FSQ sub-tokens per latent position.",
    ),
    Architecture(
        "token-prior",
        "token-prior",
        "vcodec.tokenizers.prior:TokenPriorConfig",
        "vcodec.tokenizers.prior:TokenPriorModel",
        {"width": 16, "depth": 1, "heads": 2},
        "Autoregressive transformer over a tokenizer's ids: a generator (vcodec sample --prior) and a "
        "likelihood model.",
    ),
)
for _arch in _BUILT_IN:
    register(_arch)
