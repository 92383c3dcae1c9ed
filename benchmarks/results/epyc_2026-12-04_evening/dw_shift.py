"""One-off measurement (2026-12-04 evening): dW without im2col, by shifted flat views.

For a valid 3x3 convolution, dw[:, :, i, j] = dy_wide (F, L) @ x_flat[:, s:s+L].T (L, C),
where x_flat is x (C, H*W) flattened, s = i*W + j, and dy_wide is dy (F, oH, oW) widened
with zero columns to (F, oH, W): the output columns v >= oW meet wrapped-around inputs and
are multiplied by those zeros. Nine products with the long inner dimension L and no
gather at all, against conv2d's blocked im2col + one product per block. Run from the
repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    python benchmarks/results/epyc_2026-12-04_evening/dw_shift.py
Numbers in README.md here.
"""

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, ".")  # run from the repository root

from minimal_unet.ops import conv2d  # noqa: E402

LAYERS = [(32, 32, 570), (64, 64, 282), (64, 128, 140), (128, 128, 102), (256, 256, 66),
          (512, 512, 30)]  # (C, F, H): 3x3 layers of the base-32 U-Net on a 572 tile


def median_seconds(f, *args, reps=5, **kwargs):
    """Median seconds of f(*args, **kwargs) over `reps` calls after one warm-up."""
    f(*args, **kwargs)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return sorted(times)[reps // 2]


def dw_shift(x, dy, kH=3, kW=3, R=None):
    """dw (F, C, kH, kW) of a valid convolution of x (C, H, W), by shifted flat views,
    R output rows at a time (None: all)."""
    C, H, W = x.shape
    F, oH, oW = dy.shape
    dy_wide = np.zeros((F, oH, W), x.dtype)  # (F, oH, W)
    dy_wide[:, :, :oW] = dy
    x_flat = x.reshape(C, H * W)
    R = oH if R is None else R
    out = np.zeros((kH, kW, F, C), x.dtype)
    for r0 in range(0, oH, R):
        rows = min(R, oH - r0)
        L = rows * W - (kW - 1) if r0 + rows == oH else rows * W  # stay inside x
        d = dy_wide[:, r0:r0 + rows].reshape(F, rows * W)[:, :L]
        for i in range(kH):
            for j in range(kW):
                s = (r0 + i) * W + j
                out[i, j] += d @ x_flat[:, s:s + L].T
    return out.transpose(2, 3, 0, 1)


def dw_im2col(x, dy, F, K):
    """conv2d's way, on this thread: 4 MiB im2col blocks, one product per block."""
    _, oH, oW = dy.shape
    blocks = conv2d._row_blocks(K, oH, oW, 4, conv2d._THREAD_BLOCK_BYTES)
    acc = np.zeros((K, F), np.float32)
    for r0, rows in blocks:
        x_rows = conv2d._padded_rows(x, 0, 0, r0, rows + 2, oW + 2)
        cols = conv2d._im2col_rows(x_rows, 3, 3, rows, oW)
        acc += cols @ dy.reshape(F, -1)[:, r0 * oW:(r0 + rows) * oW].T
    return acc


def main():
    rng = np.random.default_rng(0)
    for C, F, H in LAYERS:
        x = rng.standard_normal((C, H, H), dtype=np.float32)
        w = rng.standard_normal((F, C, 3, 3), dtype=np.float32)
        y, cache = conv2d.conv2d_forward(x[None], w, np.zeros(F, np.float32), 0)
        dy = rng.standard_normal(y.shape, dtype=np.float32)
        _, dw_ref, _ = conv2d.conv2d_backward(dy, cache)
        gflop = 2 * F * C * 9 * y.shape[2] * y.shape[3] / 1e9
        for R in (None, 8, 32):
            err = np.abs(dw_shift(x, dy[0], R=R) - dw_ref).max() / np.abs(dw_ref).max()
            with threadpool_limits(1, user_api="blas"):
                t1 = median_seconds(dw_shift, x, dy[0], R=R)
            with threadpool_limits(2, user_api="blas"):
                t2 = median_seconds(dw_shift, x, dy[0], R=R)
            print(f"{C}->{F} @{H} R={R}: shift dW 1 thread {t1 * 1e3:.1f} ms "
                  f"({gflop / t1:.0f} GFLOP/s), 2 threads {t2 * 1e3:.1f} ms; "
                  f"relative error {err:.1e}", flush=True)
        with threadpool_limits(1, user_api="blas"):
            t1 = median_seconds(dw_im2col, x, dy[0], F, C * 9)
        print(f"{C}->{F} @{H} im2col dW (4 MiB blocks) 1 thread {t1 * 1e3:.1f} ms "
              f"({gflop / t1:.0f} GFLOP/s)", flush=True)


if __name__ == "__main__":
    main()
