"""One-off measurement (2026-12-04 evening): conv2d on one of our threads vs two.

Every layer on our threads (conv2d._THREAD_BYTES = 0), 4 MiB blocks, BLAS held to one
thread; forward and backward of four base-32 layers with MINIMAL_UNET_THREADS 1 and 2.
Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    python benchmarks/results/epyc_2026-12-04_evening/thread_scaling.py
Numbers in README.md here.
"""

import os
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, ".")  # run from the repository root
sys.path.insert(0, str(Path(__file__).parent))  # dw_shift.py beside this file

from dw_shift import median_seconds  # noqa: E402

from minimal_unet.memory import keep_freed_memory  # noqa: E402
from minimal_unet.ops import conv2d  # noqa: E402


def main():
    keep_freed_memory()
    conv2d._THREAD_BYTES = 0  # every layer on our threads
    rng = np.random.default_rng(0)
    for C, F, H in [(32, 32, 570), (64, 128, 140), (128, 128, 102), (256, 256, 66)]:
        x = rng.standard_normal((1, C, H, H), dtype=np.float32)
        w = rng.standard_normal((F, C, 3, 3), dtype=np.float32)
        b = np.zeros(F, np.float32)
        y, cache = conv2d.conv2d_forward(x, w, b, 0)
        dy = rng.standard_normal(y.shape, dtype=np.float32)
        gflop = 2 * F * C * 9 * y.shape[2] * y.shape[3] / 1e9
        parts = []
        for threads in ("1", "2"):
            os.environ["MINIMAL_UNET_THREADS"] = threads
            with threadpool_limits(1, user_api="blas"):
                tf = median_seconds(conv2d.conv2d_forward, x, w, b, 0, reps=7)
                tb = median_seconds(conv2d.conv2d_backward, dy, cache, reps=7)
            parts.append(f"{threads} thread(s): forward {tf * 1e3:.1f} ms "
                         f"{gflop / tf:.0f} GFLOP/s, backward {tb * 1e3:.1f} ms "
                         f"{2 * gflop / tb:.0f} GFLOP/s")
        print(f"{C}->{F} @{H}: " + " | ".join(parts), flush=True)


if __name__ == "__main__":
    main()
