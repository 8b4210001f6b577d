"""Run a training recipe: check it, resume or start (from the weights it names), train, export.

This is what `vcodec train CONFIG` does; the command line only parses its options. A recipe whose
``init`` is another config file trains that one first (in its own run folder) when it has not finished,
so a chain of runs is rebuilt by one command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vcodec.errors import VcodecError
from vcodec.models import is_video_codec
from vcodec.train.config import RunRecipe, config_text, load_config
from vcodec.train.loop import Trainer, load_training_state

Log = Callable[[str], None]


def check_ready(recipe: RunRecipe) -> None:
    """Refuse, before any compute, a recipe whose data is missing or whose weights cannot be found."""
    data = Path(recipe.train.data)
    if not data.is_file():
        raise VcodecError(f"{data}: no such training cache (build it with `vcodec data prepare {data}`)")
    if recipe.init and not _is_config(recipe.init):
        from vcodec import zoo

        if recipe.init not in zoo.list_models() and not Path(recipe.init).is_dir():
            raise VcodecError(f"init {recipe.init!r} is neither a shipped model ({', '.join(zoo.list_models())}), "
                              f"a checkpoint folder nor a config file")


def _is_config(init: str) -> bool:
    return init.lower().endswith(".toml")


def _parent_recipe(recipe: RunRecipe) -> RunRecipe:
    """The config ``init`` names, found from the current folder or from the config's own folder."""
    path = Path(recipe.init)
    if not path.is_file() and recipe.source is not None and (recipe.source.parent / path).is_file():
        path = recipe.source.parent / path
    if not path.is_file():
        raise VcodecError(f"init {recipe.init}: no such config file")
    return load_config(path)


def start_weights(recipe: RunRecipe, log: Log) -> dict | None:
    """The state dict a new run starts from (None: from scratch)."""
    if recipe.init is None:
        return None
    if _is_config(recipe.init):
        parent = _parent_recipe(recipe)
        trainer = train_recipe(parent, parent.default_run_dir, log)
        return trainer.model.state_dict()
    from vcodec import zoo

    return zoo.load(recipe.init).state_dict()


def initialise(trainer: Trainer, recipe: RunRecipe, state: dict, log: Log = print) -> None:
    """Copy ``state`` into a new run's model: the whole model, or a video codec's image codec.

    An image codec whose [model] n is larger than the init's starts from the init widened without
    changing what it computes (:mod:`vcodec.codecs.widen`); one whose [model] lambdas extend the
    init's gets gain rows for the new qualities, each from the init's quality of nearest λ.
    """
    video = is_video_codec(recipe.train.model)
    prior = _part(state, "prior.") if video else {}
    try:
        state = (_part(state, "intra.") if prior else state) if video else \
            _extended(_widened(state, recipe, log), recipe, log)
        load_training_state(trainer.model.intra if video else trainer.model, state)
        if prior:
            _load_prior(trainer.model.prior, prior)
    except (ValueError, RuntimeError) as err:
        what = "this video codec" if prior else "this video codec's image codec" if video else \
            "the model [model] describes"
        raise VcodecError(f"init {recipe.init} does not fit {what} ({err})") from None
    if video and not prior:
        trainer.model.prior.start_from(trainer.model.intra)


def _part(state: dict, prefix: str) -> dict:
    """The entries of a state dict under ``prefix``, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _load_prior(prior, state: dict) -> None:
    """A video codec's temporal prior from another one's: a motion predictor the init lacks keeps its
    identity start, so the new codec starts exactly where the init stands."""
    missing, unexpected = prior.load_state_dict(state, strict=False)
    if unexpected or any(not key.startswith("motion.") for key in missing):
        raise ValueError(f"temporal priors differ (missing {missing[:3]}, unexpected {unexpected[:3]})")


def _widened(state: dict, recipe: RunRecipe, log: Log) -> dict:
    from vcodec.codecs import CodecConfig
    from vcodec.codecs.widen import hyper_width, transform_width, widen_state

    model, width = recipe.train.model, transform_width(state)
    if not isinstance(model, CodecConfig) or width is None or width >= model.n:
        return state
    side = hyper_width(state)
    if side is not None and side != model.side_channels:
        raise VcodecError(f"init {recipe.init} has a hyper path of width {side}: set [model] "
                          f"hyper_n = {side} to widen only its image transforms")
    log(f"widening {recipe.init} from N={width} to N={model.n} (same function, new channels copy old ones)")
    return widen_state(state, model.n, seed=recipe.train.seed)


def _extended(state: dict, recipe: RunRecipe, log: Log) -> dict:
    from vcodec.codecs import CodecConfig
    from vcodec.codecs.widen import gain_rows, rate_points

    model = recipe.train.model
    if not isinstance(model, CodecConfig) or gain_rows(state) is None:
        return state
    own = _init_lambdas(recipe)
    if own == tuple(model.lambdas):
        return state
    log(f"rate points of {recipe.init} (λ {', '.join(map(str, own))}) moved to λ "
        f"{', '.join(map(str, model.lambdas))}: each starts from the init's nearest λ")
    return rate_points(state, own, tuple(model.lambdas))


def _init_lambdas(recipe: RunRecipe) -> tuple[float, ...]:
    """The λ of the image codec a recipe starts from."""
    if _is_config(recipe.init):
        return tuple(_parent_recipe(recipe).train.model.lambdas)
    from vcodec import zoo

    return tuple(zoo.checkpoint_record(recipe.init)["model"].get("lambdas", ()))


def train_recipe(recipe: RunRecipe, run_dir: Path, log: Log = print) -> Trainer:
    """Train ``recipe`` in ``run_dir`` to its last step (resuming there when it has started)."""
    check_ready(recipe)
    try:
        trainer = Trainer(recipe.train, run_dir)
        resumed = trainer.resume()
    except ValueError as err:
        raise VcodecError(str(err)) from None
    if resumed:
        if trainer.state.step >= recipe.train.steps:
            log(f"{run_dir}: finished ({trainer.state.step} steps)")
            return trainer
        log(f"resuming {run_dir} at step {trainer.state.step} of {recipe.train.steps}")
    else:
        state = start_weights(recipe, log)
        if state is not None:
            initialise(trainer, recipe, state, log)
        if trainer.shard.is_main:
            (Path(run_dir) / "config.toml").write_text(config_text(recipe))
        log(f"starting {run_dir}" + (f" from {recipe.init}" if recipe.init else ""))
    trainer.run()
    return trainer

