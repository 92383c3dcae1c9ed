"""One-off (2026-12-07 evening, Zen 1 VM): each 3x3 layer of the 572 / base-32 U-Net,
forward + backward (dx too, but not for the first layer), as the network runs it (every
product on our two threads), with conv2d's trick 10 (a kernel's rows as three products
over a horizontal im2col, for the forward, dw and dx passes of the layers of 16-128 input
channels that trick 9 leaves) on and off in turn, 5 rounds, the best of each.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen1_2026-12-07/rows_layers.py [float32|float64]
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_night"))

import winograd_layers  # noqa: E402

from minimal_unet.ops import _threads, conv2d  # noqa: E402


def main():
    dtype = np.dtype(sys.argv[1] if len(sys.argv) > 1 else "float32")
    print(f"{dtype}, every product on our threads ({_threads.workers()}), best of 5, ms; "
          f"trick 9 from {conv2d._WINOGRAD_MIN_C} input channels, {conv2d._WINOGRAD_MIN_F} "
          f"filters, {conv2d._WINOGRAD_MIN_TILES} tiles")
    winograd_layers.compare("_ROWS", "trick 10", dtype)  # its loop, trick 10 switched


if __name__ == "__main__":
    main()
