"""One-off A/B (2026-12-07 evening, Zen 4 VM): the up-convolution's work on our threads cut
into parts of input rows (from this evening) against parts of channels (before, as at
84783a3), in the training step. The channel-cut module is loaded from git (`git show
84783a3:minimal_unet/ops/upconv2d.py`) and swapped into the NumPy backend for its
setting; nothing in the package changes. Run from a checkout that has that commit. The loop
and the printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_evening/upconv_rows_ab.py 572-b32 [rounds]
"""

import subprocess
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.backends import numpy_backend  # noqa: E402
from minimal_unet.ops import upconv2d  # noqa: E402

BEFORE = "84783a3"


def channel_cut():
    """The up-convolution module as it was at BEFORE, as a module object."""
    source = subprocess.run(["git", "show", f"{BEFORE}:minimal_unet/ops/upconv2d.py"],
                            cwd=_ab.ROOT, capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("upconv2d_channel_cut")
    exec(compile(source, f"{BEFORE}:upconv2d.py", "exec"), module.__dict__)  # noqa: S102
    return module


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    old = channel_cut()

    def apply(module):
        numpy_backend.upconv2d_forward = module.upconv2d_forward
        numpy_backend.upconv2d_backward = module.upconv2d_backward

    seconds = _ab.alternate(size, {"parts of channels (before)": old,
                                   "parts of rows (now)": upconv2d}, apply, rounds)
    _ab.report(f"{size} float32, {rounds} rounds", seconds, digits=4)


if __name__ == "__main__":
    main()
