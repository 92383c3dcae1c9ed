"""One-off A/B (2026-12-07 night, Zen 4 VM): trick 9's blocks for more than 128 input
channels (_WINOGRAD_LONG_BLOCK_BYTES) of 8 MiB (as at e2d7686) or 4 MiB (less scratch
memory, `winograd_memory_output.txt`), and trick 9 off, in the step. Swapped in memory.
The loop and the printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_long_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402
from winograd_blocks_ab import MIB, apply  # noqa: E402  (this folder, the script's own)

SETTINGS = {"2 / 8 MiB": (True, 2 * MIB, 8 * MIB), "2 / 4 MiB": (True, 2 * MIB, 4 * MIB),
            "off": (False, 2 * MIB, 8 * MIB)}

if __name__ == "__main__":
    _ab.main(SETTINGS, apply)
