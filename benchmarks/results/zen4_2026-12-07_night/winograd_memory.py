"""One-off (2026-12-07 night): the 572 / base-32 float32 step's peak memory (as
benchmarks/step.py's --child-memory measures it: peak resident set less the resident set
before the first step) with conv2d's trick 9 on or off, and with its blocks for more than
128 channels (_WINOGRAD_LONG_BLOCK_BYTES) of the given MiB. One setting per process.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_memory.py on|off [long MiB]
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402

conv2d._WINOGRAD = sys.argv[1] == "on"
if len(sys.argv) > 2:
    conv2d._WINOGRAD_LONG_BLOCK_BYTES = int(float(sys.argv[2]) * 2**20)
step.child_memory("ours", "572-b32", "float32", 2)
