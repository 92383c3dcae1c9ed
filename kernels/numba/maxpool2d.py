"""maxpool2d.py - 2x2 max-pooling with stride 2, forward and backward (Numba CUDA).

Shapes:    x (N, C, H, W) with H, W even; y and argmax (N, C, oH, oW), oH = H/2, oW = W/2.
Computes   forward:  y[n,c,i,j] = max of the window x[n, c, 2i:2i+2, 2j:2j+2], and the
                     window position of that maximum, argmax[n,c,i,j] in
                     {0: top-left, 1: top-right, 2: bottom-left, 3: bottom-right}.
                     Ties: the first maximum in that order wins (strict ">" while scanning
                     0, 1, 2, 3), as in the NumPy reference. A window holding a NaN gives
                     NaN, its arg-max the first NaN in that order (as PyTorch).
           backward: a gather: each input element (n, c, h, w) reads the one output
                     gradient of its window, dy[n, c, h//2, w//2], and keeps it only if its
                     window position (h%2)*2 + (w%2) is the arg-max (no atomics).
Threads:   forward: one logical thread per output element, flat index over (N, C, oH, oW);
           backward: one logical thread per input element, flat index over (N, C, H, W);
           both as grid-stride loops (thread g handles g, g + G, ...; G = cuda.gridsize(1)).
Launch:    grid = (blocks,), block = (threads,).
Matches:   minimal_unet.ops.maxpool2d_forward / maxpool2d_backward
           (the arg-max is uint8, as in the NumPy cache).
"""

from numba import cuda


@cuda.jit
def maxpool2d_forward(x, y, argmax):
    """y, argmax (N, C, H/2, W/2) from x (N, C, H, W); argmax uint8 in 0..3."""
    N, C, oH, oW = y.shape
    for idx in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        j = idx % oW
        i = (idx // oW) % oH
        c = (idx // (oW * oH)) % C
        n = idx // (oW * oH * C)
        best = x[n, c, 2 * i, 2 * j]  # window position 0: top-left
        best_k = 0
        for k in range(1, 4):  # 1: top-right, 2: bottom-left, 3: bottom-right
            if best != best:  # a NaN wins the window: the first NaN in window order
                break
            v = x[n, c, 2 * i + k // 2, 2 * j + k % 2]
            if v > best or v != v:  # strict: the first maximum wins a tie
                best = v
                best_k = k
        y[n, c, i, j] = best
        argmax[n, c, i, j] = best_k


@cuda.jit
def maxpool2d_backward(dy, argmax, dx):
    """dx (N, C, H, W): dy routed to each window's arg-max, 0 elsewhere."""
    N, C, H, W = dx.shape
    for idx in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        w = idx % W
        h = (idx // W) % H
        c = (idx // (W * H)) % C
        n = idx // (W * H * C)
        i = h // 2
        j = w // 2
        position = (h % 2) * 2 + (w % 2)  # this element's place in its window
        if argmax[n, c, i, j] == position:
            dx[n, c, h, w] = dy[n, c, i, j]
        else:
            dx[n, c, h, w] = 0
