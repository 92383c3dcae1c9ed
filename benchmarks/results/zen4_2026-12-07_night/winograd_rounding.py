"""One-off (2026-12-07 night): how far conv2d's float32 forward and dx land from the float64
result (the same inputs, in float64), with trick 9 (Winograd) and with im2col, at the
572 / base-32 U-Net layers that take trick 9; max |error| / max |float64 result|.
    python benchmarks/results/zen4_2026-12-07_night/winograd_rounding.py
"""

import numpy as np

from minimal_unet.ops import conv2d

LAYERS = [(128, 128, 138), (128, 256, 68), (256, 256, 66), (512, 256, 56), (256, 128, 104),
          (128, 64, 200)]


def main():
    rng = np.random.default_rng(0)
    print("layer: forward / dx error, Winograd | im2col")
    for C, F, side in LAYERS:
        x = np.maximum(rng.standard_normal((1, C, side, side)), 0)  # post-ReLU, as in the net
        w = rng.standard_normal((F, C, 3, 3)) * np.sqrt(2 / (9 * C))  # He init
        b = np.zeros(F)
        dy = rng.standard_normal((1, F, side - 2, side - 2)) * 1e-3
        y64, c64 = conv2d.conv2d_forward(x, w, b)
        dx64 = conv2d.conv2d_backward(dy, c64)[0]
        errors = []
        for on in (True, False):
            conv2d._WINOGRAD = on
            y32, c32 = conv2d.conv2d_forward(*(a.astype(np.float32) for a in (x, w, b)))
            dx32 = conv2d.conv2d_backward(dy.astype(np.float32), c32)[0]
            errors += [np.abs(y32 - y64).max() / np.abs(y64).max(),
                       np.abs(dx32 - dx64).max() / np.abs(dx64).max()]
        conv2d._WINOGRAD = True
        print(f"  {C:4d} -> {F:4d} @{side:3d}: {errors[0]:.1e} / {errors[1]:.1e} | "
              f"{errors[2]:.1e} / {errors[3]:.1e}")


if __name__ == "__main__":
    main()
