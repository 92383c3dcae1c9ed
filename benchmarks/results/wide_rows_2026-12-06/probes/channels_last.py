import sys, time
import numpy as np
from numpy.lib.stride_tricks import as_strided
sys.path.insert(0, "/work/main")
from minimal_unet.ops._im2col import transposed
def med(f, n=15):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[n // 2] * 1e3
rng = np.random.default_rng(0)
for C, F, H in ((16, 16, 250), (32, 32, 122), (32, 32, 570)):
    W = H; oH = oW = H - 2
    x = rng.standard_normal((C, H, W)).astype(np.float32)
    w = rng.standard_normal((F, C, 3, 3)).astype(np.float32)
    x2 = x.reshape(C, H * W)
    ta = med(lambda: x2.T.copy())
    tat = med(lambda: transposed(x2, 8))
    xhwc = x2.T.copy().reshape(H, W, C)
    colsT = np.empty((oH, oW, 3, 3 * C), np.float32)
    s0, s1, s2 = xhwc.strides
    def gather():
        for i in range(3):
            v = as_strided(xhwc[i:], shape=(oH, oW, 3 * C), strides=(s0, s1, s2))
            colsT[:, :, i] = v
    tb = med(gather)
    cT = colsT.reshape(oH * oW, 9 * C)
    wT = np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(9 * C, F))  # (i,j,c) x F
    tc = med(lambda: cT @ wT)
    yT = cT @ wT
    td = med(lambda: yT.T.copy())
    tdt = med(lambda: transposed(yT, 8))
    # check
    from minimal_unet.ops.conv2d import conv2d_forward
    y0 = conv2d_forward(x[None], w, np.zeros(F, np.float32))[0][0].reshape(F, -1)
    err = np.abs(yT.T - y0).max()
    print(f"{C}->{F} @{H}: x->hwc {ta:.2f} (slabs {tat:.2f}) gatherT {tb:.2f} gemmT {tc:.2f} yT->y {td:.2f} (slabs {tdt:.2f}) err {err:.1e}", flush=True)
