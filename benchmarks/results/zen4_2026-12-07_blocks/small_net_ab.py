"""One-off A/B (2026-12-07, Zen 4 VM): the 252 / base-16 step (no layer large enough for our
threads, so its products run on BLAS's threads in blocks of conv2d._BLOCK_BYTES) against
the same step with every product sent to our threads (trick 3), which since this session
cuts them by the product's length (trick 2). benchmarks/step.py's step, ours, float32;
the two alternate, one step each per round, 0.3 s apart, after two warm-up rounds.
Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/small_net_ab.py [rounds]
"""

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet import model  # noqa: E402

AS_SHIPPED = model.runs_on_our_threads


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    run = step.build_step("ours", "252-b16", "float32", 2)
    settings = {"BLAS's threads (as shipped)": AS_SHIPPED,
                "every product on ours": lambda cols_bytes: True}
    seconds = {name: [] for name in settings}
    for r in range(rounds + 2):
        for name, test in settings.items():
            model.runs_on_our_threads = test
            time.sleep(0.3)
            t0 = time.perf_counter()
            run()
            if r >= 2:
                seconds[name].append(time.perf_counter() - t0)
    model.runs_on_our_threads = AS_SHIPPED
    print("252-b16 float32, medians of", rounds, "rounds")
    first = next(iter(seconds.values()))
    for name, values in seconds.items():
        paired = statistics.median(v / f for v, f in zip(values, first))
        print(f"  {name:28s} {statistics.median(values):.4f} s  paired {paired:.3f}  "
              f"({', '.join(f'{s:.4f}' for s in values)})")


if __name__ == "__main__":
    main()
