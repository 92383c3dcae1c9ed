"""Training steps with conv2d's thread blocks (trick 2) of 2, 4 and 8 MiB, alternating in
one process, PyTorch's step after each round (benchmarks/results/xeon_2026-12-05_night/_ab.py).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen5_2026-12-06/block_steps.py 572-b32 7
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "xeon_2026-12-05_night"))
import _ab  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402


def block_mib(mib):
    def switch():
        conv2d._THREAD_BLOCK_BYTES = int(mib * 2**20)
    return switch


if __name__ == "__main__":
    size, repeat = sys.argv[1], int(sys.argv[2])
    sizes = [float(s) for s in sys.argv[3:]] or [2, 4, 8]
    _ab.alternate_steps(size, repeat, "float32", {f"{m:g}MiB": block_mib(m) for m in sizes})
