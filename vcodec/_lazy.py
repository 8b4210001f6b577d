"""Package attributes imported on first use (PEP 562), so importing a package stays cheap."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``names`` maps a public name to the submodule that
    defines it (``"module:attribute"`` when it has another name there); any other name is tried as a
    submodule (``vcodec.zoo`` after ``import vcodec``)."""

    def __getattr__(name: str) -> Any:
        if name in names:
            module, _, attribute = names[name].partition(":")
            value = getattr(importlib.import_module(module), attribute or name)
        else:
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
