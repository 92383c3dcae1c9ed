import sys, time, statistics, resource
sys.path.insert(0, 'benchmarks'); sys.path.insert(0, '.')
import numpy as np
import step
from numpy._core.multiarray import _set_madvise_hugepage
size, reps = sys.argv[1], int(sys.argv[2])
ours = step.build_step("ours", size, "float32", 2)
res = {True: [], False: []}; flt = {True: 0, False: 0}; st = {True: 0, False: 0}
ours()
for r in range(reps):
    for hp in (True, False) if r % 2 == 0 else (False, True):
        _set_madvise_hugepage(hp)
        ours()
        time.sleep(0.3); r0 = resource.getrusage(resource.RUSAGE_SELF); t = time.perf_counter(); ours(); res[hp].append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_SELF); flt[hp] += r1.ru_minflt - r0.ru_minflt; st[hp] += r1.ru_stime - r0.ru_stime
for hp in res: print(size, "hugepage advice" if hp else "no advice", f"median {statistics.median(res[hp]):.3f} s min {min(res[hp]):.3f}", "faults/step", flt[hp] // reps, "sys s/step", round(st[hp] / reps, 3))
