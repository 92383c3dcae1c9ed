import sys, time, statistics, threading
import numpy as np, torch
from threadpoolctl import threadpool_limits
def t(f, rep=9):
    f(); ts=[]
    for _ in range(rep):
        a=time.perf_counter(); f(); ts.append(time.perf_counter()-a)
    return statistics.median(ts)
rng=np.random.default_rng(0)
F,K,N=32,288,388*16
A=rng.standard_normal((F,K),dtype=np.float32); B=[rng.standard_normal((K,N),dtype=np.float32) for _ in range(2)]; O=[np.empty((F,N),np.float32) for _ in range(2)]
fl=2*F*K*N/1e9
with threadpool_limits(1):
    one=t(lambda: [np.matmul(A,B[0],out=O[0]) for _ in range(10)])
    def par():
        th=[threading.Thread(target=lambda i=i: [np.matmul(A,B[i],out=O[i]) for _ in range(10)]) for i in range(2)]
        [x.start() for x in th]; [x.join() for x in th]
    two=t(par)
print(f"1 thread {10*fl/one:.0f} GF/s; 2 threads in parallel {20*fl/two:.0f} GF/s")
Bb=rng.standard_normal((K,N*16),dtype=np.float32)
with threadpool_limits(2):
    print("BLAS 2 threads big", 2*F*K*N*16/1e9/t(lambda: A@Bb))
with threadpool_limits(1):
    print("BLAS 1 thread big", 2*F*K*N*16/1e9/t(lambda: A@Bb))
x=torch.randn(1,32,390,390); w=torch.randn(32,32,3,3)
for n in [1,2]:
    torch.set_num_threads(n)
    tt=t(lambda: torch.nn.functional.conv2d(x,w))
    print(f"torch {n} threads conv fwd 32->32@390 {tt*1e3:.1f} ms {2*32*288*388*388/1e9/tt:.0f} GF/s")
