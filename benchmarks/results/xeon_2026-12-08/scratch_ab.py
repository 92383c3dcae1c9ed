"""One-off A/B (2026-12-08, Xeon VM, family 6 model 207): conv2d's scratch buffers in
memory mappings of their own (`_im2col._MAPPED`, "mapped") or from the heap ("heap"), for
a whole process. One step size; prints the step's peak resident memory above the base
after each of the first three steps (as `benchmarks/step.py`'s `child_memory` measures
it, which takes the second) and, with `live`, the peak of the arrays the second step
allocates (tracemalloc: live bytes, whatever the heap's holes); or, with `time`, two
warm-up steps and `steps` timed ones 0.3 s apart, median. The shell alternates the processes:
    for r in 1 2 3 4 5 6; do for m in heap mapped; do env -u OPENBLAS_CORETYPE \\
        -u OPENBLAS_L2_SIZE python scratch_ab.py peak 572-b64 $m; done; done
    for r in 1 2 3; do for m in heap mapped; do env -u OPENBLAS_CORETYPE \\
        -u OPENBLAS_L2_SIZE python scratch_ab.py time 572-b64 $m 5; done; done
"""

import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import _im2col  # noqa: E402


def peak(size, live):
    run = step.build_step("ours", size, "float32", 2)
    base = step.rss_bytes()
    peaks = []
    for i in range(3):
        if live and i == 1:
            tracemalloc.start()
        run()
        if live and i == 1:
            live_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        peaks.append((step.peak_rss_bytes() - base) / 2**30)
    text = " ".join(f"{p:.3f}" for p in peaks)
    extra = f", live arrays {live_peak / 2**30:.3f} GiB" if live else ""
    return f"step peak after steps 1, 2, 3: {text} GiB{extra}"


def timed(size, steps):
    median, fastest = step.seconds_per_step(step.build_step("ours", size, "float32", 2), steps)
    return f"median {median:.4f} s (min {fastest:.4f})"


def main():
    what, size, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    _im2col._MAPPED = mode == "mapped"
    if what == "time":
        result = timed(size, int(sys.argv[4]) if len(sys.argv) > 4 else 5)
    else:
        result = peak(size, live=len(sys.argv) > 4 and sys.argv[4] == "live")
    print(f"{size} {mode:6s} {result}", flush=True)


if __name__ == "__main__":
    main()
