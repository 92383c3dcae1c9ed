"""One-off measurement (2026-12-05, night): glibc's allocator settings and one training step.

One process per setting (they are process-wide), ours only, float32, 2 threads; two
warm-up steps, then REPEAT timed steps 0.3 s apart, with the page faults and the kernel
(system) time of each step from getrusage. Settings:
    before   what memory.keep_freed_memory set until this commit: mmap threshold 32 MiB
             (glibc's largest) and no trimming
    nommap   `before` plus no mmap at all (M_MMAP_MAX 0)
    after    memory.keep_freed_memory as committed: no mmap, one arena, no trimming
    after-nohp   `after` with NumPy's huge-page advice switched off (not taken)
    before-nohp  `before` with NumPy's huge-page advice switched off (not taken)
Run from the repository root, nothing else running:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-05_night/memory_settings.py 572-b64 4 before
Output in memory_settings_output.txt here.
"""
import ctypes
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

import numpy as np  # noqa: E402

from minimal_unet import memory  # noqa: E402

size, repeat, setting = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if setting.startswith("before") or setting == "nommap":
    libc = ctypes.CDLL("libc.so.6")
    assert libc.mallopt(-3, 32 * 2**20) == 1 and libc.mallopt(-1, 2**31 - 1) == 1
    if setting == "nommap":
        assert libc.mallopt(memory.M_MMAP_MAX, 0) == 1
    memory._APPLIED = True  # step.build_step's keep_freed_memory() then changes nothing
else:
    assert memory.keep_freed_memory()
if setting.endswith("nohp"):
    np._core.multiarray._set_madvise_hugepage(False)

import step  # noqa: E402

ours = step.build_step("ours", size, "float32", 2)
ours()
ours()
seconds, faults, system = [], [], []
for _ in range(repeat):
    time.sleep(0.3)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    ours()
    seconds.append(time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_SELF)
    faults.append(after.ru_minflt - before.ru_minflt)
    system.append(after.ru_stime - before.ru_stime)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"{size} {setting:12s} step median {statistics.median(seconds):.3f} s, min "
      f"{min(seconds):.3f} | faults/step {statistics.median(faults):.0f} | kernel time/step "
      f"{statistics.median(system):.3f} s | peak RSS {peak:.2f} GiB", flush=True)
