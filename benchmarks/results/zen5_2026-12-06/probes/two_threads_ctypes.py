import ctypes, glob, time, threading, numpy as np, sys
lib=ctypes.CDLL(glob.glob("/work/main/.venv/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_*.so")[0])
lib.scipy_openblas_set_num_threads64_(ctypes.c_int(1)) if False else lib.scipy_openblas_set_num_threads64_(1)
F,K,N=32,288,388*16
rng=np.random.default_rng(0)
A=rng.standard_normal((F,K),dtype=np.float32); B=[rng.standard_normal((K,N),dtype=np.float32) for _ in range(2)]; O=[np.empty((F,N),np.float32) for _ in range(2)]
fl=2*F*K*N/1e9
sg=lib.scipy_cblas_sgemm64_
L=ctypes.c_int64; P=ctypes.c_void_p
sg.argtypes=[ctypes.c_int,ctypes.c_int,ctypes.c_int,L,L,L,ctypes.c_float,P,L,P,L,ctypes.c_float,P,L]
def w(i, n=10):
    for _ in range(n):
        sg(101,111,111,F,N,K,1.0,A.ctypes.data,K,B[i].ctypes.data,N,0.0,O[i].ctypes.data,N)
assert np.allclose(O[0], 0) or True
w(0); 
out=[]
for r in range(10):
    a=time.perf_counter(); w(0); one=time.perf_counter()-a
    th=[threading.Thread(target=w,args=(i,)) for i in range(2)]
    a=time.perf_counter(); [x.start() for x in th]; [x.join() for x in th]; two=time.perf_counter()-a
    out.append(f"{10*fl/one:.0f}/{20*fl/two:.0f}")
print("ctypes", " ".join(out))
print(np.abs(O[0]-A@B[0]).max())
