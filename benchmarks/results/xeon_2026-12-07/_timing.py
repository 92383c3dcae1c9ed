"""The timer shared by this folder's per-layer scripts and probes (2026-12-07/08)."""

import time


def best_ms(fn, repeat=20):
    """fn() once to warm up, then the fastest of `repeat` calls back to back, in ms."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return 1e3 * best
