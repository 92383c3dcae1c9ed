"""One-off A/B (2026-12-07 evening, Zen 1 VM): conv2d's trick 10 on or off for a whole
process (no step of the other setting in between, unlike `rows_ab.py`'s one-process
rounds, where an im2col step ran before each trick-10 step): the 572 / base-32 step, two
warm-up steps and 5 timed, 0.3 s apart, median; the shell alternates the processes.
float32 unless a third argument says float64.
    for r in 1 2 3; do for m in on off; do env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/results/zen1_2026-12-07/rows_procs_ab.py 572-b32 $m; done; done
"""

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402


def main():
    size, mode = sys.argv[1], sys.argv[2]
    dtype = sys.argv[3] if len(sys.argv) > 3 else "float32"
    conv2d._ROWS = mode == "on"
    run = step.build_step("ours", size, dtype, 2)
    seconds = []
    for i in range(7):
        time.sleep(0.3)
        t0 = time.perf_counter()
        run()
        if i >= 2:
            seconds.append(time.perf_counter() - t0)
    print(f"{size} {dtype} trick 10 {mode:3s}: median {statistics.median(seconds):.3f} s "
          f"({', '.join(f'{s:.3f}' for s in seconds)})", flush=True)


if __name__ == "__main__":
    main()
