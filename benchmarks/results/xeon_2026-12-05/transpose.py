"""One-off measurement (2026-12-05): dw^T (K, F) -> dw (F, K), one transposed copy vs slabs.

conv2d_backward computes dw transposed (its trick 4) and copies it back. One
np.ascontiguousarray(a.T) of a (K, F) float32 matrix with F a power of two reads K values
a row apart per output row; conv2d._transposed copies 64 rows of a at a time. Also the
first layer's backward with and without dx (need_dx). Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    python benchmarks/results/xeon_2026-12-05/transpose.py
"""

import sys
import time

import numpy as np

sys.path.insert(0, ".")  # run from the repository root

from minimal_unet.memory import keep_freed_memory  # noqa: E402
from minimal_unet.ops import conv2d  # noqa: E402


def median_ms(f, repeat=9):
    f()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return 1e3 * sorted(times)[repeat // 2]


def main():
    keep_freed_memory()
    rng = np.random.default_rng(0)
    print("dw^T (K, F) -> (F, K), float32, median ms:")
    for K, F in [(4608, 512), (2304, 512), (4608, 256), (2304, 256), (1152, 128), (576, 64)]:
        a = rng.standard_normal((K, F), dtype=np.float32)
        whole = median_ms(lambda a=a: np.ascontiguousarray(a.T))
        slabs = median_ms(lambda a=a: conv2d._transposed(a))
        print(f"  K {K} F {F}: one copy {whole:.2f}, slabs of 64 rows {slabs:.2f}")
    print("first layer backward, 1 -> F channels, float32, median ms:")
    for F, H in [(32, 572), (64, 572), (16, 252)]:
        x = rng.standard_normal((1, 1, H, H), dtype=np.float32)
        w = rng.standard_normal((F, 1, 3, 3), dtype=np.float32)
        y, cache = conv2d.conv2d_forward(x, w, np.zeros(F, np.float32))
        dy = rng.standard_normal(y.shape, dtype=np.float32)
        full = median_ms(lambda dy=dy, cache=cache: conv2d.conv2d_backward(dy, cache))
        no_dx = median_ms(lambda dy=dy, cache=cache: conv2d.conv2d_backward(
            dy, cache, need_dx=False))
        print(f"  1->{F} @{H}: with dx {full:.1f}, need_dx=False {no_dx:.1f}")


if __name__ == "__main__":
    main()
