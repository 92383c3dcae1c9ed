import time, statistics, threading, os
import numpy as np
from threadpoolctl import threadpool_limits
rng=np.random.default_rng(0)
F,K,N=32,288,388*16
A=rng.standard_normal((F,K),dtype=np.float32); B=[rng.standard_normal((K,N),dtype=np.float32) for _ in range(2)]; O=[np.empty((F,N),np.float32) for _ in range(2)]
fl=2*F*K*N/1e9
def work(i, n=10, where=None):
    if where is not None: where.append(os.sched_getcpu() if hasattr(os,'sched_getcpu') else -1)
    for _ in range(n): np.matmul(A,B[i],out=O[i])
with threadpool_limits(1, user_api="blas"):
    for r in range(12):
        a=time.perf_counter(); work(0); one=time.perf_counter()-a
        th=[threading.Thread(target=work,args=(i,)) for i in range(2)]
        a=time.perf_counter(); [x.start() for x in th]; [x.join() for x in th]; two=time.perf_counter()-a
        print(f"1: {10*fl/one:.0f}  2: {20*fl/two:.0f}", end=" | ", flush=True)
print()
