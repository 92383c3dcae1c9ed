"""One-off measurement (2026-12-05, Xeon VM): the product rate NumPy's BLAS can give us,
beside PyTorch's product and PyTorch's convolution on the same shapes.

For each 3x3 layer shape of the base-32 U-Net on a 572 tile (forward: y (F, N) = w (F, K)
@ cols (K, N), K = 9 C, N = oH * oW), on two threads:
  - np.matmul (NumPy's OpenBLAS), the product our im2col convolution is built on;
  - torch.matmul of the same matrices (PyTorch's own BLAS);
  - torch's conv2d forward of that layer (oneDNN; no gather);
and one square 4096 product for the machine's scale. GFLOP/s = 2 F K N / median seconds.
Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 \
    python benchmarks/results/xeon_2026-12-05/gemm_ceiling.py
Numbers in README.md here.
"""

import os
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_info

sys.path.insert(0, str(Path(__file__).parent))  # transpose.py beside this file

from transpose import median_ms  # noqa: E402

LAYERS = [(32, 32, 570), (32, 64, 284), (64, 64, 282), (64, 128, 140), (128, 128, 138),
          (128, 256, 68), (256, 256, 66), (512, 512, 30), (64, 32, 392), (32, 32, 390)]
# (C, F, H): C -> F channels, H x H input, valid 3x3


def median_seconds(f, reps=7):
    """Median wall seconds of f() over `reps` calls after one warm-up (transpose.py's)."""
    return median_ms(f, reps) / 1e3


def main():
    torch.set_num_threads(2)
    blas = [(i["internal_api"], i["version"], i.get("architecture"), i["num_threads"])
            for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"numpy BLAS {blas}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"loadavg {os.getloadavg()}")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, 4096), dtype=np.float32)
    gflop = 2 * 4096**3 / 1e9
    ta = torch.from_numpy(a)
    print(f"square 4096: numpy {gflop / median_seconds(lambda: a @ a, 3):.0f}, "
          f"torch {gflop / median_seconds(lambda: ta @ ta, 3):.0f} GFLOP/s")
    print("layer | numpy w@cols | torch w@cols | torch conv2d fwd  (GFLOP/s)")
    for C, F, H in LAYERS:
        oH = H - 2
        K, N = 9 * C, oH * oH
        w = rng.standard_normal((F, K), dtype=np.float32)
        cols = rng.standard_normal((K, N), dtype=np.float32)
        out = np.empty((F, N), np.float32)
        tw, tcols = torch.from_numpy(w), torch.from_numpy(cols)
        tout = torch.empty(F, N)
        x = torch.randn(1, C, H, H)
        k = torch.randn(F, C, 3, 3)
        gflop = 2 * F * K * N / 1e9
        with torch.no_grad():
            rates = [gflop / median_seconds(f) for f in (
                partial(np.matmul, w, cols, out=out),
                partial(torch.matmul, tw, tcols, out=tout),
                partial(torch.nn.functional.conv2d, x, k))]
        print(f"{C}->{F} @{H} | {rates[0]:.0f} | {rates[1]:.0f} | {rates[2]:.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
