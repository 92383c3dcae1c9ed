"""One-off A/Bs (2026-12-07 evening, Zen 1 VM), after `small_net_ab.py`: the 252 / base-16
step sent to our threads (conv2d._THREAD_BYTES lowered to 32 MiB, under its 16 -> 16 @250
layer's 34 MiB of im2col) with other thread block sizes ("blocks"), or with trick 9's
thresholds lowered ("winograd"), against the shipped step. Swapped in memory. The loop
and the printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen1_2026-12-07/small_net_more_ab.py 252-b16 ROUNDS blocks|winograd
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402

MIB = 2**20
SHIPPED = (64 * MIB, 4 * MIB, (128, 64, 400))
SETTINGS = {  # (_THREAD_BYTES, _THREAD_BLOCK_BYTES, trick 9's (C, F, tiles) thresholds)
    "blocks": {
        "shipped (BLAS's threads)": SHIPPED,
        "ours from 32 MiB, 4 MiB blocks": (32 * MIB, 4 * MIB, (128, 64, 400)),
        "ours from 32 MiB, 2 MiB blocks": (32 * MIB, 2 * MIB, (128, 64, 400)),
        "ours from 32 MiB, 8 MiB blocks": (32 * MIB, 8 * MIB, (128, 64, 400)),
    },
    "winograd": {
        "shipped (BLAS's threads)": SHIPPED,
        "ours from 32 MiB, trick 9 as shipped": (32 * MIB, 4 * MIB, (128, 64, 400)),
        "ours from 32 MiB, trick 9 from 64/32/400": (32 * MIB, 4 * MIB, (64, 32, 400)),
        "ours from 32 MiB, trick 9 from 32/32/400": (32 * MIB, 4 * MIB, (32, 32, 400)),
    },
}


def apply(setting):
    conv2d._THREAD_BYTES, conv2d._THREAD_BLOCK_BYTES, thresholds = setting
    conv2d._WINOGRAD_MIN_C, conv2d._WINOGRAD_MIN_F, conv2d._WINOGRAD_MIN_TILES = thresholds


if __name__ == "__main__":
    which = sys.argv.pop(3)
    _ab.main(SETTINGS[which], apply)
