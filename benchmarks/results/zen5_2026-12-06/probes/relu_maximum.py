import time, statistics, numpy as np
def t(f, rep=51):
    f(); ts=[]
    for _ in range(rep):
        a=time.perf_counter(); f(); ts.append(time.perf_counter()-a)
    return statistics.median(ts)*1e3
rng=np.random.default_rng(0)
for dt in (np.float32, np.float64):
    x=rng.standard_normal(16*248*248).astype(dt); y=np.empty_like(x); m=np.empty(x.shape, bool)
    z=np.zeros(1, dt)
    print(dt.__name__,
      f"max(x,0) {t(lambda: np.maximum(x,0,out=y)):.3f}",
      f"max(x,dt(0)) {t(lambda: np.maximum(x,dt(0),out=y)):.3f}",
      f"max(x,z) {t(lambda: np.maximum(x,z,out=y)):.3f}",
      f"fmax(x,0) {t(lambda: np.fmax(x,0,out=y)):.3f}",
      f"clip {t(lambda: np.clip(x,0,None,out=y)):.3f}",
      f"copy {t(lambda: np.copyto(y,x)):.3f}",
      f"mul {t(lambda: np.multiply(x,2,out=y)):.3f}",
      f"greater {t(lambda: np.greater(x,0,out=m)):.3f}",
      f"mul mask {t(lambda: np.multiply(x,x>0,out=y)):.3f}")
for dt in (np.float32,):
    x=rng.standard_normal(16*248*248).astype(dt); y=np.empty_like(x); m=np.empty(x.shape, bool)
    print("abs", f"{t(lambda: np.abs(x,out=y)):.3f}", "where", f"{t(lambda: np.where(x>0,x,0)):.3f}",
          "copyto-where", f"{t(lambda: (np.copyto(y,x), np.copyto(y,0,where=np.less(x,0,out=m)))):.3f}",
          "minimum", f"{t(lambda: np.minimum(x,0,out=y)):.3f}", "max(x,x)", f"{t(lambda: np.maximum(x,x,out=y)):.3f}")
