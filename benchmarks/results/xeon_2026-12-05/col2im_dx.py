"""One-off comparison (2026-12-05 evening): conv2d's dx (a gathered correlation of the
padded dy with the flipped kernel) against col2im (dcols = w^T @ dy, then nine shifted
adds into dx), whole-layer and in row blocks of R output rows.

Medians of 7 calls, 0.05 s apart; the blocked col2im is checked against conv2d_backward.
Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/xeon_2026-12-05/col2im_dx.py
Output in col2im_dx_output.txt here.
"""

import time
from functools import partial

import numpy as np

from minimal_unet.ops import conv2d

LAYERS = [(64, 128, 140), (32, 64, 284), (128, 256, 68), (32, 32, 390)]  # (C, F, size)


def median_ms(f, n=7):
    f()
    times = []
    for _ in range(n):
        time.sleep(0.05)
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return np.median(times) * 1e3


def col2im_dx(w_t, dy_flat, C, H, oH, rows):
    """dx (C, H, H) of a valid 3x3 conv: per block of `rows` dy rows, dcols = w_t @ dy
    (C*9, rows*oH), added into dx at its nine offsets."""
    dx = np.zeros((C, H, H), np.float32)
    buf = np.empty((C * 9, rows * oH), np.float32)
    for r0 in range(0, oH, rows):
        r = min(rows, oH - r0)
        dcols = buf[:, :r * oH]
        np.matmul(w_t, dy_flat[:, r0 * oH:(r0 + r) * oH], out=dcols)
        d5 = dcols.reshape(C, 3, 3, r, oH)
        for i in range(3):
            for j in range(3):
                dx[:, r0 + i:r0 + i + r, j:j + oH] += d5[:, i, j]
    return dx


def main():
    rng = np.random.default_rng(0)
    for C, F, H in LAYERS:
        x = rng.standard_normal((1, C, H, H), dtype=np.float32)
        w = rng.standard_normal((F, C, 3, 3), dtype=np.float32) * 0.05
        y, cache = conv2d.conv2d_forward(x, w, np.zeros(F, np.float32))
        dy = rng.standard_normal(y.shape, dtype=np.float32)
        oH = H - 2
        w_flip = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(C, -1))
        dx = np.empty((1, C, H, H), np.float32)
        ours = median_ms(partial(conv2d._correlate, dy, 2, 2, w_flip, 3, 3, dx))
        w_t = np.ascontiguousarray(w.reshape(F, C * 9).T)  # (C*9, F)
        dy_flat = dy[0].reshape(F, -1)
        blocked = partial(col2im_dx, w_t, dy_flat, C, H, oH)  # blocked(rows)
        line = (f"{C}->{F} @{H}: ours {ours:.1f} ms, "
                f"col2im whole {median_ms(partial(blocked, oH)):.1f}")
        for rows in (4, 16, 64):
            line += f", R {rows} {median_ms(partial(blocked, rows)):.1f}"
        reference = conv2d.conv2d_backward(dy, cache)[0][0]
        error = np.abs(blocked(16) - reference).max()
        print(line, f"(max |diff| {error:.1e} of max |dx| {np.abs(reference).max():.1f})")


if __name__ == "__main__":
    main()
