import sys, time
import numpy as np
sys.path.insert(0, "/work/main")
from minimal_unet.ops.conv2d import conv2d_forward
def med(f, n=21):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[n // 2] * 1e3
def fwd3(x, w, b):
    N, C, H, W = x.shape; F = w.shape[0]; oH, oW = H - 2, W - 2
    xf = x[0].reshape(C, H * W)
    L = oH * W
    cols3 = np.empty((C, 3, L + 2 * W), x.dtype)   # c, kx, p
    for kx in range(3):
        n = min(L + 2 * W, H * W - kx)
        cols3[:, kx, :n] = xf[:, kx:kx + n]
        cols3[:, kx, n:] = 0
    c3 = cols3.reshape(3 * C, L + 2 * W)
    wk = w.transpose(2, 0, 1, 3).reshape(3, F, 3 * C)  # ky, f, (c, kx)
    yw = np.empty((F, L), x.dtype); tmp = np.empty_like(yw)
    np.matmul(wk[0], c3[:, 0:L], out=yw)
    for ky in (1, 2):
        np.matmul(wk[ky], c3[:, ky * W: ky * W + L], out=tmp)
        yw += tmp
    y = yw.reshape(F, oH, W)[:, :, :oW] + b[:, None, None]
    return y[None]
rng = np.random.default_rng(0)
for C, F, H in ((16, 16, 250), (32, 32, 122), (16, 32, 124)):
    x = rng.standard_normal((1, C, H, H)).astype(np.float32); w = rng.standard_normal((F, C, 3, 3)).astype(np.float32); b = rng.standard_normal(F).astype(np.float32)
    y0 = conv2d_forward(x, w, b)[0]; y1 = fwd3(x, w, b)
    print(C, F, H, "maxdiff", float(np.abs(y0 - y1).max()), "current %.2f ms  3-shift %.2f ms" % (med(lambda: conv2d_forward(x, w, b)), med(lambda: fwd3(x, w, b))))
