import time, numpy as np, sys
from threadpoolctl import threadpool_limits
rng=np.random.default_rng(0)
F,K,N=32,288,388*16
A=rng.standard_normal((F,K),dtype=np.float32); B=rng.standard_normal((K,N),dtype=np.float32); O=np.empty((F,N),np.float32)
fl=2*F*K*N/1e9
with threadpool_limits(1, user_api="blas"):
    for _ in range(10): np.matmul(A,B,out=O)
    res=[]
    t0=time.time()
    while time.time()-t0<float(sys.argv[1]) if len(sys.argv)>1 else 3:
        a=time.perf_counter()
        for _ in range(10): np.matmul(A,B,out=O)
        res.append(10*fl/(time.perf_counter()-a))
print(sys.argv[2] if len(sys.argv)>2 else "", " ".join(f"{r:.0f}" for r in res[::max(1,len(res)//12)]))
