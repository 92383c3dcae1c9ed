"""One-off A/Bs (2026-12-07, Zen 4 VM): two ways of sharing blocks between our threads.

    ahead     ops/_threads._AHEAD, the dw block results a helper may have waiting: 1 (as
              shipped) vs 4
    dynamic   `_threads.run` as shipped (block i on thread i % threads) vs each thread
              taking the next block from a shared counter (same bits: each block's
              arithmetic does not depend on its thread)

benchmarks/step.py's step, ours, float32; the two settings alternate, one step each per
round; the loop and the printout: `_ab.py`. Prints only; nothing in the package
changes.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/threads_ab.py ahead|dynamic 572-b32 [rounds]
"""

import itertools
import sys
import threading

import _ab

from minimal_unet.ops import _threads

STATIC = _threads.run


def dynamic(task, blocks, threads=None):
    """`_threads.run` with the blocks handed out from a shared counter."""
    threads = _threads.workers() if threads is None else threads
    blas = _threads._blas_controller() if threads > 1 else None
    if blas is None or len(blocks) <= 1:
        return list(_threads.results_in_order(task, blocks, threads))
    threads = min(threads, len(blocks))
    results = [None] * len(blocks)
    stop = threading.Event()
    counter = itertools.count()

    def share(k):
        for index in iter(counter.__next__, None):
            if index >= len(blocks) or stop.is_set():
                return
            try:
                results[index] = task(blocks[index])
            except BaseException:
                stop.set()
                raise

    with blas.limit(limits=1):
        helpers = [_threads._pool(threads - 1).submit(share, k) for k in range(1, threads)]
        try:
            share(0)
        finally:
            for future in helpers:
                future.exception()
        for future in helpers:
            future.result()
    return results


def set_ahead(value):
    _threads._AHEAD = value


def set_run(value):
    _threads.run = value


EXPERIMENTS = {"ahead": (set_ahead, {"ahead 1 (shipped)": 1, "ahead 4": 4}),
               "dynamic": (set_run, {"static (shipped)": STATIC, "dynamic": dynamic})}


def main():
    name, size = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 11
    apply, settings = EXPERIMENTS[name]
    seconds = _ab.alternate(size, settings, apply, rounds)
    _ab.report(f"{size} float32, {name} A/B, {rounds} rounds", seconds)


if __name__ == "__main__":
    main()
