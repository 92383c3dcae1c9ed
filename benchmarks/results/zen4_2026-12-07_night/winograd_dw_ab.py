"""One-off A/B (2026-12-07 night, Zen 4 VM): dL/dw of the layers that take conv2d's trick
9 by Winograd's F(3x3, 2x2) (`conv2d._WINOGRAD_DW`) or by im2col, in the step. The loop
and the printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_dw_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402


def apply(on):
    conv2d._WINOGRAD_DW = on


if __name__ == "__main__":
    _ab.main({"dw by im2col": False, "dw by Winograd": True}, apply)
