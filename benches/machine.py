"""How fast this machine runs Python at the moment: a reference figure taken at the start and
at the end of every bench, so that figures from different days, or from a machine shared with
other work, can be put side by side (divide by it) and a run that slowed down as it went is
seen for what it is. Measured with nothing else of the bench running."""

from __future__ import annotations

import math
import time

ITERATIONS = 1_000_000


def reference_loop_ms(iterations: int = ITERATIONS, repeats: int = 5) -> float:
    """The best of `repeats` timings of a plain loop of `iterations` integer additions, in ms
    (the best, because interference only ever adds time)."""
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for i in range(iterations):
            total += i
        best = min(best, time.perf_counter() - started)
    return best * 1000
