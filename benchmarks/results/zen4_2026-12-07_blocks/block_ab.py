"""One-off A/B (2026-12-07, Zen 4 VM): the thread block sizes of conv2d (trick 2) in the step.

benchmarks/step.py's step (ours, float32, SGD) with each of the given settings in turn,
one step each per round (the order rotated every round), 0.3 s apart, after two warm-up
rounds. A setting is SHORT/LONG in MiB: conv2d._THREAD_BLOCK_BYTES (products of
K <= conv2d._SHORT_K) / conv2d._LONG_THREAD_BLOCK_BYTES (longer ones); a single number sets
both (before this session's change every product had 8 MiB: `8`). Prints the medians and,
for each setting, the median over rounds of its step / the first setting's step in the
same round. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/block_ab.py 572-b64 8,4/16 [rounds]
"""

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402


def main():
    size = sys.argv[1]
    mibs = sys.argv[2].split(",")
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    run = step.build_step("ours", size, "float32", 2)
    seconds = {mib: [] for mib in mibs}
    for r in range(rounds + 2):
        shift = r % len(mibs)
        for mib in mibs[shift:] + mibs[:shift]:
            short, _, long = mib.partition("/")
            conv2d._THREAD_BLOCK_BYTES = int(float(short) * 2**20)
            conv2d._LONG_THREAD_BLOCK_BYTES = int(float(long or short) * 2**20)
            time.sleep(0.3)
            t0 = time.perf_counter()
            run()
            if r >= 2:
                seconds[mib].append(time.perf_counter() - t0)
    print(size, "float32, thread blocks of", ", ".join(mibs), "MiB;", rounds, "rounds")
    first = seconds[mibs[0]]
    for mib, values in seconds.items():
        paired = statistics.median(v / f for v, f in zip(values, first))
        faster = sum(v < f for v, f in zip(values, first))
        print(f"  {mib:>6s} MiB  median {statistics.median(values):.3f} s  "
              f"vs {mibs[0]} MiB, paired median {paired:.3f} (faster in {faster} of "
              f"{rounds})  ({', '.join(f'{s:.3f}' for s in values)})")


if __name__ == "__main__":
    main()
