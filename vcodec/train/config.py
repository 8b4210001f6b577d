"""Training configs as TOML files, one per shipped checkpoint, checked before any compute is spent.

A config has up to five sections::

    [model]   architecture = "mean-scale-checkerboard", then that architecture's fields (n, m, lambdas…)
    [data]    path (from `vcodec data prepare`), crop, crop_scales, frames, deform, change
    [train]   steps, batch, lr, final_lr, seed, init (a checkpoint or another config to start from)…
    [loss]    distortion (codecs: mse or ms-ssim), ms_ssim and adversarial weights (tokenizers)…
    [export]  name, description, token_prior

Every key is checked: a misspelt one is refused with the closest valid key named, a value of the
wrong type with the type it needs.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcodec import registry
from vcodec.errors import VcodecError
from vcodec.train.loop import TrainConfig
from vcodec.train.objectives import LossConfig

DATA_KEYS = {
    "path": "data",
    "crop": "crop",
    "crop_scales": "crop_scales",
    "frames": "frames",
    "deform": "deform",
    "change": "change",
}  # → TrainConfig
TRAIN_ONLY = ("init",)  # [train] keys that are not TrainConfig fields
MACHINE_KEYS = ("device",)  # chosen on the command line, not in a config file


@dataclass
class ExportSettings:
    """How `vcodec train --export` (or `vcodec export`) writes the checkpoint."""

    name: str | None = None
    description: str | None = None
    token_prior: str | None = None  # tokenizers: "static" or "autoregressive"


@dataclass
class RunRecipe:
    """A parsed config file: what to train, where to start from, how to export it."""

    train: TrainConfig
    init: str | None = None  # a shipped name, a checkpoint folder or another config file
    export: ExportSettings = field(default_factory=ExportSettings)
    source: Path | None = None

    @property
    def default_run_dir(self) -> Path:
        """``runs/<config name>``: where a config trains unless told otherwise."""
        return Path("runs") / (self.source.stem if self.source else "run")


def _closest(word: str, choices) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else f" (valid: {', '.join(sorted(choices))})"


def _check_keys(where: str, table: dict, valid) -> None:
    for key in table:
        if key not in valid:
            raise VcodecError(f"{where}: unknown key {key!r}{_closest(key, valid)}")


def _defaults(config_type) -> dict[str, Any]:
    """Each field's default value (None where it has none), which tells the type a value must have."""
    out = {}
    for f in dataclasses.fields(config_type):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = None
    return out


def _checked(where: str, key: str, value: Any, default: Any) -> Any:
    """``value`` converted to the type of ``default`` (int → float allowed, lists → tuples), or an error."""

    def wrong(kind: str) -> VcodecError:
        return VcodecError(f"{where}: {key} must be {kind}, got {value!r}")

    if default is None or isinstance(default, dict):
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if isinstance(default, (tuple, list)):
        if not isinstance(value, list):
            raise wrong("a list")
        return tuple(value)
    return value


def _model_config(where: str, table: dict):
    known = registry.architectures()
    architecture = table.get("architecture")
    if architecture is None:
        raise VcodecError(f"{where}: [model] needs an architecture (one of {', '.join(known)})")
    if architecture not in known:
        raise VcodecError(
            f"{where}: unknown architecture {architecture!r}{_closest(str(architecture), known)}"
        )
    config_type = registry.architecture(architecture).config_type
    defaults = _defaults(config_type)
    _check_keys(f"{where} [model]", table, defaults)
    values = {k: _checked(f"{where} [model]", k, v, defaults[k]) for k, v in table.items()}
    try:
        return registry.config_from_dict(values)
    except (TypeError, ValueError) as err:
        raise VcodecError(f"{where} [model]: {err}") from None


def _loss_config(where: str, table: dict) -> LossConfig:
    defaults = _defaults(LossConfig)
    _check_keys(f"{where} [loss]", table, defaults)
    try:
        return LossConfig(
            **{k: _checked(f"{where} [loss]", k, v, defaults[k]) for k, v in table.items()}
        )
    except ValueError as err:
        raise VcodecError(f"{where} [loss]: {err}") from None


