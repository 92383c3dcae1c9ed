"""Training steps with the old max-pool (ab.py's verbatim copies) and the new one,
alternating in one process, PyTorch's step after each round (the night's helper,
../xeon_2026-12-05_night/_ab.py). Prints only.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/results/maxpool_2026-12-06/steps_ab.py [DTYPE [SIZE]]

DTYPE: float32 (default) or float64; SIZE: one of step.SIZES (default: all three).
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
old = load(HERE / "ab.py", "maxpool_ab")
from minimal_unet.ops import maxpool2d  # noqa: E402 (the helper put the repository first)

NEW = (maxpool2d._pool_maps, maxpool2d._unpool_maps)


def use(pool, unpool):
    def switch():
        maxpool2d._pool_maps, maxpool2d._unpool_maps = pool, unpool
    return switch


if __name__ == "__main__":
    variants = {"old": use(old.old_pool_maps, old.old_unpool_maps), "new": use(*NEW)}
    dtype = sys.argv[1] if len(sys.argv) > 1 else "float32"
    for size, repeat in (("252-b16", 31), ("572-b32", 9), ("572-b64", 5)):
        if len(sys.argv) <= 2 or sys.argv[2] == size:
            ab_helper.alternate_steps(size, repeat, dtype, variants)
    sys.exit(0)
