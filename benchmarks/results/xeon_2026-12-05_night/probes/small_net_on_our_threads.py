import sys, time, statistics
sys.path.insert(0, 'benchmarks'); sys.path.insert(0, '.')
import step
from minimal_unet.ops import conv2d
size = sys.argv[1]; pause = float(sys.argv[2]); variants = sys.argv[3:]
ours = step.build_step("ours", size, "float32", 2)
theirs = step.build_step("torch", size, "float32", 2)
res = {v: [] for v in variants}; res["torch"] = []
for _ in range(3): ours(); theirs()
for r in range(9):
    for v in variants:
        conv2d._THREAD_BYTES = int(float(v) * 2**20)
        ours()
        time.sleep(pause); t = time.perf_counter(); ours(); res[v].append(time.perf_counter() - t)
    time.sleep(pause); t = time.perf_counter(); theirs(); res["torch"].append(time.perf_counter() - t)
for k, v in res.items(): print(k, f"{statistics.median(v)*1e3:.1f} ms", f"min {min(v)*1e3:.1f}")
