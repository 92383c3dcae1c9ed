"""One-off probes (2026-12-07/08, Xeon VM, family 6 model 207), both cores, best of 5 (the
products) or 30 (the copies):
  1. the 32 -> 32 @570 forward's product, w (32, 288) @ cols (288, 322624), as one product
     and in blocks of N columns, in both orientations (w @ cols and cols^T @ w^T), GFLOP/s;
  2. the flipped, transposed kernel conv2d's correlation dx copies first,
     np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)), ms, for the shapes
     (F, C) of the deep layers (trick 11 skips it).
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-07/probes.py
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import best_ms  # noqa: E402


def product_orientations():
    F, K, N = 32, 288, 568 * 568
    rng = np.random.default_rng(0)
    w = rng.standard_normal((F, K), dtype=np.float32)
    cols = rng.standard_normal((K, N), dtype=np.float32)
    cols_t = np.ascontiguousarray(cols.T)
    out, out_t = np.empty((F, N), np.float32), np.empty((N, F), np.float32)
    flops = 2 * F * K * N
    print(f"1. w ({F}, {K}) @ cols ({K}, {N}), GFLOP/s")
    for block in (N, 65536, 16384, 4096, 2048):
        def forward(block=block):
            for s in range(0, N, block):
                np.matmul(w, cols[:, s:s + block], out=out[:, s:s + block])

        def transposed(block=block):
            for s in range(0, N, block):
                np.matmul(cols_t[s:s + block], w.T, out=out_t[s:s + block])

        rate = flops / best_ms(forward, 5) / 1e6
        print(f"   blocks of {block:6d} columns: w @ cols {rate:4.0f}"
              f"   cols^T @ w^T {flops / best_ms(transposed, 5) / 1e6:4.0f}", flush=True)


def flipped_kernel_copies():
    rng = np.random.default_rng(0)
    print("2. the flipped, transposed kernel's copy, ms")
    for F, C in [(128, 64), (256, 128), (256, 256), (512, 512), (1024, 1024)]:
        w = rng.standard_normal((F, C, 3, 3), dtype=np.float32)
        ms = best_ms(
            lambda w=w: np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)), 30)
        print(f"   w ({F}, {C}, 3, 3): {ms:6.3f}", flush=True)


if __name__ == "__main__":
    product_orientations()
    flipped_kernel_copies()
