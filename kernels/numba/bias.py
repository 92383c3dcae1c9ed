"""bias.py - add a per-channel bias, and its gradient as a deterministic reduction (Numba CUDA).

Shapes:    y, dy (N, F, S) with S = H*W (the NCHW maps viewed with H and W flattened), b (F,).
Computes   add_bias:  y[n, f, s] += b[f]                     (in place, after the matmul)
           bias_grad: db[f] = sum_{n, s} dy[n, f, s]
             A deterministic block reduction: each thread adds a fixed, strided subset of
             the N*S terms in a fixed order, then the block halves the partial sums in
             shared memory (a fixed-order tree). No float atomics, so the result is the
             same bit for bit on every run.
Threads:   add_bias: one logical thread per element of y, flat over (N, F, S), grid-stride.
           bias_grad: one block per channel f (blockIdx.x = f); thread t sums the terms
             t, t + T, t + 2T, ... of the N*S terms of that channel (T = threads per block).
Launch:    add_bias: grid = (blocks,), block = (threads,).
           bias_grad: grid = (F,), block = (T,) with T the `threads` the kernel was made
           with, a power of two (the tree assumes it); make_bias_grad_kernel(dtype, threads).
Matches:   the bias terms of minimal_unet.ops.conv2d_forward / upconv2d_forward and db of
           conv2d_backward / upconv2d_backward (kernels/cuda/bias_grad.cu).
"""

import functools

import numba
import numpy as np
from numba import cuda


@cuda.jit
def add_bias(y, b):
    """In place y[n, f, s] += b[f]; y (N, F, S), b (F,)."""
    N, F, S = y.shape
    for idx in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        s = idx % S
        f = (idx // S) % F
        n = idx // (S * F)
        y[n, f, s] += b[f]


@functools.cache
def make_bias_grad_kernel(dtype, threads):
    """Return the bias-gradient kernel for one float dtype and a power-of-two block size."""
    real_t = numba.from_dtype(np.dtype(dtype))

    @cuda.jit
    def bias_grad(dy, db):
        """db (F,) = dy (N, F, S) summed over n and s; one block per channel."""
        partial = cuda.shared.array(threads, real_t)  # one running sum per thread
        N, F, S = dy.shape
        f = cuda.blockIdx.x
        t = cuda.threadIdx.x
        total = real_t(0)
        for i in range(t, N * S, threads):  # this thread's fixed, strided share
            n = i // S
            s = i % S
            total += dy[n, f, s]
        partial[t] = total
        cuda.syncthreads()
        half = threads // 2
        while half > 0:  # tree: T -> T/2 -> ... -> 1; every thread reaches every barrier
            if t < half:
                partial[t] += partial[t + half]
            cuda.syncthreads()
            half //= 2
        if t == 0:
            db[f] = partial[0]

    return bias_grad
