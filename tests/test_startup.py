"""Start-up stays light: ``import vcodec``, the CLI modules and the commands that code nothing load no
torch; loading a codec imports CompressAI's submodules without its heavy package ``__init__``, which
still runs when something asks for it; and idle OpenMP threads wait passively unless the user says
otherwise. Each check runs in a fresh interpreter and inspects its ``sys.modules``, never a clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vcodec import zoo


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (from the repository root); fails the test unless it exits 0."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env if env is not None else os.environ.copy(),
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    return done


def last_json(done: subprocess.CompletedProcess):
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_vcodec_and_its_command_line_loads_no_torch():
    done = python(
        "import json, sys, vcodec, vcodec.cli.main\n"
        "print(json.dumps(sorted(m for m in ('torch', 'compressai', 'scipy') if m in sys.modules)))"
    )
    assert last_json(done) == []


def test_loading_a_codec_skips_compressais_package_init_which_still_runs_on_demand(tiny_zoo):
    done = python(
        "import json, sys, torch, vcodec\n"
        "heavy = lambda: sorted(m for m in ('torch_geometric', 'torch._dynamo', 'torchvision') if m in sys.modules)\n"
        "codec = vcodec.load('tiny')\n"
        "image = torch.linspace(0, 1, 3 * 32 * 32).reshape(1, 3, 32, 32)\n"
        "before, stream = heavy(), codec.compress(image)\n"
        "import compressai\n"
        "coder = compressai.get_entropy_coder()\n"
        "from compressai.zoo import bmshj2018_hyperprior\n"
        "compressai.set_entropy_coder('ans')  # only the real __init__ defines it: it runs now\n"
        "print(json.dumps({'before': before, 'coder': coder, 'coders': compressai.available_entropy_coders(),\n"
        "                  'version': compressai.__version__, 'real': 'datasets' in vars(compressai),\n"
        "                  'zoo': callable(bmshj2018_hyperprior), 'same': codec.compress(image) == stream,\n"
        "                  'decodes': codec.decompress(stream).shape == image.shape}))"
    )
    result = last_json(done)
    assert result["before"] == []  # the codec loaded and coded without them
    assert result["coder"] == "ans" and "ans" in result["coders"] and result["zoo"]
    assert (
        result["real"] and result["version"]
    )  # the real __init__ ran when asked for what only it defines
    assert result["same"] and result["decodes"]  # and the codec codes the same once it has run


def run_cli(*args: str) -> tuple[subprocess.CompletedProcess, bool]:
    """``python -m vcodec ARGS`` in a fresh interpreter: its result, and whether torch was imported by the
    time it exited (an atexit hook looks, after click's sys.exit)."""
    code = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('torch loaded:', 'torch' in sys.modules))\n"
        f"sys.argv = ['vcodec', *{list(args)!r}]\n"
        "runpy.run_module('vcodec', run_name='__main__', alter_sys=True)"
    )
    done = python(code)
    marker = done.stdout.strip().splitlines()[-1]
    assert marker in ("torch loaded: True", "torch loaded: False"), done.stdout
    return done, marker.endswith("True")


def test_help_models_and_info_load_no_torch(tiny_zoo, tmp_path):
    stream = tmp_path / "photo.vcd"
    stream.write_bytes(
        zoo.load("tiny").compress(
            torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
        )
    )
    expected = {("--help",): "encode", ("models",): "tiny-other", ("info", str(stream)): "48×40"}
    for args, text in expected.items():
        done, torch_loaded = run_cli(*args)
        assert text in done.stdout, (args, done.stdout)
        assert not torch_loaded, f"vcodec {' '.join(args)} imported torch"


@pytest.mark.parametrize("user_setting,expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_wait_passively_unless_the_user_says_otherwise(user_setting, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user_setting is not None:
        env["OMP_WAIT_POLICY"] = user_setting
    done = python(
        "import os, sys\n"
        "before = os.environ.get('OMP_WAIT_POLICY')\n"
        "import vcodec\n"
        "print(before, os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)",
        env=env,
    )
    assert done.stdout.split() == [
        str(user_setting),
        expected,
        "False",
    ]  # set before torch could read it
