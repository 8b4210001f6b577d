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
