"""One-off measurement (2026-12-07 evening, Zen 4 VM): the rate of every conv2d product
in a training step, on ONE thread, against one large product's rate.

benchmarks/step.py's step (ours, float32) with MINIMAL_UNET_THREADS=1 and one BLAS thread,
conv2d's `np.matmul` wrapped in a timer keyed by the product's (rows, inner length), 3
steps after two warm-ups. Prints per product shape: seconds per step, GFLOP/s, and the
time it would lose against 2048^3's rate measured first in the same process; then the
sums. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
        MINIMAL_UNET_THREADS=1 python \
        benchmarks/results/zen4_2026-12-07_evening/product_rates.py 572-b32
"""

import collections
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402


def big_rate(n=2048, reps=5):
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    c = a @ a
    best = min(_timed(lambda: np.matmul(a, a, out=c)) for _ in range(reps))
    return 2 * n**3 / best


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main():
    size, reps = sys.argv[1], 3
    peak = big_rate()
    seconds, flops = collections.defaultdict(float), collections.defaultdict(float)

    def matmul(a, b, out=None):
        t0 = time.perf_counter()
        result = np.matmul(a, b, out=out)
        key = (a.shape[-2], a.shape[-1])  # (rows of the output, inner length)
        seconds[key] += time.perf_counter() - t0
        flops[key] += 2.0 * a.shape[-2] * a.shape[-1] * b.shape[-1] * (
            a.shape[0] if a.ndim == 3 else 1)
        return result

    fake = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    fake.matmul = matmul
    conv2d.np = fake
    run = step.build_step("ours", size, "float32", 1)
    run()
    run()
    seconds.clear()
    flops.clear()
    t0 = time.perf_counter()
    for _ in range(reps):
        run()
    total = (time.perf_counter() - t0) / reps
    print(f"{size}, one thread: step {total:.3f} s; 2048^3 product {peak / 1e9:.1f} GFLOP/s")
    lost = 0.0
    for key, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        rate = flops[key] / s
        lost_key = (s - flops[key] / peak) / reps
        lost += lost_key
        print(f"  ({key[0]:5d} x {key[1]:5d}) @ ...  {s / reps * 1e3:7.1f} ms  "
              f"{rate / 1e9:6.1f} GFLOP/s  lost {lost_key * 1e3:6.1f} ms")
    print(f"  conv2d products {sum(seconds.values()) / reps:.3f} s, "
          f"{sum(flops.values()) / reps / 1e9:.1f} GFLOP; lost against 2048^3's rate "
          f"{lost:.3f} s")


if __name__ == "__main__":
    main()
