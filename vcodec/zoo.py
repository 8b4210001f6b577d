"""Named, shipped checkpoints, and loading a user's own.

A checkpoint is a folder: ``model.safetensors`` (weights and integer CDF tables), ``config.json``
(architecture, training record, measured rate–distortion) and ``MODEL_CARD.md``. Shipped ones live
in the repository's ``checkpoints/`` folder (or ``$VCODEC_CHECKPOINTS``); ``vcodec.load(name)`` finds
them by folder name, ``vcodec.load(path)`` takes any checkpoint folder. A video codec built on a
shipped image codec names it, and the hash of its weights, in ``config.json`` instead of storing
those weights a second time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Collection

from vcodec.defaults import DEFAULT_MODEL, DEFAULT_VIDEO_MODEL
from vcodec.errors import VcodecError

if TYPE_CHECKING:  # the catalog (names, kinds, measured results) needs no torch; loading imports it
    import torch

    from vcodec.codecs import LearnedImageCodec
    from vcodec.codecs.video_base import VideoCodec
    from vcodec.registry import ModelConfig
    from vcodec.tokenizers import CausalVideoTokenizer, LearnedTokenizer
    from vcodec.tokenizers.prior import TokenPriorModel

    Model = (
        LearnedImageCodec | VideoCodec | LearnedTokenizer | CausalVideoTokenizer | TokenPriorModel
    )

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_VIDEO_MODEL",
    "ModelInfo",
    "checkpoint_root",
    "list_models",
    "load",
    "checkpoint_record",
    "model_infos",
    "save_checkpoint",
    "shipped_info",
]
WEIGHTS_FILE, CONFIG_FILE, CARD_FILE = "model.safetensors", "config.json", "MODEL_CARD.md"


def checkpoint_root() -> Path:
    """Where shipped checkpoints are: ``$VCODEC_CHECKPOINTS`` or the repository's ``checkpoints/``."""
    override = os.environ.get("VCODEC_CHECKPOINTS")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "checkpoints"


@dataclass(frozen=True)
class ModelInfo:
    """What ``vcodec models`` shows: a checkpoint's name, kind, qualities and measured results."""

    name: str
    folder: Path
    kind: str
    description: str
    qualities: (
        int  # rate points: qualities, or a 1D tokenizer's tokens (0: none, a video tokenizer)
    )
    results: dict
    model: dict = field(default_factory=dict)  # the architecture, as config.json stores it


def _unusable(folder: Path, why: object) -> VcodecError:
    return VcodecError(f"{folder}: not a usable vcodec checkpoint ({CONFIG_FILE}: {why})")


def _read_json(folder: Path) -> dict:
    """A checkpoint's config.json (no torch: what listing models needs), or a one-line error."""
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
        if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
            raise ValueError("no [model] record")
    except (OSError, json.JSONDecodeError, ValueError) as err:
        raise _unusable(folder, err) from None
    return config


def _read_config(folder: Path) -> tuple[dict, ModelConfig]:
    """A checkpoint's config.json and the architecture it describes, or a one-line error."""
    from vcodec import registry

    config = _read_json(folder)
    try:
        model_config = registry.config_from_dict(config["model"])
        registry.kind_of(model_config).check_config(model_config)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise _unusable(folder, err) from None
    return config, model_config


def _info(folder: Path) -> ModelInfo:
    """A checkpoint's record from its config.json alone (no weights, no torch)."""
    from vcodec import registry

    config = _read_json(folder)
    model, kind = config["model"], config.get("kind")
    if kind not in registry.kinds():
        raise _unusable(folder, f"unknown kind {kind!r}")
    return ModelInfo(
        name=str(config.get("name", folder.name)),
        folder=folder,
        kind=kind,
        description=str(config.get("description", "")),
        qualities=_rate_points(registry.kind(kind), model),
        results=config.get("results", {}) if isinstance(config.get("results"), dict) else {},
        model=model,
    )


def _rate_points(kind, model: dict) -> int:
    """The kind's count of rate points, 0 for a record that does not say (the catalog never fails)."""
    try:
        return int(kind.rate_points(model))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 0


def list_models() -> list[str]:
    """Names of the shipped checkpoints, the default first."""
    root = checkpoint_root()
    names = (
        sorted(p.name for p in root.iterdir() if (p / CONFIG_FILE).is_file())
        if root.is_dir()
        else []
    )
    return sorted(names, key=lambda n: n != DEFAULT_MODEL)


def model_infos() -> list[ModelInfo]:
    return [_info(checkpoint_root() / name) for name in list_models()]


def shipped_info(name: str) -> ModelInfo | None:
    """The record of the shipped checkpoint called ``name`` (None if there is none)."""
    folder = checkpoint_root() / name
    return _info(folder) if name and (folder / CONFIG_FILE).is_file() else None


def checkpoint_record(name_or_path: str | os.PathLike) -> dict:
    """The config.json of a shipped model or checkpoint folder (architecture, training, measured RD)."""
    return _read_json(_resolve(name_or_path))


def _resolve(name_or_path: str | os.PathLike) -> Path:
    path = Path(name_or_path)
    if path.is_file() and path.name in (WEIGHTS_FILE, CONFIG_FILE):
        path = path.parent
    if (path / CONFIG_FILE).is_file():
        return path
    shipped = checkpoint_root() / str(name_or_path)
    if (shipped / CONFIG_FILE).is_file():
        return shipped
    known = ", ".join(list_models()) or "none installed"
    raise VcodecError(
        f"unknown model '{name_or_path}' (shipped models: {known}; or give a checkpoint folder)"
    )


