"""One-off A/B (2026-12-07 evening, Zen 1 VM): the 252 / base-16 step, which has no layer
large enough for our threads (conv2d's trick 3: every product then runs on BLAS's threads
in blocks of conv2d._BLOCK_BYTES), against the same step sent to our threads
(conv2d._THREAD_BYTES lowered, so that the network has a "large" layer and UNet sends
every product to our threads) and against other block sizes on BLAS's threads. Swapped
in memory. The loop and the printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen1_2026-12-07/small_net_ab.py 252-b16 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402

MIB = 2**20
SETTINGS = {  # (conv2d._THREAD_BYTES, conv2d._BLOCK_BYTES)
    "shipped: BLAS's threads, 16 MiB blocks": (64 * MIB, 16 * MIB),
    "our threads (from 16 MiB)": (16 * MIB, 16 * MIB),
    "BLAS's threads, 64 MiB blocks": (64 * MIB, 64 * MIB),
    "BLAS's threads, 4 MiB blocks": (64 * MIB, 4 * MIB),
}


def apply(setting):
    conv2d._THREAD_BYTES, conv2d._BLOCK_BYTES = setting


if __name__ == "__main__":
    _ab.main(SETTINGS, apply)
