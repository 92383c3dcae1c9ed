import time, statistics, numpy as np, torch
from threadpoolctl import threadpool_limits
def t(f, rep=15):
    f(); ts=[]
    for _ in range(rep):
        a=time.perf_counter(); f(); ts.append(time.perf_counter()-a)
    return statistics.median(ts)
rng=np.random.default_rng(0)
for C,F,H in [(16,16,250),(16,32,124),(32,32,122),(32,64,60),(64,64,58),(128,64,42),(32,16,136),(16,16,134)]:
    oH=H-2; P=oH*oH; K=C*9
    A=rng.standard_normal((F,K),dtype=np.float32); B=rng.standard_normal((K,P),dtype=np.float32)
    Bt=np.ascontiguousarray(B.T); At=np.ascontiguousarray(A.T)
    fl=2*F*K*P/1e9
    r=[]
    for th in [1,2]:
        with threadpool_limits(th):
            r.append(f"T{th}: FxK@KxP {fl/t(lambda: A@B):.0f}  PxK@KxF {fl/t(lambda: Bt@At):.0f}")
    x=torch.randn(1,C,H,H); w=torch.randn(F,C,3,3)
    torch.set_num_threads(2)
    tt=t(lambda: torch.nn.functional.conv2d(x,w))
    print(f"{C}->{F}@{H}: {' | '.join(r)} | torch conv fwd 2T {fl/tt:.0f} GF/s ({tt*1e3:.2f} ms)")
