import time, threading, os, sys
import numpy as np
from threadpoolctl import threadpool_limits
rng=np.random.default_rng(0)
F,K,N=32,288,388*16
A=rng.standard_normal((F,K),dtype=np.float32); B=[rng.standard_normal((K,N),dtype=np.float32) for _ in range(2)]; O=[np.empty((F,N),np.float32) for _ in range(2)]
fl=2*F*K*N/1e9
pin = sys.argv[1]=="pin"
def w(i, n=10):
    if pin: os.sched_setaffinity(0, {i})
    for _ in range(n): np.matmul(A,B[i],out=O[i])
    if pin: os.sched_setaffinity(0, {0,1})
with threadpool_limits(1, user_api="blas"):
    out=[]
    for r in range(12):
        th=[threading.Thread(target=w,args=(i,)) for i in range(2)]
        a=time.perf_counter(); [x.start() for x in th]; [x.join() for x in th]; two=time.perf_counter()-a
        out.append(f"{20*fl/two:.0f}")
    print(sys.argv[1], " ".join(out))
