"""One-off A/B (2026-12-07 night, Xeon VM, family 6 model 207): conv2d's trick 11 (dx by
col2im at the layers of >= 128 filters and <= 32 x 32 output pixels) off and on, in the
step, one-process rounds (`../zen4_2026-12-07_blocks/_ab.py`), `_col2im._ON` swapped
in memory.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-07/col2im_ab.py 252-b16 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import _col2im  # noqa: E402


def apply(on):
    _col2im._ON = on


if __name__ == "__main__":
    _ab.main({"correlation (trick 11 off)": False, "trick 11 on": True}, apply)
