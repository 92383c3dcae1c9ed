"""One-off A/B (2026-12-08, Xeon VM, family 6 model 207): conv2d's trick 10 at every layer
of 16-128 input channels (`_ROWS_MIN_PIXELS` 0, as shipped until then) against only at
those of at least 32 x 32 or 64 x 64 output pixels (the smaller ones by plain im2col), in
the step, one-process rounds (`../zen4_2026-12-07_blocks/_ab.py`).
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-07/rows_pixels_ab.py 252-b16 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import _conv_rows  # noqa: E402


def apply(pixels):
    _conv_rows._MIN_PIXELS = pixels


if __name__ == "__main__":
    _ab.main({"every layer (0)": 0, ">= 32 x 32": 32 * 32, ">= 64 x 64": 64 * 64}, apply)
