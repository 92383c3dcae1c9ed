"""One-off comparison (2026-12-05 evening): conv2d's gather (`_im2col_rows`, runs of oW
values) against a "full-width" gather that copies each (c, i, j) row as one run of
R*W - 2 values (the output computed on the input's width, its last two columns per row
garbage, to be dropped after the product). Whole-image blocks, 3x3, float32.

Medians of 21 calls. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/xeon_2026-12-05/full_width_gather.py
Output in full_width_gather_output.txt here.
"""

import sys
from functools import partial
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root
sys.path.insert(0, str(Path(__file__).parent))  # transpose.py beside this file

from transpose import median_ms  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402

SHAPES = [(16, 250), (16, 124), (32, 122), (32, 60), (64, 58), (64, 28), (128, 26),
          (128, 12), (256, 10), (32, 570), (64, 282)]  # (C, input size)


def median_us(f, repeat=21):
    return 1e3 * median_ms(f, repeat)  # transpose.py's: one warm-up, then the median


def main():
    rng = np.random.default_rng(0)
    for C, H in SHAPES:
        src = rng.standard_normal((C, H, H), dtype=np.float32)
        rows = H - 2
        ours = median_us(partial(conv2d._im2col_rows, src, 3, 3, rows, rows))
        length = rows * H - 2  # one run per (c, i, j); the last two values would overrun
        buf = np.empty((C, 3, 3, rows * H), np.float32)
        sC, sH, sW = src.strides
        view = as_strided(src, shape=(C, 3, 3, length), strides=(sC, sH, sW, sW),
                          writeable=False)
        full = median_us(partial(np.copyto, buf[..., :length], view))
        print(f"C {C} H {H}: im2col {ours:.0f} us, full width {full:.0f} us, "
              f"ratio {ours / full:.2f}, {buf.nbytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
