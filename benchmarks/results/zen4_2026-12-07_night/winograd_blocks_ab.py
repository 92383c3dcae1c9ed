"""One-off A/B (2026-12-07 night, Zen 4 VM): the block sizes of conv2d's trick 9 on our
threads (V of about _WINOGRAD_BLOCK_BYTES for 128 input channels, _WINOGRAD_LONG_BLOCK_BYTES
for more), and trick 9 off, in the step. Swapped in memory. The loop and the printout:
`../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_blocks_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402

MIB = 2**20
SETTINGS = {"2 / 8 MiB": (True, 2 * MIB, 8 * MIB), "1 / 4 MiB": (True, MIB, 4 * MIB),
            "4 / 16 MiB": (True, 4 * MIB, 16 * MIB), "2 / 2 MiB": (True, 2 * MIB, 2 * MIB),
            "off": (False, 2 * MIB, 8 * MIB)}


def apply(setting):
    conv2d._WINOGRAD, conv2d._WINOGRAD_BLOCK_BYTES, conv2d._WINOGRAD_LONG_BLOCK_BYTES = setting


if __name__ == "__main__":
    _ab.main(SETTINGS, apply)
