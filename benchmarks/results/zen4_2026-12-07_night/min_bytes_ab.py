"""One-off A/B (2026-12-07 night, Zen 4 VM): the smallest part `_threads.chunks` cuts for
the elementwise fast paths (ReLU, max-pool, crop-and-concatenate, their backward passes),
`_threads._MIN_BYTES`, shipped at 8 MiB: an array under 16 MiB then runs on one core
while the other waits. Nothing in the package changes; the setting is swapped in memory.
The loop and the printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/min_bytes_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import _threads  # noqa: E402

SETTINGS = {"8 MiB (shipped)": 8 << 20, "2 MiB": 2 << 20, "512 KiB": 512 << 10,
            "128 KiB": 128 << 10}


def apply(value):
    _threads._MIN_BYTES = value


if __name__ == "__main__":
    _ab.main(SETTINGS, apply)
