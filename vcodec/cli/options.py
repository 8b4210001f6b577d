"""Groups of click options that several commands share."""

from __future__ import annotations

from typing import Callable


def shared_options(options: list[Callable]) -> Callable:
    """A decorator that applies ``options`` (``click.option(...)`` results) as if written above a command
    in that order."""

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _set_threads(ctx, param, value: int | None) -> None:
    from vcodec.threads import set_threads

    set_threads(value)


def threads_option(command: Callable) -> Callable:
    """``--threads N`` for a command that runs models: torch's CPU threads for this run."""
    import click

    return click.option(
        "--threads",
        type=click.IntRange(1),
        default=None,
        expose_value=False,
        callback=_set_threads,
        help="CPU threads for the models this command runs (default: one per core; steps "
        "too small to share, such as decoding one token at a time, use one).",
    )(command)