def parse_config(text: str, source: Path | None = None) -> RunRecipe:
    """A :class:`RunRecipe` from TOML text; every section and key checked."""
    where = str(source) if source else "config"
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise VcodecError(f"{where}: not valid TOML ({err})") from None
    _check_keys(where, {k: None for k in document}, ("model", "data", "train", "loss", "export"))
    for section in ("model", "data"):
        if section not in document:
            raise VcodecError(f"{where}: a [{section}] section is required")
    for section, table in document.items():
        if not isinstance(table, dict):
            raise VcodecError(f"{where}: {section} must be a [{section}] section, not a value")
    train_defaults = _defaults(TrainConfig)
    model = _model_config(where, document["model"])
    data, train = document["data"], document.get("train", {})
    export = document.get("export", {})
    _check_keys(f"{where} [data]", data, DATA_KEYS)
    valid_train = [
        k for k in train_defaults if k not in ("model", "loss", *DATA_KEYS.values(), *MACHINE_KEYS)
    ]
    valid_train += list(TRAIN_ONLY)
    _check_keys(f"{where} [train]", train, valid_train)
    _check_keys(f"{where} [export]", export, _defaults(ExportSettings))
    if "path" not in data:
        raise VcodecError(
            f"{where}: [data] needs a path (a training cache from `vcodec data prepare`)"
        )
    values = {
        DATA_KEYS[k]: _checked(f"{where} [data]", k, v, train_defaults[DATA_KEYS[k]])
        for k, v in data.items()
    }
    values.update(
        {
            k: _checked(f"{where} [train]", k, v, train_defaults[k])
            for k, v in train.items()
            if k not in TRAIN_ONLY
        }
    )
    for share in ("deform", "change"):
        if not 0.0 <= values.get(share, 0.0) <= 1.0:
            raise VcodecError(
                f"{where} [data]: {share} is a share of the clips, from 0 to 1; got {values[share]}"
            )
    for key in ("freeze", "init_modules"):
        if not all(isinstance(name, str) and name for name in values.get(key, ())):
            raise VcodecError(f"{where} [train]: {key} must be a list of module names")
    if values.get("init_modules") and train.get("init") is None:
        raise VcodecError(f"{where} [train]: init_modules needs an init to take them from")
    values["loss"] = _loss_config(where, document.get("loss", {}))
    init = train.get("init")
    if init is not None and not isinstance(init, str):
        raise VcodecError(f"{where} [train]: init must be a string, got {init!r}")
    for key, value in export.items():
        if not isinstance(value, str):
            raise VcodecError(f"{where} [export]: {key} must be a string, got {value!r}")
    if export.get("token_prior") not in (None, "static", "autoregressive"):
        raise VcodecError(f'{where} [export]: token_prior must be "static" or "autoregressive"')
    return RunRecipe(TrainConfig(model, **values), init, ExportSettings(**export), source)


def load_config(path: Path) -> RunRecipe:
    """Read and check a config file (TOML)."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        raise VcodecError(f"{path}: configs are TOML files (.toml); YAML is not read")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise VcodecError(
            f"{path}: cannot read ({err.strerror if isinstance(err, OSError) else err})"
        ) from None
    return parse_config(text, path)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def config_text(recipe: RunRecipe) -> str:
    """The TOML a :class:`RunRecipe` was (or could have been) read from: every field written out."""
    config = recipe.train.to_dict()
    model, loss = config.pop("model"), config.pop("loss")
    data = {k: config.pop(v) for k, v in DATA_KEYS.items()}
    train = {k: v for k, v in config.items() if k not in MACHINE_KEYS}
    train.update({"init": recipe.init} if recipe.init else {})
    export = {k: v for k, v in dataclasses.asdict(recipe.export).items() if v is not None}
    sections = [("model", model), ("data", data), ("train", train), ("loss", loss)]
    sections += [("export", export)] if export else []
    lines = []
    for name, table in sections:
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
        lines.append("")
    return "\n".join(lines)
