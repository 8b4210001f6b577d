"""One-line errors for every command: VcodecError and Ctrl-C become a message and an exit status."""

from __future__ import annotations

import functools
import sys

import click

from vcodec.errors import VcodecError


def friendly_errors(command):
    """Turn VcodecError (and Ctrl-C) into a one-line message and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except VcodecError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted; no partial output was left", err=True)
            sys.exit(130)

    return wrapper
