"""Run a training recipe: check it, resume or start (from the weights it names), train, export.

This is what `vcodec train CONFIG` does; the command line only parses its options. A recipe whose
``init`` is another config file trains that one first (in its own run folder) when it has not finished,
so a chain of runs is rebuilt by one command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vcodec import registry
from vcodec.errors import VcodecError
from vcodec.train.config import RunRecipe, config_text, load_config
from vcodec.train.loop import Trainer, load_modules

Log = Callable[[str], None]


def check_ready(recipe: RunRecipe) -> None:
    """Refuse, before any compute, a recipe whose data is missing or whose weights cannot be found."""
    data = Path(recipe.train.data)
    if not data.is_file():
        raise VcodecError(
            f"{data}: no such training cache (build it with `vcodec data prepare {data}`)"
        )
    if recipe.init and not _is_config(recipe.init):
        from vcodec import zoo

        if recipe.init not in zoo.list_models() and not Path(recipe.init).is_dir():
            raise VcodecError(
                f"init {recipe.init!r} is neither a shipped model ({', '.join(zoo.list_models())}), "
                f"a checkpoint folder nor a config file"
            )


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
        return trainer.shipped_state()
    from vcodec import zoo

    return zoo.load(recipe.init).state_dict()


def initialise(trainer: Trainer, recipe: RunRecipe, state: dict, log: Log = print) -> None:
    """Copy ``state`` into a new run's model, as the model's kind starts from an init
    (:meth:`vcodec.kinds.base.ModelKind.initialise`: an image codec widened or with its rate points
    moved, a video codec from an image codec, …)."""
    try:
        if recipe.train.init_modules:
            fresh = load_modules(trainer.model, state, recipe.train.init_modules)
            log(
                f"from {recipe.init}: {', '.join(recipe.train.init_modules)}; "
                f"new: {', '.join(fresh)}"
            )
        else:
            registry.kind_of(recipe.train.model).initialise(trainer.model, state, recipe, log)
    except (ValueError, RuntimeError) as err:
        raise VcodecError(
            f"init {recipe.init} does not fit the model [model] describes ({err})"
        ) from None


def init_lambdas(recipe: RunRecipe) -> tuple[float, ...]:
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
