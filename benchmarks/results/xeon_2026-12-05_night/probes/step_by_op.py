import sys, time, collections
sys.path.insert(0, 'benchmarks'); sys.path.insert(0, '.')
import step
from minimal_unet.backends import numpy_backend as nb
size = sys.argv[1]; DT = sys.argv[2] if len(sys.argv) > 2 else "float32"
calls = []
def timed(name, f):
    def w(*a, **k):
        t = time.perf_counter(); r = f(*a, **k); calls.append((name, a[0].shape, time.perf_counter() - t)); return r
    return w
for n in ["conv2d_forward", "conv2d_backward", "relu_forward", "relu_backward", "maxpool2d_forward", "maxpool2d_backward", "upconv2d_forward", "upconv2d_backward", "crop_and_concat_forward", "crop_and_concat_backward", "softmax_cross_entropy", "sgd_momentum_update", "add", "zeros_like"]:
    setattr(nb, n, timed(n, getattr(nb, n)))
ours = step.build_step("ours", size, DT, 2)
theirs = step.build_step("torch", size, DT, 2)
import torch
from torch.profiler import profile, ProfilerActivity
for _ in range(3): ours(); theirs()
agg = collections.defaultdict(float); tot = 0; R = 7
for _ in range(R):
    calls.clear(); time.sleep(0.3); t = time.perf_counter(); ours(); tot += time.perf_counter() - t
    for n, s, d in calls: agg[(n, s)] += d
tt = 0
for _ in range(R):
    time.sleep(0.3); t = time.perf_counter(); theirs(); tt += time.perf_counter() - t
print("ours step", tot / R, "torch step", tt / R)
byname = collections.defaultdict(float)
for (n, s), d in agg.items(): byname[n] += d / R
for n, d in sorted(byname.items(), key=lambda kv: -kv[1]): print(f"  {n:26s} {d*1e3:7.2f}")
print("  sum", sum(byname.values())*1e3)
for (n, s), d in sorted(agg.items(), key=lambda kv: -kv[1])[:30]: print(f"  {n:26s} {str(s):22s} {d/R*1e3:7.2f}")
time.sleep(0.3)
with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    for _ in range(3): theirs()
print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=45))
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
