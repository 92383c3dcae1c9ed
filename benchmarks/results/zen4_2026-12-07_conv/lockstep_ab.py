"""One-off A/B (2026-12-07, Zen 4 VM): does the lockstep of ops/_threads cost the step time?

Until this change `_threads.run` was `list(results_in_order(...))`: a helper thread ran at
most _AHEAD (1) finished blocks ahead of the caller (so that conv2d's dw sums a few (K, F)
partial products at a time, not all), and the forward and dx blocks, which return
nothing, ran in that lockstep too. Now `run` lets each thread work through its own blocks
and meet the others once, at the end. Here benchmarks/step.py's step (ours, float32,
SGD) alternates between the two (`_threads.run` swapped in this process; dw keeps
results_in_order in both), one step each per round, 0.3 s apart, after two warm-up
rounds; medians. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_conv/lockstep_ab.py 572-b32 [rounds]
"""

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import _threads  # noqa: E402

FREE = _threads.run


def lockstep(task, blocks, threads=None):
    """`run` as it was: the blocks in results_in_order's lockstep."""
    return list(_threads.results_in_order(task, blocks, threads))


def main():
    size = sys.argv[1] if len(sys.argv) > 1 else "572-b32"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    run = step.build_step("ours", size, "float32", 2)
    settings = {"lockstep": lockstep, "free": FREE}
    seconds = {name: [] for name in settings}
    for r in range(rounds + 2):
        for name, variant in settings.items():
            _threads.run = variant
            time.sleep(0.3)
            t0 = time.perf_counter()
            run()
            if r >= 2:
                seconds[name].append(time.perf_counter() - t0)
    _threads.run = FREE
    print(size, "float32, medians of", rounds, "rounds")
    for name, values in seconds.items():
        print(f"  {name:9s} {statistics.median(values):.3f} s  "
              f"({', '.join(f'{s:.3f}' for s in values)})")


if __name__ == "__main__":
    main()
