"""One-off measurement (2026-12-04 evening): OpenBLAS's own rate on conv-like products.

One np.matmul per shape, on one and on two BLAS threads, in the orientations conv2d uses
(w @ cols forward, cols @ dy^T for dw) and their transposes. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    python benchmarks/results/epyc_2026-12-04_evening/gemm_rates.py
Numbers in README.md here.
"""

import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))  # dw_shift.py beside this file

from dw_shift import median_seconds  # noqa: E402

SHAPES = [(128, 1152, 2500), (128, 1152, 10000), (32, 288, 16000), (64, 576, 8000),
          (256, 2304, 1000), (512, 4608, 900)]  # (F, K, N): y (F, N) = w (F, K) @ cols (K, N)


def main():
    rng = np.random.default_rng(0)
    for F, K, N in SHAPES:
        w = rng.standard_normal((F, K), dtype=np.float32)
        cols = rng.standard_normal((K, N), dtype=np.float32)
        cols_t, w_t = np.ascontiguousarray(cols.T), np.ascontiguousarray(w.T)
        dy = rng.standard_normal((F, N), dtype=np.float32)
        out, out_t = np.empty((F, N), np.float32), np.empty((N, F), np.float32)
        gflop = 2 * F * K * N / 1e9
        for threads in (1, 2):
            with threadpool_limits(threads, user_api="blas"):
                rates = [gflop / median_seconds(np.matmul, a, b, **kw, reps=7) for a, b, kw in
                         [(w, cols, {"out": out}), (cols_t, w_t, {"out": out_t}),
                          (cols, dy.T, {}), (dy, cols_t, {})]]
            print(f"F {F} K {K} N {N}, {threads} thread(s): w@cols {rates[0]:.0f}, "
                  f"cols^T@w^T {rates[1]:.0f}, cols@dy^T {rates[2]:.0f}, "
                  f"dy@cols^T {rates[3]:.0f} GFLOP/s", flush=True)


if __name__ == "__main__":
    main()
