"""One-off (2026-12-07 night, Xeon VM, family 6 model 207): each 3x3 layer of the 252 /
base-16 U-Net, forward + backward (dx included), ours as the network runs it (the
product threading `benchmarks/ops.py` uses), beside PyTorch's conv2d forward + backward
and beside the bare BLAS products of an im2col convolution of that shape (forward
w @ cols, dw dy @ cols^T, dx w^T @ dy, on pre-made operands: no gather). Best of 20 runs
back to back (no pause: the step runs its ops back to back too), ms.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/xeon_2026-12-07/layers252.py [TILE BASE]
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ops  # noqa: E402
from _timing import best_ms  # noqa: E402


def bare_products(C, F, H, rng):
    K, N = 9 * C, (H - 2) ** 2
    w, cols = rng.standard_normal((F, K), np.float32), rng.standard_normal((K, N), np.float32)
    dy = rng.standard_normal((F, N), np.float32)

    def run():
        np.matmul(w, cols)
        np.matmul(dy, cols.T)
        np.matmul(w.T, dy)

    return run


def main():
    import torch

    torch.set_num_threads(2)
    tile, base = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (252, 16)
    ops.NET, ops.NET_LAYERS = (tile, base), ops.unet_conv_layers(tile, base)
    rng = np.random.default_rng(0)
    cases = ops.make_cases(np.dtype(np.float32), torch, ["conv"], quick=False)
    totals = np.zeros(3)
    print(f"{tile} / base {base}, float32, 2 threads, best of 20 back to back, ms")
    for (C, F, H), (name, _flops, ours, theirs) in zip(ops.NET_LAYERS, cases):
        row = [best_ms(ours), best_ms(theirs), best_ms(bare_products(C, F, H, rng))]
        totals += row
        print(f"{name:22s} ours {row[0]:7.2f}  torch {row[1]:7.2f}  products {row[2]:7.2f}"
              f"  ours/torch {row[0] / row[1]:5.2f}  ours/products {row[0] / row[2]:5.2f}")
    print(f"{'all':22s} ours {totals[0]:7.2f}  torch {totals[1]:7.2f}  products "
          f"{totals[2]:7.2f}  ours/torch {totals[0] / totals[1]:5.2f}  ours/products "
          f"{totals[0] / totals[2]:5.2f}")


if __name__ == "__main__":
    main()
