import time, statistics, numpy as np, sys
sys.path.insert(0,'.')
from minimal_unet.ops import conv2d
from threadpoolctl import threadpool_limits
def t(f, r=15):
    f(); xs=[]
    for _ in range(r):
        a=time.perf_counter(); f(); xs.append(time.perf_counter()-a)
    return statistics.median(xs)*1e3
rng=np.random.default_rng(0)
for C,F,H in [(16,16,250),(32,32,122),(16,32,124),(32,16,72)]:
    x=rng.standard_normal((C,H,H)).astype(np.float32); w=rng.standard_normal((F,C*9)).astype(np.float32)
    oH=H-2; N=oH*oH
    cols=conv2d.im2col(x,3,3)
    colsT=np.ascontiguousarray(cols.T)
    out=np.empty((F,N),np.float32); outT=np.empty((N,F),np.float32)
    g=t(lambda: conv2d._im2col_rows(x,3,3,oH,oH))
    with threadpool_limits(1):
        m1=t(lambda: np.matmul(w,cols,out=out)); mT1=t(lambda: np.matmul(colsT,w.T,out=outT))
    m2=t(lambda: np.matmul(w,cols,out=out)); mT2=t(lambda: np.matmul(colsT,w.T,out=outT))
    fl=2*F*C*9*N/1e9
    print(f"{C}->{F}@{H}: gather {g:.2f} ms | W@cols 1t {m1:.2f} ({fl/m1*1e3:.0f} GF/s) 2t {m2:.2f} | colsT@WT 1t {mT1:.2f} 2t {mT2:.2f}")
