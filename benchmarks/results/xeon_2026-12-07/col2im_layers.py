"""One-off (2026-12-07 night, Xeon VM, family 6 model 207): conv2d's dx by the
correlation of the padded dy with the flipped kernel (trick 11 off) or by col2im (a
product, then nine shifted adds; trick 11 forced on for every layer), for every 3x3 layer
(but the first) of the three benchmark networks, each under its network's product
threading (`benchmarks/ops.py`'s `as_in_network`). Best of 20 calls back to back, ms;
the two results checked equal to float32 rounding.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/xeon_2026-12-07/col2im_layers.py
"""

import sys
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ops  # noqa: E402
from _timing import best_ms  # noqa: E402

from minimal_unet.ops import _col2im, conv2d  # noqa: E402


def main():
    rng = np.random.default_rng(0)
    rule = _col2im.applies
    for net in [(252, 16), (572, 32), (572, 64)]:
        print(f"{net[0]} / base {net[1]}, float32: dx ms, correlation | col2im | ratio | "
              "the shipped rule takes col2im")
        for C, F, H in ops.unet_conv_layers(*net)[1:]:
            w = rng.standard_normal((F, C, 3, 3), np.float32)
            dy = rng.standard_normal((1, F, H - 2, H - 2), np.float32)
            takes = rule(C, F, 3, 3, H - 2, H - 2)
            times, results = [], []
            for forced in (False, True):
                _col2im.applies = (lambda *a: True) if forced else (lambda *a: False)
                dx = partial(conv2d._dx_part, dy, w, 0, (1, C, H, H), True)
                run = ops.as_in_network(dx, net, 4)
                times.append(best_ms(run, 20 if H < 300 else 5))
                results.append(run())
            _col2im.applies = rule
            scale = np.abs(results[0]).max()
            assert np.abs(results[0] - results[1]).max() <= 1e-5 * scale * np.sqrt(9 * F)
            print(f"  {C:4d} -> {F:4d} @{H:3d}: {times[0]:8.3f} {times[1]:8.3f} "
                  f"{times[1] / times[0]:5.2f}  {'yes' if takes else ''}", flush=True)


if __name__ == "__main__":
    main()
