"""How CPU threads wait and how many each kind of work gets.

OpenMP's default is to keep idle worker threads spinning for a while after each parallel region. On a
machine where other programs also want the cores, those spinning threads take turns with the very
thread they wait for, and small sequential work (a token prior's steps, one video frame after
another, training steps) slows down 10–100×. Passive waiting costs little when the machine is idle.
Small, sequential work also runs on one thread: splitting a tiny tensor over cores costs more in
hand-offs than it gains. Decoding is exact for every thread count, so these choices never change
what a stream decodes to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

WAIT_POLICY = "OMP_WAIT_POLICY"


def configure_openmp() -> None:
    """Idle OpenMP threads sleep instead of spinning, unless the environment says otherwise.

    OpenMP reads this once, when torch loads it, so it has effect only before torch's first import
    (``import vcodec`` and the ``vcodec`` command run it first thing).
    """
    os.environ.setdefault(WAIT_POLICY, "PASSIVE")


def set_threads(count: int | None) -> None:
    """Use ``count`` intra-op threads from now on (None or 0: leave torch's default, one per core)."""
    if count:
        import torch

        torch.set_num_threads(count)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a block on ``count`` intra-op threads, then restore the count (sequential work on one
    thread; tests and benchmarks checking that exact results do not depend on the thread count)."""
    import torch

    before = torch.get_num_threads()
    if count == before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
