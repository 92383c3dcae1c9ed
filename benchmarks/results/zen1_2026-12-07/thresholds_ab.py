"""One-off A/B (2026-12-07 evening, Zen 1 VM): where conv2d's trick 9 (Winograd) starts.
The step under the shipped thresholds (at least 128 input channels, 64 filters, 400 2x2
tiles per image: tuned on a Zen 4 host with AVX-512) and under lower ones, swapped in
memory. The loop and the printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen1_2026-12-07/thresholds_ab.py 252-b16 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402

SETTINGS = {  # (input channels, filters, tiles) from which trick 9 applies
    "shipped 128/64/400": (128, 64, 400),
    "64/32/400": (64, 32, 400),
    "32/32/400": (32, 32, 400),
    "16/16/100": (16, 16, 100),
}
SETTINGS_BY_SIZE = {  # the last setting, which lost 19 % at 252 / base 16, left out at 572
    "252-b16": SETTINGS,
    "572-b32": dict(list(SETTINGS.items())[:3]),
}


def apply(thresholds):
    conv2d._WINOGRAD_MIN_C, conv2d._WINOGRAD_MIN_F, conv2d._WINOGRAD_MIN_TILES = thresholds


if __name__ == "__main__":
    _ab.main(SETTINGS_BY_SIZE[sys.argv[1]], apply)
