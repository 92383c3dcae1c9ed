"""One-off (2026-12-08, Xeon VM, family 6 model 207): the paper step's peak memory, ours,
as `benchmarks/step.py` measures it (`child_memory`: a fresh process, two steps, peak RSS
above the base), with conv2d's trick 11 on or off. Prints one line per process.
    for r in 1 2 3; do for m in on off; do env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python benchmarks/results/xeon_2026-12-07/peak_probe.py $m; done; done
"""

import contextlib
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import step  # noqa: E402

from minimal_unet.ops import _col2im  # noqa: E402


def main():
    mode = sys.argv[1]
    _col2im._ON = mode == "on"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        step.child_memory("ours", "572-b64", "float32", 2)
    record = json.loads(out.getvalue())
    print(f"trick 11 {mode:3s}: step peak {record['step_peak'] / 2**30:.3f} GiB, peak RSS "
          f"{record['peak_rss'] / 2**30:.3f} GiB", flush=True)


if __name__ == "__main__":
    main()