def load(
    name_or_path: str | os.PathLike = DEFAULT_MODEL,
    device: str | torch.device = "cpu",
    kinds: Collection[str] | None = None,
) -> Model:
    """A ready-to-use model (eval mode) from a shipped name or a checkpoint folder: an image codec, a
    video codec, a tokenizer or a token prior, whichever the checkpoint holds. With ``kinds``, a
    checkpoint of another kind is refused (a one-line error) before its weights are read."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from vcodec import registry
    from vcodec.weights import unpack_masked_weights

    folder = _resolve(name_or_path)
    config, model_config = _read_config(folder)
    kind = registry.kind_of(model_config)
    if kinds is not None and kind.name not in kinds:
        wanted = " or ".join(registry.kind(k).noun for k in kinds)
        raise VcodecError(
            f"'{name_or_path}' is {kind.noun}, not {wanted}{kind.usage(str(name_or_path))}"
        )
    model, dependencies = _build(model_config, str(config.get("name", folder.name)), config, folder)
    try:
        weights = unpack_masked_weights(model, load_file(folder / WEIGHTS_FILE))
        # a dependency that is also a submodule (a video codec's image codec) brings its own weights
        inherited = {
            k: v for k, v in model.state_dict().items() if k.split(".", 1)[0] in dependencies
        }
        model.load_state_dict({**inherited, **weights})
    except (OSError, SafetensorError, RuntimeError) as err:
        raise VcodecError(f"{folder}: weights do not load ({str(err).splitlines()[0]})") from None
    return model.to(device).eval()


def build(config: ModelConfig, name: str = "unnamed") -> Model:
    """An untrained model of ``config``, on the checkpoints its kind depends on (a token prior's
    tokenizer): what training starts from."""
    return _build(config, name)[0]


def _build(
    config: ModelConfig, name: str, record: dict | None = None, folder: Path | None = None
) -> tuple[Model, set[str]]:
    """The one place that resolves dependencies: each checkpoint the model is built on is loaded,
    checked against the hash ``record`` names, and handed to the model's constructor."""
    from vcodec import registry

    kind, where = registry.kind_of(config), folder or name
    loaded = {}
    for dependency in kind.dependencies(config, record):
        try:
            model = load(dependency.name, kinds=(dependency.kind,))
        except VcodecError as err:
            raise VcodecError(f"{where} is built on {dependency.name}: {err}") from None
        found = kind.dependency_hash(dependency.role, model)
        if dependency.expected_hash is not None and found != dependency.expected_hash:
            what = kind.dependency_hash_name(dependency.role)
            raise VcodecError(
                f"{where}: built on {dependency.name} with {what} {dependency.expected_hash}, "
                f"but the installed {dependency.name} has {found}"
            )
        loaded[dependency.role] = model
    try:
        return registry.build_model(config, name, **loaded), set(loaded)
    except ValueError as err:  # a dependency that does not fit the config
        raise VcodecError(f"{where}: {err}") from None


def shipped_twin(codec: "LearnedImageCodec") -> str | None:
    """The shipped image codec with exactly these weights, if there is one."""
    for info in model_infos():
        if info.kind == "image-codec" and load(info.name).weights_hash == codec.weights_hash:
            return info.name
    return None


HALF_PRECISION_MIN_SIZE = 4096


def _storage_dtype(key: str, tensor: torch.Tensor) -> torch.dtype:
    """Large convolution weights are stored as float16 (halves the file); everything else as is."""
    import torch

    if (
        tensor.dtype == torch.float32
        and key.endswith("weight")
        and tensor.numel() >= HALF_PRECISION_MIN_SIZE
    ):
        return torch.float16
    return tensor.dtype


def prepare_for_shipping(model: Model) -> Model:
    """Round weights to their storage precision and tabulate the CDFs: the model users will load."""
    from vcodec.weights import clear_unused_taps

    clear_unused_taps(model, skip="intra.")
    state = model.state_dict()
    model.load_state_dict({k: v.to(_storage_dtype(k, v)).to(v.dtype) for k, v in state.items()})
    model.update()
    return model


def save_checkpoint(
    model: Model, folder: Path, record: dict, card: str, force: bool = False
) -> None:
    """Write weights (see :func:`prepare_for_shipping`) + config + model card as the folder ``folder``.

    The files are written into a temporary folder that then replaces ``folder`` (only with ``force``),
    so a checkpoint is never half-written.
    """
    from safetensors.torch import save_file

    from vcodec import registry
    from vcodec.weights import pack_masked_weights

    folder = Path(folder)
    if folder.exists() and not force:
        raise VcodecError(f"{folder}: exists (use --force to replace it)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    prepare_for_shipping(model)
    kind = registry.kind_of(model)
    references, state = kind.shipping_record(
        model, model.state_dict()
    )  # shipped dependencies: named, not copied
    record = {**record, **references}
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        state = {
            k: v.detach().cpu().to(_storage_dtype(k, v)).contiguous() for k, v in state.items()
        }
        state = pack_masked_weights(model, state)
        save_file(state, str(staging / WEIGHTS_FILE))
        config = {"name": model.name, "kind": kind.name, "model": model.config.to_dict(), **record}
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n")
        (staging / CARD_FILE).write_text(card)
        for (
            path
        ) in staging.iterdir():  # safetensors writes owner-only files; a checkpoint is for sharing
            path.chmod(0o644)
        staging.chmod(0o755)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
