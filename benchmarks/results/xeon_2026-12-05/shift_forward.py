"""One-off measurement (2026-12-05, 13:20 UTC, Xeon VM): a valid 3x3 forward with no im2col.

x flattened to (C, H*W); for each of the nine taps (i, j) one product
w[:, :, i, j] (F, C) @ x_flat[:, s:s+L] (C, L), s = (r0+i)*W + j, a strided view that
BLAS reads in place, summed over the taps into rows of width W whose last 2 columns are
dropped (they wrapped around). No gather at all, but nine products with inner dimension C
instead of one with 9 C, and eight adds of the (F, L) partial sums. Against
conv2d_forward (blocked im2col), both on one thread, R = rows per block. Run from the
repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
    MINIMAL_UNET_THREADS=1 python benchmarks/results/xeon_2026-12-05/shift_forward.py
Output in shift_forward_output.txt; README.md here.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root
sys.path.insert(0, str(Path(__file__).parent))  # transpose.py beside this file

from transpose import median_ms  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402

conv2d._WORKERS = 1  # conv2d_forward on this thread only
LAYERS = [(32, 32, 390), (32, 64, 284), (64, 64, 282), (64, 128, 140), (128, 128, 138),
          (256, 256, 66), (64, 32, 392), (512, 512, 30)]  # (C, F, H), valid 3x3


def forward_shift(x, w, b, R):
    """y = conv2d_forward(x, w, b)[0] (valid 3x3) as nine shifted products per R-row block."""
    N, C, H, W = x.shape
    F = w.shape[0]
    oH, oW = H - 2, W - 2
    taps = np.ascontiguousarray(w.transpose(2, 3, 0, 1))  # (3, 3, F, C)
    y = np.empty((N, F, oH, oW), x.dtype)
    acc, tmp = np.empty(F * R * W, x.dtype), np.empty(F * R * W, x.dtype)
    for n in range(N):
        flat = x[n].reshape(C, H * W)
        for r0 in range(0, oH, R):
            rows = min(R, oH - r0)
            L = (rows - 1) * W + oW  # the last row stops at oW: no read past the image
            a = acc[:F * rows * W].reshape(F, rows * W)[:, :L]
            t = tmp[:F * rows * W].reshape(F, rows * W)[:, :L]
            for k, (i, j) in enumerate((i, j) for i in range(3) for j in range(3)):
                s = (r0 + i) * W + j
                np.matmul(taps[i, j], flat[:, s:s + L], out=a if k == 0 else t)
                if k:
                    a += t
            wide = acc[:F * rows * W].reshape(F, rows, W)
            np.add(wide[:, :, :oW], b[:, None, None], out=y[n, :, r0:r0 + rows])
    return y


def median_seconds(f, reps=7):
    """Median wall seconds of f() over `reps` calls after one warm-up (transpose.py's)."""
    return median_ms(f, reps) / 1e3


def main():
    rng = np.random.default_rng(0)
    for C, F, H in LAYERS:
        x = rng.standard_normal((1, C, H, H), dtype=np.float32)
        w = rng.standard_normal((F, C, 3, 3), dtype=np.float32) * 0.05
        b = rng.standard_normal(F, dtype=np.float32)
        y0 = conv2d.conv2d_forward(x, w, b)[0]
        t0 = median_seconds(lambda x=x, w=w, b=b: conv2d.conv2d_forward(x, w, b))
        flops = 2 * F * C * 9 * (H - 2) ** 2
        cells = []
        for target in (2**17, 2**18, 2**19, 2**20, 2**21):  # bytes of one block's output
            R = max(1, min(H - 2, target // (F * H * 4)))
            err = np.abs(forward_shift(x, w, b, R) - y0).max()
            t1 = median_seconds(lambda x=x, w=w, b=b, R=R: forward_shift(x, w, b, R))
            cells.append(f"R{R}:{t1 * 1e3:.1f}ms({flops / t1 / 1e9:.0f})")
        print(f"{C}->{F} @{H}: im2col {t0 * 1e3:.1f}ms ({flops / t0 / 1e9:.0f} GF/s) | "
              + " ".join(cells), f"err {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
