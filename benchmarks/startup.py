"""Start-up time: how long a fresh process takes to answer, and which heavy modules it loaded.

Each command runs in a new interpreter ``--repeats`` times (median wall time, after one warm-up run
that fills the OS file cache): ``vcodec --help``, ``vcodec models``, ``vcodec info`` on an image
stream, ``import vcodec``, ``import vcodec`` + loading the default image codec, and ``import torch``
alone for scale. Target (issue 20): the first three well under a second.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = (
    "torch",
    "compressai",
    "scipy.stats",
    "torch._dynamo",
    "torch_geometric",
    "torchvision",
    "av",
)
# Run a command as `python -m vcodec` would, then say which heavy modules it loaded.
PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("loaded:", ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr))
{body}
"""


def cli(*args: str) -> str:
    return (
        f"sys.argv = ['vcodec', *{list(args)!r}]\nrunpy.run_module('vcodec', run_name='__main__')"
    )


def measure(body: str, repeats: int) -> tuple[float, list[str]]:
    code = PROBE.format(heavy=HEAVY, body=body)
    times, loaded = [], []
    for i in range(repeats + 1):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"failed: {body}\n{done.stderr[-2000:]}")
        line = [ln for ln in done.stderr.splitlines() if ln.startswith("loaded:")][-1]
        loaded = [m for m in line.removeprefix("loaded:").strip().split(",") if m]
        if i:  # the first run warms the file cache
            times.append(elapsed)
    return statistics.median(times), loaded


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stream = Path(tmp) / "astronaut.vcd"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "vcodec",
                "encode",
                str(ROOT / "docs" / "astronaut.png"),
                str(stream),
            ],
            check=True,
            capture_output=True,
        )
        cases = {
            "vcodec --help": cli("--help"),
            "vcodec models": cli("models"),
            "vcodec info IMAGE.vcd": cli("info", str(stream)),
            "import vcodec": "import vcodec",
            "import vcodec; vcodec.load()": "import vcodec\nvcodec.load()",
            "import torch (for scale)": "import torch",
        }
        rows = []
        for name, body in cases.items():
            seconds, loaded = measure(body, args.repeats)
            rows.append(
                {"command": name, "seconds": round(seconds, 3), "heavy_modules_loaded": loaded}
            )
            print(
                f"{name:32s} {seconds:6.3f} s   loaded: {', '.join(loaded) or 'none of ' + '/'.join(HEAVY)}"
            )
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import write_json

    write_json("startup", {"repeats": args.repeats, "results": rows})


if __name__ == "__main__":
    main()
