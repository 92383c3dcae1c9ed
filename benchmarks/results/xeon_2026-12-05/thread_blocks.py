"""One-off A/B (2026-12-05 evening): conv2d's block size when every layer's blocks go to
our threads, one layer at a time, forward + backward, in one process.

Variants: "default" (the committed settings), and _THREAD_BYTES = 0 (every layer on our
threads) with _THREAD_BLOCK_BYTES of 8, 2, 1 and 0.5 MiB. Medians of 7 rounds, each call
after a 0.1 s pause. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/xeon_2026-12-05/thread_blocks.py
Output in thread_blocks_output.txt here.
"""

import time
from functools import partial

import numpy as np

from minimal_unet.ops import conv2d

LAYERS = [(16, 16, 250), (16, 32, 124), (32, 32, 122), (64, 64, 58), (32, 32, 390),
          (64, 128, 140), (128, 128, 138), (512, 512, 30)]  # (C, F, input size)
VARIANTS = {"default": (conv2d._THREAD_BLOCK_BYTES, conv2d._THREAD_BYTES),
            **{f"all_{mib}MiB": (int(mib * 2**20), 0) for mib in (8, 2, 1, 0.5)}}


def forward_backward(x, w, b, dy, cache):
    conv2d.conv2d_forward(x, w, b)
    conv2d.conv2d_backward(dy, cache)


def main():
    rng = np.random.default_rng(0)
    for C, F, H in LAYERS:
        x = rng.standard_normal((1, C, H, H), dtype=np.float32)
        w = rng.standard_normal((F, C, 3, 3), dtype=np.float32) * 0.05
        b = np.zeros(F, np.float32)
        y, cache = conv2d.conv2d_forward(x, w, b)
        dy = rng.standard_normal(y.shape, dtype=np.float32)

        layer = partial(forward_backward, x, w, b, dy, cache)

        times = {name: [] for name in VARIANTS}
        for name in VARIANTS:  # warm-up: scratch buffers
            conv2d._THREAD_BLOCK_BYTES, conv2d._THREAD_BYTES = VARIANTS[name]
            layer()
        for _ in range(7):
            for name in VARIANTS:
                conv2d._THREAD_BLOCK_BYTES, conv2d._THREAD_BYTES = VARIANTS[name]
                time.sleep(0.1)
                start = time.perf_counter()
                layer()
                times[name].append(time.perf_counter() - start)
        print(f"{C}->{F} @{H} ms:", "  ".join(f"{name} {np.median(t) * 1e3:.1f}"
                                               for name, t in times.items()))


if __name__ == "__main__":
    main()
