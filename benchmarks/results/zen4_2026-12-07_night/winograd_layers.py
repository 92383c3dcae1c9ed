"""One-off (2026-12-07 night, Zen 4 VM): each 3x3 layer of the 572 / base-32 U-Net,
forward + backward (dx too, but not for the first layer), as the network runs it (every
product on our two threads), with conv2d's trick 9 (Winograd's F(2x2, 3x3) for the
forward and dx products) on and off in turn, 5 rounds, the best of each. "everywhere":
trick 9's thresholds (input channels, filters, tiles) lowered to 1, so that every 3x3
product with whole 2x2 tiles takes it; else as shipped.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_layers.py [float32|float64] \
        [everywhere]
"""

import sys
import time

import numpy as np

from minimal_unet.ops import _threads, conv2d

# (C, F, input side) of the 572 / base-32 net's 3x3 layers (valid convolutions)
LAYERS = [(1, 32, 572), (32, 32, 570), (32, 64, 284), (64, 64, 282), (64, 128, 140),
          (128, 128, 138), (128, 256, 68), (256, 256, 66), (256, 512, 32), (512, 512, 30),
          (512, 256, 56), (256, 256, 54), (256, 128, 104), (128, 128, 102), (128, 64, 200),
          (64, 64, 198), (64, 32, 392), (32, 32, 390)]


def compare(flag, label, dtype):
    """Each layer forward + backward with conv2d's `flag` (a module attribute) on and off in
    turn, best of 5, printed in ms beside the ratio; the flag is left on."""
    rng = np.random.default_rng(0)
    total = {True: 0.0, False: 0.0}
    with _threads.every_product_on_our_threads():
        for C, F, side in LAYERS:
            x = rng.standard_normal((1, C, side, side)).astype(dtype)
            w = (rng.standard_normal((F, C, 3, 3)) / np.sqrt(9 * C)).astype(dtype)
            b = np.zeros(F, dtype)
            dy = rng.standard_normal((1, F, side - 2, side - 2)).astype(dtype)
            best = {True: np.inf, False: np.inf}
            for _ in range(5):
                for on in (True, False):
                    setattr(conv2d, flag, on)
                    t0 = time.perf_counter()
                    _, cache = conv2d.conv2d_forward(x, w, b)
                    conv2d.conv2d_backward(dy, cache, need_dx=C > 1)
                    best[on] = min(best[on], time.perf_counter() - t0)
            setattr(conv2d, flag, True)
            for on in best:
                total[on] += best[on]
            print(f"  {C:4d} -> {F:4d} @{side:3d}: im2col {best[False] * 1e3:7.1f}  "
                  f"{label} {best[True] * 1e3:7.1f}  ratio {best[True] / best[False]:.3f}",
                  flush=True)
    print(f"  all: im2col {total[False] * 1e3:.1f}  {label} {total[True] * 1e3:.1f}  "
          f"ratio {total[True] / total[False]:.3f}")


def main():
    dtype = np.dtype(sys.argv[1] if len(sys.argv) > 1 else "float32")
    if "everywhere" in sys.argv[2:]:
        conv2d._WINOGRAD_MIN_C = conv2d._WINOGRAD_MIN_F = conv2d._WINOGRAD_MIN_TILES = 1
    conv2d._ROWS = False  # im2col as it was that night (trick 10 came after)
    print(f"{dtype}, every product on our threads ({_threads.workers()}), best of 5, ms; "
          f"trick 9 from {conv2d._WINOGRAD_MIN_C} input channels, {conv2d._WINOGRAD_MIN_F} "
          f"filters, {conv2d._WINOGRAD_MIN_TILES} tiles")
    compare("_WINOGRAD", "winograd", dtype)


if __name__ == "__main__":
    main()
