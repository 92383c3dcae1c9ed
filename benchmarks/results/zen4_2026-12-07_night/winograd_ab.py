"""One-off A/B (2026-12-07 night, Zen 4 VM): conv2d's trick 9 (Winograd's F(2x2, 3x3) for
the forward and dx products of the 3x3 layers it applies to) on and off, in the step.
`conv2d._WINOGRAD` swapped in memory. The loop and the printout:
`../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402


def apply(on):
    conv2d._WINOGRAD = on


if __name__ == "__main__":
    _ab.main({"im2col only": False, "Winograd (trick 9)": True}, apply)
