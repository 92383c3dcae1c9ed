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

from minimal_unet.ops import conv2d  # noqa: E402

MIB = 2**20
SETTINGS = {"2 / 8 MiB": (True, 2 * MIB, 8 * MIB), "2 / 4 MiB": (True, 2 * MIB, 4 * MIB),
            "off": (False, 2 * MIB, 8 * MIB)}


def apply(setting):
    conv2d._WINOGRAD, conv2d._WINOGRAD_BLOCK_BYTES, conv2d._WINOGRAD_LONG_BLOCK_BYTES = setting


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    seconds = _ab.alternate(size, SETTINGS, apply, rounds)
    _ab.report(f"{size} float32, {rounds} rounds", seconds, digits=4)


if __name__ == "__main__":
    main()
