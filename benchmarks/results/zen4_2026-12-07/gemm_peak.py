"""One-off measurement (2026-12-07, Zen 4 VM): the practical float32 GEMM peak of this host.

One large square product (4096^3, 137 GFLOP) on 2 threads, NumPy's OpenBLAS beside
PyTorch's torch.mm, best of 5 after a warm-up. The im2col floor (floor_cpu.md) runs the
step's conv products at 176-188 GFLOP/s; this says how far that is from what a BLAS call
reaches on this host at all. Run from the repository root, nothing else running:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07/gemm_peak.py
Prints only (output copied to gemm_peak_output.txt).
"""

import timeit

import numpy as np
import torch
from threadpoolctl import threadpool_info

N = 4096


def best_seconds(f, repeat=5):
    """The fastest of `repeat` calls of f, after one warm-up call."""
    f()
    return min(timeit.repeat(f, number=1, repeat=repeat))


def main():
    torch.set_num_threads(2)
    a = np.random.default_rng(0).standard_normal((N, N), dtype=np.float32)
    b, c = a.copy(), np.empty_like(a)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    gflop = 2 * N**3 / 1e9
    t_numpy = best_seconds(lambda: np.matmul(a, b, out=c))
    t_torch = best_seconds(lambda: torch.mm(ta, tb))
    print(f"numpy/openblas {gflop / t_numpy:.0f} GFLOP/s, torch.mm {gflop / t_torch:.0f} "
          f"GFLOP/s ({N}^3, 2 threads)")
    print([(d["internal_api"], d.get("architecture"), d["num_threads"]) for d in threadpool_info()])


if __name__ == "__main__":
    main()
