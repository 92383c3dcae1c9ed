"""One-off A/B (2026-12-07 night, Zen 4 VM): dL/dw of the layers that take conv2d's trick
9 by Winograd's F(3x3, 2x2) (`conv2d._WINOGRAD_DW`) or by im2col, in the step; the loop of
`winograd_ab.py` (this folder), which is `../zen4_2026-12-07_blocks/_ab.py`'s.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_dw_ab.py 572-b32 [rounds]
"""

import winograd_ab  # the script's own folder comes first on sys.path


def apply(on):
    winograd_ab.conv2d._WINOGRAD_DW = on


if __name__ == "__main__":
    winograd_ab._ab.main({"dw by im2col": False, "dw by Winograd": True}, apply)
