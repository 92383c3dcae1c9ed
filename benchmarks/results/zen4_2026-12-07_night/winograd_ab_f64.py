"""One-off A/B (2026-12-07 night, Zen 4 VM): conv2d's trick 9 on and off in the float64
step (the loop of `../zen4_2026-12-07_blocks/_ab.py`, there for float32 only, with
build_step's dtype swapped to float64).
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_ab_f64.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402

BUILD = _ab.step.build_step


def apply(on):
    conv2d._WINOGRAD = on


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    _ab.step.build_step = lambda framework, size, dtype, threads: BUILD(framework, size,
                                                                        "float64", threads)
    seconds = _ab.alternate(size, {"im2col only": False, "Winograd (trick 9)": True}, apply,
                            rounds)
    _ab.report(f"{size} float64, {rounds} rounds", seconds, digits=4)


if __name__ == "__main__":
    main()
