"""The behaviour a model kind declares, with the defaults most kinds share.

Each entry point calls one hook instead of asking what type a model is: the zoo
(:meth:`~ModelKind.rate_points`, :meth:`~ModelKind.check_config`, :meth:`~ModelKind.dependencies`,
:meth:`~ModelKind.shipping_record`), the trainer (:meth:`~ModelKind.objective`,
:meth:`~ModelKind.training_data`, :meth:`~ModelKind.check_training`, :meth:`~ModelKind.initialise`),
its development metrics (:meth:`~ModelKind.development_metrics`), the exporter
(:meth:`~ModelKind.prepare_export`, :meth:`~ModelKind.measure`), the evaluator
(:meth:`~ModelKind.eval_method`), the command line (:meth:`~ModelKind.image_compressor`,
:meth:`~ModelKind.decode_image`, :meth:`~ModelKind.usage`, :meth:`~ModelKind.clip_frames`,
:meth:`~ModelKind.config_from_flags`) and the fuzzer (:meth:`~ModelKind.fuzz_seeds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from vcodec.errors import VcodecError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from vcodec.entropy.container import Container
    from vcodec.train.config import RunRecipe
    from vcodec.train.loop import TrainConfig

Log = Callable[[str], None]
ImageCompressor = Callable[[Path], tuple[bytes, int, str]]


@dataclass(frozen=True)
class Dependency:
    """Another checkpoint a model is built on: the constructor argument it fills (``role``), the
    checkpoint's name, the kind it must be, and the hash the loaded one must have (None: any)."""

    role: str
    name: str
    kind: str
    expected_hash: str | None = None


@dataclass(frozen=True)
class FuzzSeeds:
    """Valid streams of a model and how a fuzzer decodes one (returning what it decoded)."""

    seeds: list[bytes]
    decode: Callable[[bytes], Any]
    video: bool = False  # the seeds are whole video streams (header + packets)
    declared: Callable[[bytes], int] | None = None  # output size a stream declares (hang checks)


class ModelKind:
    """Defaults shared by most kinds; a kind overrides what differs."""

    name: ClassVar[str]
    noun: ClassVar[str]  # "an image codec": what error messages call a model of this kind
    media: ClassVar[str] = "image"  # what its models take: "image" or "video"
    rate_unit: ClassVar[str] = "qualities"  # what `vcodec models` calls its rate points
    eval_method_type: ClassVar[str | None] = None  # "module:Class" of its rate–distortion method
    decodes_streams: ClassVar[bool] = True  # False: a generator, with no stream format of its own
    # prefix of the weights fitted after training (a token prior), if any
    fitted_at_export: ClassVar[str | None] = None

    # --- the catalog (no torch) ------------------------------------------------------------------------
    def rate_points(self, model: dict) -> int:
        """What ``vcodec models`` shows as a checkpoint's rate points (from config.json's ``model``)."""
        return 0

    def clip_frames(self, model: dict, token_frames: int) -> int | None:
        """Video frames a token stream of ``token_frames`` covers (``vcodec info``; None: not video)."""
        return None

    def check_config(self, config: Any) -> None:
        """ValueError if a checkpoint's config cannot describe a usable model."""

    # --- other checkpoints -------------------------------------------------------------------------------
    def dependencies(self, config: Any, record: dict | None = None) -> list[Dependency]:
        """The checkpoints a model of ``config`` is built on (``record``: its config.json, when loading one)."""
        return []

    def dependency_hash(self, role: str, model: nn.Module) -> str:
        """The hash a :class:`Dependency` of this role checks (a loaded checkpoint's weights hash)."""
        return model.weights_hash.hex()

    def dependency_hash_name(self, role: str) -> str:
        """What :meth:`dependency_hash` identifies, for the error when it differs."""
        return "weights"

    def shipping_record(self, model: nn.Module, state: dict) -> tuple[dict, dict]:
        """What config.json adds about dependencies, and the weights to store (without those of a
        shipped checkpoint the model names instead of copying)."""
        return {}, state

    # --- training ----------------------------------------------------------------------------------------
    def objective(self, config: Any) -> type:
        """The objective class (:mod:`vcodec.train.objectives`) a model of ``config`` trains with."""
        raise NotImplementedError

    def training_data(self, config: TrainConfig, model: nn.Module) -> Any:
        """Random crops of the training photos (image models); ``model``: the model being trained."""
        from pathlib import Path

        from vcodec.train.data import RandomCrops

        return RandomCrops.from_npz(Path(config.data), config.crop, config.seed, config.crop_scales)

    def check_training(self, config: TrainConfig, model: nn.Module) -> None:
        """ValueError if ``config`` cannot train ``model`` (crop sizes and the like)."""

    def initialise(self, model: nn.Module, state: dict, recipe: RunRecipe, log: Log) -> None:
        """Start a new run's model from an ``init`` checkpoint's state dict."""
        from vcodec.train.loop import load_training_state

        load_training_state(model, state)

    def development_metrics(self, model: nn.Module) -> dict | None:
        """Quick development-set metrics the trainer logs every ``dev_every`` steps (None: none)."""
        return None

    def config_from_flags(self, architecture: str, flags: dict, run_dir: Any) -> Any:
        """The config of ``vcodec train RUN --architecture …`` (the flag form) from its options."""
        raise VcodecError(f"a {self.name} trains from a config file; see configs/")

    # --- export ------------------------------------------------------------------------------------------
    def prepare_export(self, model: nn.Module, config: TrainConfig) -> None:
        """Fit what is fitted after training (token priors) before the model is measured and shipped."""

    def measure(
        self,
        model: nn.Module,
        name: str,
        description: str,
        config: TrainConfig,
        steps: int,
        hardware: str,
    ) -> tuple[dict, str]:
        """Measured results on the development data, and the model card."""
        raise NotImplementedError

    # --- the command line ---------------------------------------------------------------------------------
    def image_compressor(
        self, model: nn.Module, quality: int | None, num_tokens: int | None, effort: int = 0
    ) -> ImageCompressor:
        """What ``vcodec encode IMAGE`` calls: path → (stream, pixels coded, what was coded)."""
        raise VcodecError(
            f"{model.name} is {self.noun}, which does not code images{self.usage(model.name)}"
        )

    def decode_image(self, model: nn.Module, stream: bytes) -> tuple[Container, torch.Tensor]:
        """What ``vcodec decode STREAM IMAGE`` calls: the stream's container and its decoded image."""
        raise VcodecError(
            f"{model.name} is {self.noun}, which does not code images{self.usage(model.name)}"
        )

    def usage(self, name: str) -> str:
        """What a model of this kind is for, for errors that refuse it where another kind was needed."""
        return " (see `vcodec models`)"

    # --- evaluation and fuzzing ----------------------------------------------------------------------------
    def eval_method(self, label: str, model: nn.Module, video: bool) -> Any:
        """The rate–distortion method that evaluates ``model`` on images (or videos, ``video``): the
        kind's :attr:`eval_method_type`, for inputs of its :attr:`media`."""
        media = "video" if video else "image"
        if self.eval_method_type is not None and media == self.media:
            from vcodec.registry import resolve

            return resolve(self.eval_method_type)(label, model)
        raise VcodecError(
            f"'{label}' is {self.noun}; {media} evaluation takes "
            f"{'video codecs and tokenizers' if video else 'image codecs and tokenizers'}"
        )

    def fuzz_seeds(self, model: nn.Module, generator: torch.Generator) -> FuzzSeeds | None:
        """Valid streams of ``model`` for a fuzzer to mutate (None: it decodes no streams)."""
        return None
