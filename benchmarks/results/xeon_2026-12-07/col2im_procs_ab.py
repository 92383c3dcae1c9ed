"""One-off A/B (2026-12-07 night, Xeon VM, family 6 model 207): conv2d's trick 11 (dx by
col2im at the layers of >= 128 filters and <= 32 x 32 output pixels) on or off for a
whole process: one step size, two warm-up steps and `steps` timed (default 7), 0.3 s
apart, median; the shell alternates the processes. float32 unless a fourth argument
says float64.
    for r in 1 2 3; do for m in on off; do env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python benchmarks/results/xeon_2026-12-07/col2im_procs_ab.py 252-b16 $m 15; done; done
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import _col2im  # noqa: E402


def main():
    size, mode = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    dtype = sys.argv[4] if len(sys.argv) > 4 else "float32"
    _col2im._ON = mode == "on"
    median, fastest = step.seconds_per_step(step.build_step("ours", size, dtype, 2), steps)
    print(f"{size} {dtype} trick 11 {mode:3s}: median {median:.4f} s (min {fastest:.4f})",
          flush=True)


if __name__ == "__main__":
    main()
