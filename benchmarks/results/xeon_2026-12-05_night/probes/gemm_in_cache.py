import time, statistics, numpy as np
from threadpoolctl import threadpool_limits
def t(f, r=200):
    f(); xs=[]
    for _ in range(r):
        a=time.perf_counter(); f(); xs.append(time.perf_counter()-a)
    return statistics.median(xs)*1e6
rng=np.random.default_rng(0)
with threadpool_limits(1):
  for F,K,N in [(16,144,1820),(16,144,7280),(32,144,1820),(32,288,1820),(64,576,1820),(16,144,256),(128,144,1820),(144,16,1820)]:
    a=rng.standard_normal((F,K)).astype(np.float32); b=rng.standard_normal((K,N)).astype(np.float32); o=np.empty((F,N),np.float32)
    bt=np.ascontiguousarray(b.T); ot=np.empty((N,F),np.float32); at=np.ascontiguousarray(a.T)
    u=t(lambda: np.matmul(a,b,out=o)); v=t(lambda: np.matmul(bt,at,out=ot))
    print(f"{F}x{K}x{N}: {u:.1f} us {2*F*K*N/u/1e3:.0f} GF/s | transposed {v:.1f} us {2*F*K*N/v/1e3:.0f} GF/s")
