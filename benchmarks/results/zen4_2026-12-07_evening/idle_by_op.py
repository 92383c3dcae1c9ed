"""One-off measurement (2026-12-07 evening, Zen 4 VM): how busy both cores are in a
training step, by op.

benchmarks/step.py's step (ours, float32, 2 threads), each op of the NumPy backend
wrapped in a timer of wall time (time.perf_counter) and of the process's CPU time
(time.process_time, both cores together), 5 steps after two warm-ups, 0.3 s apart. Per op:
wall, CPU, and idle = 2 x wall - CPU, the core-seconds a core waited (a hand-off, the
other thread's last block, a part of the op that runs on one thread). Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 \
        python benchmarks/results/zen4_2026-12-07_evening/idle_by_op.py 572-b32
"""

import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

sys.path.insert(0, str(ROOT / "benchmarks" / "results" / "epyc_2026-12-04_evening"))

import step  # noqa: E402
from step_by_op import OPS  # noqa: E402  (the ops that script times, by their backend name)

from minimal_unet.backends import numpy_backend  # noqa: E402


def main():
    wall, cpu = collections.defaultdict(float), collections.defaultdict(float)

    def timed(name, f):
        def wrapper(*args, **kwargs):
            w0, c0 = time.perf_counter(), time.process_time()
            result = f(*args, **kwargs)
            cpu[name] += time.process_time() - c0
            wall[name] += time.perf_counter() - w0
            return result
        return wrapper

    for name in OPS:
        setattr(numpy_backend, name, timed(name, getattr(numpy_backend, name)))
    size, reps = sys.argv[1], 5
    run = step.build_step("ours", size, "float32", 2)
    run()
    run()
    wall.clear()
    cpu.clear()
    total_wall = total_cpu = 0.0
    for _ in range(reps):
        time.sleep(0.3)
        w0, c0 = time.perf_counter(), time.process_time()
        run()
        total_wall += time.perf_counter() - w0
        total_cpu += time.process_time() - c0
    print(f"{size} step: wall {total_wall / reps:.3f} s, CPU {total_cpu / reps:.3f} s, "
          f"idle {(2 * total_wall - total_cpu) / reps:.3f} core-s")
    for name, w in sorted(wall.items(), key=lambda kv: -kv[1]):
        print(f"  {name:26s} wall {w / reps:.4f}  CPU {cpu[name] / reps:.4f}  "
              f"idle {(2 * w - cpu[name]) / reps:.4f}")
    rest_w, rest_c = total_wall - sum(wall.values()), total_cpu - sum(cpu.values())
    print(f"  {'outside the ops':26s} wall {rest_w / reps:.4f}  CPU {rest_c / reps:.4f}  "
          f"idle {(2 * rest_w - rest_c) / reps:.4f}")


if __name__ == "__main__":
    main()
