"""One-off A/B (2026-12-07 evening, Zen 1 VM): conv2d's trick 10 (a 3x3 kernel's rows as
three products over a horizontal im2col, layers of 16-128 input channels that trick 9
leaves) off and on, in the step. `conv2d._ROWS` swapped in memory. The loop and the
printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen1_2026-12-07/rows_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402


def apply(on):
    conv2d._ROWS = on


if __name__ == "__main__":
    _ab.main({"im2col (trick 10 off)": False, "trick 10 on": True}, apply)
