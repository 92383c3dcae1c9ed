import time, statistics, numpy as np
def t(f, rep=51):
    f(); ts=[]
    for _ in range(rep):
        a=time.perf_counter(); f(); ts.append(time.perf_counter()-a)
    return statistics.median(ts)*1e3
rng=np.random.default_rng(0)
for dt in (np.float32, np.float64):
    n=16*248*248
    x=rng.standard_normal(n).astype(dt); y=np.empty_like(x); dy=rng.standard_normal(n).astype(dt); dx=np.empty_like(x); tmp=np.empty_like(x)
    B=1<<14; zeros=np.zeros(B, dt)
    def chunked():
        for i in range(0, n, B):
            j=min(n, i+B); np.maximum(x[i:j], zeros[:j-i], out=y[i:j])
    yy=np.maximum(x,0)
    def sign_bw():
        np.sign(yy, out=tmp); np.multiply(dy, tmp, out=dx)
    def gt_float():
        np.greater(yy, 0, out=tmp, casting="unsafe"); np.multiply(dy, tmp, out=dx)
    def chunk_bw():
        for i in range(0, n, B):
            j=min(n,i+B); s=tmp[:j-i]; np.greater(yy[i:j], 0, out=s, casting="unsafe"); np.multiply(dy[i:j], s, out=dx[i:j])
    print(dt.__name__, f"fwd max scalar {t(lambda: np.maximum(x,0,out=y)):.3f} chunked vs zeros {t(chunked):.3f} | bwd current {t(lambda: np.multiply(dy, yy>0, out=dx)):.3f} sign {t(sign_bw):.3f} greater->float {t(gt_float):.3f} chunked greater->float {t(chunk_bw):.3f}")
