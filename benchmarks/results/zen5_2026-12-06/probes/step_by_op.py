import sys, time, statistics, collections, functools
sys.path.insert(0, "/work/main"); sys.path.insert(0, "/work/main/benchmarks")
import numpy as np
import step as S
size=sys.argv[1]
fn=S.build_step("ours", size, "float32", 2)
from minimal_unet import ops
import minimal_unet.backends.numpy_backend as M
acc=collections.defaultdict(float); cnt=collections.Counter()
def wrap(mod, name):
    f=getattr(mod,name)
    @functools.wraps(f)
    def g(*a, **k):
        t=time.perf_counter(); r=f(*a, **k); acc[name]+=time.perf_counter()-t; cnt[name]+=1; return r
    setattr(mod,name,g)
names=[n for n in dir(M) if (n.endswith(("_forward","_backward")) or n in ("add","zeros_like","sgd_momentum_update")) and callable(getattr(M,n))]
for n in names: wrap(M,n)
fn(); fn()
acc.clear(); cnt.clear()
R=5
ts=[]
for _ in range(R):
    t=time.perf_counter(); fn(); ts.append(time.perf_counter()-t)
tot=statistics.median(ts)
print(f"{size}: step median {tot*1e3:.1f} ms")
s=0
for k,v in sorted(acc.items(), key=lambda kv:-kv[1]):
    print(f"  {k:32s} {v/R*1e3:8.2f} ms  x{cnt[k]//R}"); s+=v/R
print(f"  {'(rest: python, loss glue, SGD)':32s} {(tot-s)*1e3:8.2f}")
