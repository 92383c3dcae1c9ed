import sys, time, statistics
sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/benchmarks")
import numpy as np, torch
import ops as bops
from minimal_unet.memory import keep_freed_memory
keep_freed_memory()
torch.set_num_threads(2)
rng = np.random.default_rng(0)
normal = lambda *s: rng.standard_normal(s).astype(np.float32)
cases = [bops.conv_case((1, C, F, H, 3), normal, torch) for C, F, H in bops.unet_conv_layers(252, 16)]
def run(which):
    res = []
    for case in cases:
        fn = case[which]
        for _ in range(3): fn()
        ts = []
        for _ in range(21):
            a = time.perf_counter(); fn(); ts.append(time.perf_counter() - a)
        res.append(statistics.median(ts) * 1e3)
    return res
o1 = run(1); time.sleep(1); t1 = run(2); time.sleep(1); o2 = run(1); time.sleep(1); t2 = run(2)
for case, a, b, c, d in zip(cases, o1, o2, t1, t2):
    print(f"{case[0]:22s} ours {a:6.2f} {b:6.2f} ms torch {c:6.2f} {d:6.2f} ms  {min(a, b) / min(c, d):.2f}x")
print(f"sum ours {sum(map(min, zip(o1, o2))):.1f} torch {sum(map(min, zip(t1, t2))):.1f}")
