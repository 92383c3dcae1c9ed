"""One-off measurement (2026-12-04 evening): wall time of one training step by op.

Wraps each op of the NumPy backend in a timer and runs benchmarks/step.py's step (ours,
float32, 2 threads) 5 times after two warm-ups, 0.3 s apart. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 \
    python benchmarks/results/epyc_2026-12-04_evening/step_by_op.py 572-b32
Numbers in README.md here.
"""

import collections
import sys
import time

sys.path.insert(0, "benchmarks")

import step  # noqa: E402

from minimal_unet.backends import numpy_backend  # noqa: E402

OPS = ["conv2d_forward", "conv2d_backward", "relu_forward", "relu_backward",
       "maxpool2d_forward", "maxpool2d_backward", "upconv2d_forward", "upconv2d_backward",
       "crop_and_concat_forward", "crop_and_concat_backward", "softmax_cross_entropy",
       "sgd_momentum_update", "add", "zeros_like"]


def main():
    seconds = collections.defaultdict(float)

    def timed(name, f):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = f(*args, **kwargs)
            seconds[name] += time.perf_counter() - start
            return result
        return wrapper

    for name in OPS:
        setattr(numpy_backend, name, timed(name, getattr(numpy_backend, name)))
    size, reps = sys.argv[1], 5
    ours = step.build_step("ours", size, "float32", 2)
    ours()
    ours()
    seconds.clear()
    total = 0.0
    for _ in range(reps):
        time.sleep(0.3)
        start = time.perf_counter()
        ours()
        total += time.perf_counter() - start
    print(size, "step", round(total / reps, 3))
    for name, value in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {name:28s} {value / reps:.3f}")
    print("  outside the ops", round((total - sum(seconds.values())) / reps, 3))


if __name__ == "__main__":
    main()
