"""upconv2d.py - the two rearrangement kernels of the 2x2 stride-2 up-convolution (Numba CUDA).

Shapes:    x (N, Ci, H, W), w (Ci, Co, 2, 2) like torch ConvTranspose2d, b (Co,),
           y (N, Co, 2H, 2W); cols and dcols (N, Co*4, H*W).
The up-convolution y[n,o,2i+a,2j+c] = b[o] + sum_ci x[n,ci,i,j] w[ci,o,a,c] is a matrix
product followed by a rearrangement ("depth to space"):
    cols[n] = w.reshape(Ci, Co*4).T @ x[n].reshape(Ci, H*W)       # (Co*4, H*W), matmul.py
    y[n, o, 2i+a, 2j+c] = b[o] + cols[n, (o*2 + a)*2 + c, i*W + j]  # upconv_scatter
and its backward starts with the inverse rearrangement ("space to depth"):
    dcols[n, (o*2 + a)*2 + c, i*W + j] = dy[n, o, 2i+a, 2j+c]       # upconv_gather
    dx[n] = w.reshape(Ci, Co*4) @ dcols[n];  dw = sum_n x[n] @ dcols[n].T   (matmul.py)
    db = sum over n, h, w of dy                                     (bias.py)
Both kernels are one thread per element they write, and each reads exactly one element: no
atomics and no overlap, because stride 2 with a 2x2 kernel tiles the output exactly.
Threads:   upconv_scatter: one logical thread per y element, flat over (N, Co, 2H, 2W).
           upconv_gather:  one logical thread per dy element, flat over (N, Co, 2H, 2W).
           Both are grid-stride loops (thread g handles g, g + G, ...; G = cuda.gridsize(1)).
Launch:    grid = (blocks,), block = (threads,).
Matches:   minimal_unet.ops.upconv2d_forward / upconv2d_backward
           (and kernels/cuda/upconv2d.cu, thread for thread).
"""

from numba import cuda


@cuda.jit
def upconv_scatter(cols, b, y):
    """y (N, Co, 2H, 2W) = b[o] + cols (N, Co*4, H*W) rearranged depth to space."""
    N, Co, H2, W2 = y.shape
    W = W2 // 2
    for idx in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        yw = idx % W2
        yh = (idx // W2) % H2
        o = (idx // (W2 * H2)) % Co
        n = idx // (W2 * H2 * Co)
        i = yh // 2
        a = yh % 2
        j = yw // 2
        c = yw % 2
        row = (o * 2 + a) * 2 + c  # the row of cols holding w[:, o, a, c] . x[n, :, i, j]
        y[n, o, yh, yw] = b[o] + cols[n, row, i * W + j]


@cuda.jit
def upconv_gather(dy, dcols):
    """dcols (N, Co*4, H*W) = dy (N, Co, 2H, 2W) rearranged space to depth."""
    N, Co, H2, W2 = dy.shape
    W = W2 // 2
    for idx in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        yw = idx % W2
        yh = (idx // W2) % H2
        o = (idx // (W2 * H2)) % Co
        n = idx // (W2 * H2 * Co)
        i = yh // 2
        a = yh % 2
        j = yw // 2
        c = yw % 2
        dcols[n, (o * 2 + a) * 2 + c, i * W + j] = dy[n, o, yh, yw]
