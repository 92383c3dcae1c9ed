"""im2col.py - the two data-movement kernels of a convolution computed as matrix products
(Numba CUDA).

Shapes:    x (N, C, H, W), zero padding `pad` on each side, kernel kH x kW, stride 1,
           oH = H + 2*pad - kH + 1, oW = W + 2*pad - kW + 1, K = C*kH*kW, S = oH*oW.
Computes   im2col: cols[n, (c*kH + ki)*kW + kj, oh*oW + ow] = x[n, c, oh+ki-pad, ow+kj-pad]
                   (0 where that index falls in the padding), cols of shape (N, K, S).
                   The convolution is then y[n] = w.reshape(F, K) @ cols[n]  (matmul.py).
           col2im: the adjoint of im2col, written as a gather: every input element sums
                   the dcols entries that were copied from it,
                   dx[n,c,h,w] = sum_{ki,kj} dcols[n, (c*kH+ki)*kW+kj, oh*oW+ow]
                   with oh = h+pad-ki, ow = w+pad-kj inside [0,oH) x [0,oW).
                   Each thread writes its own element, so no atomics are needed and the
                   sum order (ki, then kj) is fixed: the result is deterministic.
Threads:   im2col: one logical thread per cols element, flat over (N, K, S) (S fastest, so
           neighbouring threads write neighbouring columns).
           col2im: one logical thread per dx element, flat over (N, C, H, W).
           Both are grid-stride loops (thread g handles g, g + G, ...; G = cuda.gridsize(1)).
Launch:    grid = (blocks,), block = (threads,).
Matches:   the im2col / col2im steps inside minimal_unet.ops.conv2d_forward / _backward
           (and kernels/cuda/im2col.cu, thread for thread).
"""

from numba import cuda


@cuda.jit
def im2col(x, cols, kH, kW, pad):
    """cols (N, C*kH*kW, oH*oW) from x (N, C, H, W), zero-padded by `pad`."""
    N, C, H, W = x.shape
    K = cols.shape[1]
    S = cols.shape[2]
    oW = W + 2 * pad - kW + 1
    for idx in range(cuda.grid(1), cols.size, cuda.gridsize(1)):
        s = idx % S
        k = (idx // S) % K
        n = idx // (S * K)
        ow = s % oW
        oh = s // oW
        kj = k % kW
        ki = (k // kW) % kH
        c = k // (kW * kH)
        h = oh + ki - pad  # the input row and column this entry copies
        w = ow + kj - pad
        if 0 <= h < H and 0 <= w < W:
            cols[n, k, s] = x[n, c, h, w]
        else:
            cols[n, k, s] = 0  # zero padding


@cuda.jit
def col2im(dcols, dx, kH, kW, pad):
    """dx (N, C, H, W): each element gathers the dcols entries im2col copied it to."""
    N, C, H, W = dx.shape
    oH = H + 2 * pad - kH + 1
    oW = W + 2 * pad - kW + 1
    for idx in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        w = idx % W
        h = (idx // W) % H
        c = (idx // (W * H)) % C
        n = idx // (W * H * C)
        total = 0.0  # a float64 sum (at most kH*kW terms), rounded to dx's dtype on store
        for ki in range(kH):
            oh = h + pad - ki  # the output row whose window put x[h] at kernel row ki
            if 0 <= oh < oH:
                for kj in range(kW):
                    ow = w + pad - kj
                    if 0 <= ow < oW:
                        total += dcols[n, (c * kH + ki) * kW + kj, oh * oW + ow]
        dx[n, c, h, w] = total
