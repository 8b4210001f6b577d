"""The parts of CompressAI that vcodec uses, imported without running ``compressai/__init__.py``.

CompressAI's package ``__init__`` imports all of its sub-packages, among them point-cloud data sets
that pull in torch_geometric, torch._dynamo and torchvision: seconds of start-up for code vcodec
never calls. Here the package is registered bare (its ``__init__`` unrun) and only the submodules we
need are imported. Other code in the same process still gets all of CompressAI: a submodule
(``compressai.zoo``, ``import compressai.models``) imports on its own, and the first attribute that
only the ``__init__`` defines (``set_entropy_coder``, ``__version__``…) runs the real ``__init__``.
Until then the bare package answers the two questions its entropy models ask when they are built,
which coder is the default and which are available, as the ``__init__`` would.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


def _bare_compressai() -> ModuleType:
    """The ``compressai`` package with its ``__init__`` unrun until something it defines is asked for;
    submodules import on their own."""
    if "compressai" in sys.modules:
        return sys.modules["compressai"]
    spec = importlib.util.find_spec("compressai")
    if spec is None or spec.loader is None:
        raise ImportError("compressai is not installed")
    package = importlib.util.module_from_spec(spec)

    def __getattr__(attribute: str):
        if importlib.util.find_spec(f"compressai.{attribute}") is not None:
            return importlib.import_module(f"compressai.{attribute}")
        del package.__getattr__
        spec.loader.exec_module(
            package
        )  # the real __init__, once (it redefines the two answers below)
        return getattr(package, attribute)

    package.__getattr__ = __getattr__
    package.get_entropy_coder = lambda: "ans"  # the __init__'s default
    package.available_entropy_coders = lambda: (
        ["ans"] + (["rangecoder"] if _has("range_coder") else [])
    )
    sys.modules["compressai"] = package
    return package


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


_bare_compressai()
entropy_models = importlib.import_module("compressai.entropy_models")
layers = importlib.import_module("compressai.layers")
ops = importlib.import_module("compressai.ops")
pmf_to_quantized_cdf = importlib.import_module("compressai._CXX").pmf_to_quantized_cdf

EntropyBottleneck = entropy_models.EntropyBottleneck
GaussianConditional = entropy_models.GaussianConditional
GDN = layers.GDN
quantize_ste = ops.quantize_ste
