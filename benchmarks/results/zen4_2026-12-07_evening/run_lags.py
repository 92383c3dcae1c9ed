"""One-off measurement (2026-12-07 evening, Zen 4 VM): where `_threads.run`'s threads
wait in a training step.

benchmarks/step.py's step (ours, float32, 2 threads) with `_threads.run` wrapped: each
block's task is timed on the thread that runs it; per call, for each thread that ran a
block: the lag from the call's start to its first block (start lag: the hand-off to a
helper), the lag from its last block to the call's end (end lag: waiting for the other
thread's last blocks), its busy time and the gaps between its blocks. Sums per step over
5 steps after two warm-ups, 0.3 s apart. Calls of one thread or one block are not counted
(they run as they are). conv2d's dw pass (`results_in_order`) is not in these figures.
Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/results/zen4_2026-12-07_evening/run_lags.py 572-b32
"""

import collections
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import _threads  # noqa: E402

TOTALS = collections.defaultdict(float)
REAL_RUN = _threads.run


def timed_run(task, blocks, threads=None):
    if (_threads.workers() if threads is None else threads) < 2 or len(blocks) < 2:
        return REAL_RUN(task, blocks, threads)
    first, last, busy = {}, {}, collections.defaultdict(float)

    def timed_task(block):
        t0 = time.perf_counter()
        me = threading.get_ident()
        first.setdefault(me, t0)
        result = task(block)
        t1 = time.perf_counter()
        busy[me] += t1 - t0
        last[me] = t1
        return result

    c0 = time.perf_counter()
    results = REAL_RUN(timed_task, blocks, threads)
    c1 = time.perf_counter()
    TOTALS["calls"] += 1
    TOTALS["wall of the calls"] += c1 - c0
    for me in first:
        TOTALS["start lag"] += first[me] - c0
        TOTALS["end lag"] += c1 - last[me]
        TOTALS["busy"] += busy[me]
        TOTALS["gaps between blocks"] += (last[me] - first[me]) - busy[me]
    return results


def main():
    _threads.run = timed_run
    size, reps = sys.argv[1], 5
    run = step.build_step("ours", size, "float32", 2)
    run()
    run()
    TOTALS.clear()
    for _ in range(reps):
        time.sleep(0.3)
        run()
    print(f"{size}, per step (seconds; lags and busy summed over the threads):")
    for key, value in TOTALS.items():
        print(f"  {key:20s} {value / reps:.4f}")


if __name__ == "__main__":
    main()
