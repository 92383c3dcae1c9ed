"""softmax_ce.py - pixel-wise softmax cross-entropy with per-pixel weights, its gradient, and
the deterministic reduction that turns per-pixel losses into the mean (Numba CUDA).

Shapes:    logits (N, K, S) (the (N, K, H, W) maps with S = H*W), target (N, S) integers in
           [0, K), weight (N, S) (when has_weight == 0 a (1, 1) placeholder that is never
           read), P = N*S pixels; pixel_loss (N, S); dlogits (N, K, S).
Computes   softmax_ce_pixels, one thread per pixel (n, s):
             m = max_k z_k,  lse = m + log(sum_k exp(z_k - m))     (finite at +-1e4)
             pixel_loss[n, s] = weight * (lse - z_target)          (= -weight log p_target)
             dlogits[n, k, s] = weight * (exp(z_k - lse) - 1[k == target]) * inv_count
           with inv_count = 1/P. The sums over k and the weight are held in float64 for
           both dtypes (Python float literals type as float64 in Numba); the stores round
           to the logits' dtype. A target outside [0, K) sets bad_target[0] = 1 (every such
           thread stores the same 1, so the race is harmless) and leaves that pixel's
           outputs unwritten; the launcher reads the flag and raises a ValueError.
           sum_reduce, the deterministic sum: out[b] = scale * (sum of block b's share of
           values). Thread t of block b adds the elements b*T + t, b*T + t + G*T, ... in a
           fixed order, then the block adds its T partial sums with a fixed shared-memory
           tree. The launcher runs it twice: G blocks -> G partial sums, then one block with
           scale = 1/P -> the mean. Same bits every run (no float atomics).
Threads:   softmax_ce_pixels: one logical thread per pixel, flat over (N, S), grid-stride.
           sum_reduce: T threads per block, G blocks, as described above.
Launch:    softmax_ce_pixels: grid = (blocks,), block = (threads,).
           sum_reduce: grid = (G,), block = (T,) with T the power of two the kernel was made
           with: make_sum_reduce_kernel(dtype, threads).
Matches:   minimal_unet.ops.softmax_cross_entropy (loss and dlogits)
           (and kernels/cuda/softmax_ce.cu).
"""

import functools
import math

import numba
import numpy as np
from numba import cuda


@cuda.jit
def softmax_ce_pixels(logits, target, weight, has_weight, inv_count, pixel_loss, dlogits,
                      bad_target):
    """Per-pixel weighted cross-entropy and its gradient (see the header)."""
    N, K, S = logits.shape
    for idx in range(cuda.grid(1), N * S, cuda.gridsize(1)):
        s = idx % S
        n = idx // S
        label = target[n, s]
        if label < 0 or label >= K:
            bad_target[0] = 1
            continue
        m = logits[n, 0, s]
        for k in range(1, K):
            m = max(m, logits[n, k, s])
        sum_exp = 0.0
        for k in range(K):
            sum_exp += math.exp(logits[n, k, s] - m)
        lse = m + math.log(sum_exp)  # log sum_k exp(z_k), without overflow
        wgt = 1.0
        if has_weight == 1:
            wgt = weight[n, s]
        pixel_loss[n, s] = wgt * (lse - logits[n, label, s])
        scale = wgt * inv_count
        for k in range(K):
            prob = math.exp(logits[n, k, s] - lse)  # softmax probability of class k
            if k == label:
                dlogits[n, k, s] = scale * (prob - 1.0)
            else:
                dlogits[n, k, s] = scale * prob


@functools.cache
def make_sum_reduce_kernel(dtype, threads):
    """Return the block-sum kernel for one float dtype and a power-of-two block size."""
    real_t = numba.from_dtype(np.dtype(dtype))

    @cuda.jit
    def sum_reduce(values, out, scale):
        """out[b] = scale * sum of block b's grid-strided share of the flat `values`."""
        partial = cuda.shared.array(threads, real_t)  # one running sum per thread
        t = cuda.threadIdx.x
        total = real_t(0)
        for i in range(cuda.blockIdx.x * threads + t, values.size, cuda.gridDim.x * threads):
            total += values[i]
        partial[t] = total
        cuda.syncthreads()
        half = threads // 2
        while half > 0:  # tree: T -> T/2 -> ... -> 1; every thread reaches every barrier
            if t < half:
                partial[t] += partial[t + half]
            cuda.syncthreads()
            half //= 2
        if t == 0:
            out[cuda.blockIdx.x] = scale * partial[0]

    return sum_reduce
