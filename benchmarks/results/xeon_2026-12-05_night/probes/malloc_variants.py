import sys, time, statistics, resource, ctypes
sys.path.insert(0, 'benchmarks'); sys.path.insert(0, '.')
libc = ctypes.CDLL("libc.so.6")
if "nommap" in sys.argv[3]:
    print("M_MMAP_MAX 0 ->", libc.mallopt(-4, 0))
import numpy as np
if "nohp" in sys.argv[3]:
    from numpy._core.multiarray import _set_madvise_hugepage; _set_madvise_hugepage(False)
if "arena1" in sys.argv[3]:
    print("M_ARENA_MAX 1 ->", libc.mallopt(-8, 1))
import step
size, reps = sys.argv[1], int(sys.argv[2])
ours = step.build_step("ours", size, "float32", 2)
res = []; flt = 0; st = 0
ours(); ours()
for r in range(reps):
    time.sleep(0.3); r0 = resource.getrusage(resource.RUSAGE_SELF); t = time.perf_counter(); ours(); res.append(time.perf_counter() - t)
    r1 = resource.getrusage(resource.RUSAGE_SELF); flt += r1.ru_minflt - r0.ru_minflt; st += r1.ru_stime - r0.ru_stime
print(size, sys.argv[3], f"median {statistics.median(res):.3f} s min {min(res):.3f}", "faults/step", flt // reps, "sys s/step", round(st / reps, 3), "maxrss GiB", round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2))
