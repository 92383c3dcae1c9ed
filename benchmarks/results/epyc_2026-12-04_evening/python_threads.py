"""One-off measurement (2026-12-04 evening): do products and gathers scale on Python threads?

im2col-like blocks of three layers' shapes (4.0 MiB, 17.6 MiB and 3.5 MiB; one fresh
buffer per block), each product on one BLAS thread; the blocks run in order on this thread, then
over two pool threads: the product alone, the im2col-like strided copy alone, and both.
Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    python benchmarks/results/epyc_2026-12-04_evening/python_threads.py
Numbers in README.md here.
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))  # dw_shift.py beside this file

from dw_shift import median_seconds  # noqa: E402

# (F, K, rows, oW, blocks): 128->128 @102-like, 32->32 @570-like, 256->256 @66-like
CASES = [(128, 1152, 7, 130, 12), (32, 288, 32, 500, 24), (256, 2304, 4, 100, 10)]


def measure(pool, rng, F, K, R, oW, n_blocks):
    """Print the three timings for one block shape."""
    N, C = R * oW, K // 9
    w = rng.standard_normal((F, K), dtype=np.float32)
    cols = [rng.standard_normal((K, N), dtype=np.float32) for _ in range(n_blocks)]
    outs = [np.empty((F, N), np.float32) for _ in range(n_blocks)]
    src = rng.standard_normal((C, R + 2, oW + 2), dtype=np.float32)
    sC, sH, sW = src.strides
    windows = as_strided(src, shape=(C, 3, 3, R, oW), strides=(sC, sH, sW, sH, sW))

    def product(i):
        np.matmul(w, cols[i], out=outs[i])

    def gather(i):
        np.copyto(cols[i].reshape(C, 3, 3, R, oW), windows)

    def both(i):
        gather(i)
        product(i)

    def in_order(task):
        for i in range(n_blocks):
            task(i)

    def on_two(task):
        list(pool.map(task, range(n_blocks)))

    gflop = 2 * F * K * N * n_blocks / 1e9
    with threadpool_limits(1, user_api="blas"):
        for name, task in [("product", product), ("gather", gather), ("both", both)]:
            t1 = median_seconds(in_order, task, reps=7)
            t2 = median_seconds(on_two, task, reps=7)
            rate = f" ({gflop / t2:.0f} GFLOP/s)" if task is product else ""
            print(f"F {F} K {K} N {N} x {n_blocks} {name}: 1 thread {t1 * 1e3:.1f} ms, "
                  f"2 threads {t2 * 1e3:.1f} ms, scaling {t1 / t2:.2f}x{rate}", flush=True)



def main():
    rng = np.random.default_rng(0)
    pool = ThreadPoolExecutor(2)
    for case in CASES:
        measure(pool, rng, *case)


if __name__ == "__main__":
    main()
