import sys, time, statistics
sys.path.insert(0, 'benchmarks'); sys.path.insert(0, '.')
import step
from minimal_unet.ops import conv2d
size, reps = sys.argv[1], int(sys.argv[2]); variants = sys.argv[3:]
ours = step.build_step("ours", size, "float32", 2)
theirs = step.build_step("torch", size, "float32", 2)
res = {v: [] for v in variants}; res["torch"] = []
for _ in range(2): ours(); theirs()
for r in range(reps):
    for v in (variants if r % 2 == 0 else variants[::-1]):
        conv2d._THREAD_BLOCK_BYTES = int(float(v) * 2**20)
        ours()
        time.sleep(0.3); t = time.perf_counter(); ours(); res[v].append(time.perf_counter() - t)
    time.sleep(0.3); t = time.perf_counter(); theirs(); res["torch"].append(time.perf_counter() - t)
tm = statistics.median(res["torch"])
for k, v in res.items(): print(size, k, f"median {statistics.median(v):.4f} s  min {min(v):.4f}  ratio {statistics.median(v)/tm:.2f}x")
