import sys, time
import numpy as np
from threadpoolctl import threadpool_limits
def med(f, n=21):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[n // 2]
rng = np.random.default_rng(0)
with threadpool_limits(1):
  for M, K in ((16, 144), (32, 288), (64, 576), (32, 144)):
    line = f"M{M} K{K}:"
    for N in (512, 2048, 8192, 32768, 131072):
        a = rng.standard_normal((M, K)).astype(np.float32); b = rng.standard_normal((K, N)).astype(np.float32)
        o = np.empty((M, N), np.float32)
        t = med(lambda: np.matmul(a, b, out=o))
        bt = b.T.copy()  # (N, K)
        o2 = np.empty((N, M), np.float32)
        t2 = med(lambda: np.matmul(bt, a.T, out=o2))
        line += f" N{N} {2*M*K*N/t/1e9:.0f}/{2*M*K*N/t2/1e9:.0f}"
    print(line, "GFLOP/s (w@cols / colsT@wT), 1 thread", flush=True)
