"""The long fuzz run (issue 7): every decoder on mutated, truncated, spliced, random and format-aware
damaged streams; target ≥ 1,000,000 cases per decoder with 0 crashes and 0 hangs (a case doing more
than ``vcodec.testing.fuzz.HANG_FACTOR`` times its seeds' work: counted, not timed). Time is measured here only,
as numbers to read: the run's wall time and the CPU time of its slowest case (``slowest_seconds``).

Case i of a seed is a function of (seed, i) alone, so a run can be split across sessions with
``--first`` and merged into the same results file (``--append``); failing inputs are written to
``--failures`` for replay with ``vcodec.testing.fuzz.case``.

    python benchmarks/fuzz.py --cases 1000000 --seed 0 [--targets video,image/mean-scale-checkerboard]
    python benchmarks/fuzz.py --cases 200000 --first 200000 --append          # the next slice
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=FutureWarning)

import torch  # noqa: E402
from _common import RESULTS, write_json  # noqa: E402

from vcodec.testing import fuzz  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases per decoder")
    parser.add_argument(
        "--first", type=int, default=0, help="index of the first case (to continue a run)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", default="all", help="comma-separated decoder names, or all")
    parser.add_argument("--append", action="store_true", help="add to benchmarks/results/fuzz.json")
    parser.add_argument(
        "--failures", type=Path, default=Path("fuzz-failures"), help="where failing inputs go"
    )
    parser.add_argument(
        "--shipped", action="store_true", help="also the shipped checkpoints' decoders (slower)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    targets = {**fuzz.targets(), **(fuzz.shipped_targets() if args.shipped else {})}
    names = sorted(targets) if args.targets == "all" else args.targets.split(",")
    unknown = [n for n in names if n not in targets]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(sorted(targets))}")
    previous = (
        json.loads((RESULTS / "fuzz.json").read_text())["runs"]
        if args.append and (RESULTS / "fuzz.json").exists()
        else []
    )
    runs = list(previous)
    for name in names:
        timed = Timed(targets[name].decode)
        started = time.perf_counter()
        report = fuzz.run(
            dataclasses.replace(targets[name], decode=timed),
            args.cases,
            args.seed,
            progress=True,
            first=args.first,
        )
        summary = {
            **report.summary(),
            "slowest_seconds": round(timed.slowest, 4),
            "seconds": round(time.perf_counter() - started, 1),
            "seed": args.seed,
            "first": args.first,
        }
        runs.append(summary)
        print(json.dumps(summary))
        for kind, failures in (("crash", report.crashes), ("hang", report.hangs)):
            for number, (data, _) in enumerate(failures):
                args.failures.mkdir(parents=True, exist_ok=True)
                (args.failures / f"{name.replace('/', '_')}-{kind}-{number}.bin").write_bytes(data)
        write_json("fuzz", {"runs": runs, "totals": totals(runs)})


class Timed:
    """A decode function that remembers the CPU time of its slowest call (a measurement, not a limit)."""

    def __init__(self, decode):
        self.decode, self.slowest = decode, 0.0

    def __call__(self, data: bytes):
        begin = time.process_time()
        try:
            return self.decode(data)
        finally:
            self.slowest = max(self.slowest, time.process_time() - begin)


def totals(runs: list[dict]) -> dict:
    """Cases, crashes and hangs per decoder over every recorded slice."""
    out: dict[str, dict] = {}
    for run in runs:
        entry = out.setdefault(
            run["target"], {"cases": 0, "crashes": 0, "hangs": 0, "slowest_seconds": 0.0}
        )
        for key in ("cases", "crashes", "hangs"):
            entry[key] += run[key]
        entry["slowest_seconds"] = max(entry["slowest_seconds"], run["slowest_seconds"])
    return out


if __name__ == "__main__":
    main()
