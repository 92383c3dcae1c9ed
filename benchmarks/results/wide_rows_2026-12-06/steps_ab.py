"""Training steps with conv2d's blocks gathered on the whole row width (trick 8) and
without it, alternating in one process, PyTorch's step after each round (the helper of
../xeon_2026-12-05_night/_ab.py). Prints only.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/results/wide_rows_2026-12-06/steps_ab.py [DTYPE [SIZE [WIDTH]]]

DTYPE: float32 (default) or float64; SIZE: one of step.SIZES (default: all three);
WIDTH: conv2d._WIDE_MIN_WIDTH of the "wide" variant (default: the package's). "narrow"
sets it past any row width, which is the code before trick 8.
"""

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ab_helper = load(HERE.parent / "xeon_2026-12-05_night" / "_ab.py", "night_ab")
from minimal_unet.ops import conv2d  # noqa: E402 (the helper put the repository first)

WIDE = conv2d._WIDE_MIN_WIDTH


def use(width):
    def switch():
        conv2d._WIDE_MIN_WIDTH = width
    return switch


if __name__ == "__main__":
    dtype = sys.argv[1] if len(sys.argv) > 1 else "float32"
    width = int(sys.argv[3]) if len(sys.argv) > 3 else WIDE
    variants = {"narrow": use(10**9), "wide": use(width)}
    for size, repeat in (("252-b16", 61), ("572-b32", 9), ("572-b64", 5)):
        if len(sys.argv) <= 2 or sys.argv[2] == size:
            ab_helper.alternate_steps(size, repeat, dtype, variants)
    sys.exit(0)
