"""One-off (2026-12-08, Xeon VM, family 6 model 207): trick 9 (Winograd, chosen on the Zen
4 VM) on this Intel host, per layer. Every 3x3 layer of the 572 / base-32 and paper nets
where `_winograd.applies` (forward or dx), forward + backward (dx too) under the net's
product threading, `_winograd._ON` True and False alternating round by round, 5 rounds of
5 calls each way (after one call); per layer the median over rounds of each way's best
call, ms, and the rounds where the layer was faster without it (then trick 10 or im2col).
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-08/winograd_layers.py
"""

import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xeon_2026-12-07"))

import ops  # noqa: E402
from _timing import best_ms  # noqa: E402

from minimal_unet.ops import _winograd, conv2d  # noqa: E402


def main():
    rng = np.random.default_rng(0)
    for net in ((572, 32), (572, 64)):
        totals = {True: 0.0, False: 0.0}
        print(f"{net[0]} / base {net[1]}, float32", flush=True)
        for C, F, H in ops.unet_conv_layers(*net):
            o = H - 2
            if not (_winograd.applies(C, F, 3, 3, o, o) or _winograd.applies(F, C, 3, 3, H, H)):
                continue
            x = rng.standard_normal((1, C, H, H), np.float32)
            w = rng.standard_normal((F, C, 3, 3), np.float32)
            b = np.zeros(F, np.float32)
            dy = rng.standard_normal((1, F, o, o), np.float32)

            def layer(x=x, w=w, b=b, dy=dy):
                conv2d.conv2d_backward(dy, conv2d.conv2d_forward(x, w, b)[1])

            run = ops.as_in_network(layer, net, 4)
            best = {True: [], False: []}
            for _ in range(5):
                for on in (True, False):
                    _winograd._ON = on
                    best[on].append(best_ms(run, 5))
            _winograd._ON = True
            wins = sum(off < on for on, off in zip(best[True], best[False]))
            med = {on: statistics.median(v) for on, v in best.items()}
            for on in totals:
                totals[on] += med[on]
            print(f"  {C:4d} -> {F:4d} @{H:3d}: trick 9 {med[True]:7.2f}  without "
                  f"{med[False]:7.2f}  ratio {med[False] / med[True]:5.3f}  faster without "
                  f"in {wins} of 5", flush=True)
        print(f"  all: trick 9 {totals[True]:7.2f}  without {totals[False]:7.2f}  "
              f"ratio {totals[False] / totals[True]:5.3f}", flush=True)


if __name__ == "__main__":
    main()
