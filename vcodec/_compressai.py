"""The parts of CompressAI that vcodec uses, imported without running ``compressai/__init__.py``.

CompressAI's package ``__init__`` imports all of its sub-packages, among them point-cloud data sets
that pull in torch_geometric, torch._dynamo and torchvision: seconds of start-up for code vcodec
never calls. Here the package is registered bare (its ``__init__`` unrun) and only the submodules we
need are imported. Anything else asked of the package later (``compressai.zoo``, ``import
compressai.models`` or any attribute its ``__init__`` defines) runs the real ``__init__`` first, so
other code in the same process sees the complete package.
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
        del package.__getattr__, package.get_entropy_coder, package.available_entropy_coders
        spec.loader.exec_module(package)  # the real __init__, once; then the complete package answers
        return getattr(package, attribute)

    package.__getattr__ = __getattr__
    # What CompressAI's entropy models ask the package for when they are built: its default coder,
    # "ans", as its __init__ sets it (the real __init__ replaces these when it runs).
    package.get_entropy_coder = lambda: "ans"
    package.available_entropy_coders = lambda: ["ans"]
    sys.modules["compressai"] = package
    return package


_bare_compressai()
entropy_models = importlib.import_module("compressai.entropy_models")
layers = importlib.import_module("compressai.layers")
ops = importlib.import_module("compressai.ops")
pmf_to_quantized_cdf = importlib.import_module("compressai._CXX").pmf_to_quantized_cdf

EntropyBottleneck = entropy_models.EntropyBottleneck
GaussianConditional = entropy_models.GaussianConditional
GDN = layers.GDN
quantize_ste = ops.quantize_ste
