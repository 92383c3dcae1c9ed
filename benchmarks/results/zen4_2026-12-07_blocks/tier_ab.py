"""One-off A/B (2026-12-07, Zen 4 VM): a third thread block size, 2 MiB for products of
K <= 288 (32 channels of 3x3), beside trick 2's 4 / 16 MiB. benchmarks/step.py's step,
ours, float32; the two alternate, one step each per round (order swapped every round),
0.3 s apart, after two warm-up rounds. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/tier_ab.py 572-b32 [rounds]
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

SHIPPED = conv2d._block_bytes


def three_tiers(cols_bytes, K):
    if conv2d._on_our_threads(cols_bytes) and K <= 288:
        return 2 << 20
    return SHIPPED(cols_bytes, K)


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    run = step.build_step("ours", size, "float32", 2)
    settings = {"two tiers": SHIPPED, "2 MiB for K<=288": three_tiers}
    names = list(settings)
    seconds = {name: [] for name in names}
    for r in range(rounds + 2):
        for name in (names if r % 2 else names[::-1]):
            conv2d._block_bytes = settings[name]
            time.sleep(0.3)
            t0 = time.perf_counter()
            run()
            if r >= 2:
                seconds[name].append(time.perf_counter() - t0)
    conv2d._block_bytes = SHIPPED
    for name in names:
        paired = statistics.median(v / f for v, f in zip(seconds[name], seconds[names[0]]))
        print(name, f"{statistics.median(seconds[name]):.3f} paired {paired:.3f}",
              [round(s, 3) for s in seconds[name]])


if __name__ == "__main__":
    main()
