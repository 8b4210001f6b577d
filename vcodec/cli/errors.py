"""One-line errors for every command: VcodecError, Ctrl-C and ``kill`` become a message and an exit status,
and messages print file names of any encoding."""

from __future__ import annotations

import functools
import signal
import sys
import threading

import click

from vcodec.errors import VcodecError


def echo(message: str = "", err: bool = False) -> None:
    """``click.echo`` that prints file names as their bytes, as ``ls`` does, whatever their encoding (a
    name that is not UTF-8 reaches Python with surrogates, which no text stream can encode)."""
    click.echo(message.encode("utf-8", "surrogateescape"), err=err)


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C, so temporary outputs are removed on the way out


def _interrupt_in_extension(err: BaseException) -> bool:
    """Whether ``err`` is a Rust extension's panic (constriction, through pyo3) at a KeyboardInterrupt
    that our signal handler raised while the extension was calling back into Python."""
    return type(err).__name__ == "PanicException" and "KeyboardInterrupt" in str(err)


def friendly_errors(command):
    """Turn VcodecError, Ctrl-C and SIGTERM into a one-line message and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
        try:
            return command(*args, **kwargs)
        except VcodecError as err:
            echo(f"error: {err}", err=True)
            sys.exit(1)
        except (
            BaseException
        ) as err:  # Ctrl-C or SIGTERM, also when it surfaces as an extension's panic
            if not (isinstance(err, KeyboardInterrupt) or _interrupt_in_extension(err)):
                raise
            echo("interrupted; no partial output was left", err=True)
            sys.exit(130)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)

    return wrapper
