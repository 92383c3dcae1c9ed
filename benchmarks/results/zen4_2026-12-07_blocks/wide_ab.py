"""One-off A/B (2026-12-07, Zen 4 VM): conv2d's trick 8 (blocks gathered on the whole row
width) with this session's thread blocks. benchmarks/step.py's step, ours, float32, with
conv2d._WIDE_MAX_FILTERS at 64 (as shipped), 0 (trick 8 off) and 128 (on for products of
up to 128 filters); the three alternate, one step each per round (order rotated every
round), 0.3 s apart, after two warm-up rounds. Prints the medians and the paired median
(setting / shipped in the same round). Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/wide_ab.py 572-b32 [rounds]
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

SETTINGS = {"wide (shipped)": conv2d._WIDE_MAX_FILTERS, "no wide": 0, "wide to 128": 128}


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    run = step.build_step("ours", size, "float32", 2)
    names = list(SETTINGS)
    seconds = {name: [] for name in names}
    for r in range(rounds + 2):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            conv2d._WIDE_MAX_FILTERS = SETTINGS[name]
            time.sleep(0.3)
            t0 = time.perf_counter()
            run()
            if r >= 2:
                seconds[name].append(time.perf_counter() - t0)
    conv2d._WIDE_MAX_FILTERS = SETTINGS[names[0]]
    for name in names:
        paired = statistics.median(v / f for v, f in zip(seconds[name], seconds[names[0]]))
        print(name, f"{statistics.median(seconds[name]):.4f} paired {paired:.3f}",
              [round(s, 3) for s in seconds[name]])


if __name__ == "__main__":
    main()
