"""One-off check (2026-12-07 evening, Zen 1 VM): three layers as `benchmarks/ops.py` times
them (its cases, its child's allocator setting and thread variables, a 0.3 s pause before
each call, PyTorch's call after each of ours), trick 10 on and off in turn ("both"), or on
alone ("only"), median of 5.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 \
        MKL_NUM_THREADS=2 python benchmarks/results/zen1_2026-12-07/rows_ops_check.py both|only
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import machine  # noqa: E402
import numpy as np  # noqa: E402
import ops  # noqa: E402
import torch  # noqa: E402

from minimal_unet.memory import keep_freed_memory  # noqa: E402
from minimal_unet.ops import conv2d  # noqa: E402


def main():
    settings = (True,) if sys.argv[1] == "only" else (True, False)
    keep_freed_memory()
    torch.set_num_threads(2)
    cases = ops.make_cases(np.dtype("float32"), torch, ["conv"], False)
    for name, _, ours, theirs in cases[1:4]:
        seconds = {on: [] for on in settings}
        seconds["torch"] = []
        ours()
        theirs()
        for _ in range(5):
            for on in settings:
                conv2d._ROWS = on
                for key, fn in ((on, ours), ("torch", theirs)):
                    machine.settle()
                    t0 = time.perf_counter()
                    fn()
                    seconds[key].append(time.perf_counter() - t0)
        conv2d._ROWS = True
        labels = {True: "trick 10 on", False: "trick 10 off", "torch": "PyTorch"}
        print(name, "  ".join(f"{labels[k]} {statistics.median(v):.3f} s"
                              for k, v in seconds.items()), flush=True)


if __name__ == "__main__":
    main()
