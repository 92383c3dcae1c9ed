"""One-off (2026-12-07 night, Zen 4 VM): dL/dw (conv2d_backward without dx) of the 3x3
layers that take trick 9, of the 572 / base-32 net and then of the paper's base-64 net,
by Winograd's F(3x3, 2x2) (`conv2d._WINOGRAD_DW`) and by im2col (with trick 7 where it
applies), every product on our two threads, in turn, best of 5, ms.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_dw_layers.py
"""

import time

import numpy as np

from minimal_unet.ops import _threads, conv2d

# (C, F, input side): base 32, then base 64 (valid convolutions, 572 tile)
LAYERS = [(128, 128, 138), (128, 256, 68), (256, 256, 66), (512, 256, 56), (256, 256, 54),
          (256, 128, 104), (128, 128, 102), (128, 64, 200),
          (128, 128, 282), (128, 256, 140), (256, 256, 138), (256, 512, 68), (512, 512, 66),
          (1024, 512, 56), (512, 512, 54), (512, 256, 104), (256, 256, 102), (256, 128, 200),
          (128, 128, 198)]


def main():
    rng = np.random.default_rng(0)
    print("float32, every product on our threads, best of 5, ms: im2col | Winograd")
    with _threads.every_product_on_our_threads():
        for C, F, side in LAYERS:
            assert conv2d._winograd_applies(C, F, 3, 3, side - 2, side - 2)
            x = rng.standard_normal((1, C, side, side)).astype(np.float32)
            w = (rng.standard_normal((F, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
            dy = rng.standard_normal((1, F, side - 2, side - 2)).astype(np.float32)
            _, cache = conv2d.conv2d_forward(x, w, np.zeros(F, np.float32))
            best, dws = {}, {}
            for _ in range(5):
                for on in (False, True):
                    conv2d._WINOGRAD_DW = on
                    t0 = time.perf_counter()
                    dws[on] = conv2d.conv2d_backward(dy, cache, need_dx=False)[1]
                    best[on] = min(best.get(on, np.inf), time.perf_counter() - t0)
            conv2d._WINOGRAD_DW = True
            error = np.abs(dws[True] - dws[False]).max() / np.abs(dws[False]).max()
            print(f"  {C:4d} -> {F:4d} @{side:3d}: {best[False] * 1e3:6.1f} | "
                  f"{best[True] * 1e3:6.1f}  ratio {best[True] / best[False]:.3f}  "
                  f"(max difference {error:.1e} of the largest)", flush=True)


if __name__ == "__main__":
    main()
