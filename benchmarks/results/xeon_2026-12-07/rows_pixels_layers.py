"""One-off (2026-12-08, Xeon VM, family 6 model 207): the layers of the 252 / base-16 net
that trick 10 took and a threshold of 32 x 32 output pixels would leave to plain im2col,
forward + backward (dx too), under the net's product threading, `_ROWS_MIN_PIXELS` 0 and
1024 alternating call by call, 7 rounds of 30 calls each way; per layer the median over
rounds of each way's best of 30 calls, ms, and the rounds where 1024 was faster.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-07/rows_pixels_layers.py
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import ops  # noqa: E402

from minimal_unet.ops import _conv_rows, conv2d  # noqa: E402

NET = (252, 16)


def main():
    rng = np.random.default_rng(0)
    totals = {0: 0.0, 1024: 0.0}
    for C, F, H in ops.unet_conv_layers(*NET)[1:]:
        if not (16 <= C <= 128 and (H - 2) ** 2 < 1024):
            continue
        x = rng.standard_normal((1, C, H, H), np.float32)
        w = rng.standard_normal((F, C, 3, 3), np.float32)
        b = np.zeros(F, np.float32)
        dy = rng.standard_normal((1, F, H - 2, H - 2), np.float32)

        def layer(x=x, w=w, b=b, dy=dy):
            conv2d.conv2d_backward(dy, conv2d.conv2d_forward(x, w, b)[1])

        run = ops.as_in_network(layer, NET, 4)
        best = {0: [], 1024: []}
        for _ in range(7):
            for pixels in (0, 1024):
                _conv_rows._MIN_PIXELS = pixels
                run()
                times = []
                for _ in range(30):
                    start = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - start)
                best[pixels].append(1e3 * min(times))
        _conv_rows._MIN_PIXELS = 0
        wins = sum(b < a for a, b in zip(best[0], best[1024]))
        med = {p: statistics.median(v) for p, v in best.items()}
        for p in totals:
            totals[p] += med[p]
        print(f"  {C:4d} -> {F:4d} @{H:3d}: trick 10 {med[0]:6.3f}  im2col {med[1024]:6.3f}  "
              f"ratio {med[1024] / med[0]:5.3f}  im2col faster in {wins} of 7", flush=True)
    print(f"  all: trick 10 {totals[0]:6.3f}  im2col {totals[1024]:6.3f}  "
          f"ratio {totals[1024] / totals[0]:5.3f}")


if __name__ == "__main__":
    main()
