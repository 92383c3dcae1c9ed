"""dropout.py - inverted dropout with a counter-based hash random number generator, and its
exact NumPy twin (Numba CUDA).

Computes   u[i] = uniform(seed, i) in [0, 1): the top 24 bits of splitmix64(seed + (i+1)*G),
           G = 0x9E3779B97F4A7C15, times 2^-24 (exact in float32 and float64);
           keep[i] = u[i] >= p (bool, the cache of the NumPy reference), scale = 1 / (1 - p);
           forward:  y[i] = (x[i] * keep[i]) * scale;  backward: dx = (dy * keep) * scale,
           in the NumPy reference's order of operations (NaN * 0 = NaN included).
           Each element's random number depends only on (seed, i), not on the launch shape
           or on which thread computes it, so the mask is reproducible and has an exact
           NumPy twin, dropout_mask_numpy below. `uniform_from_counter` is one plain
           function used by both: NumPy runs it on whole uint64 arrays, and cuda.jit
           compiles the very same lines into the device function the kernel calls. The
           formula is the one of kernels/cuda/dropout.cu, so one seed gives one mask in
           both GPU backends.
           (Under NUMBA_ENABLE_CUDASIM=1 the hash runs on NumPy uint64 scalars, which warn
           "overflow encountered in scalar multiply": the wrap-around modulo 2^64 is
           intended, exactly as on the GPU and in the array twin, which do not warn.)
Threads:   one logical thread per element of the flat C-order arrays, grid-stride loops.
Launch:    grid = (blocks,), block = (threads,); seed np.uint64, p np.float64, scale of the
           arrays' dtype.
Matches:   minimal_unet.ops.dropout_forward / dropout_backward in distribution (inverted
           dropout, E[y] = x, P(keep) = 1 - p); bit for bit: dropout_mask_numpy.
"""

import numpy as np
from numba import cuda

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: the counter's step
MIX1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's two multipliers
MIX2 = np.uint64(0x94D049BB133111EB)


def uniform_from_counter(seed, counter):
    """u in [0, 1) from (seed, counter), both uint64 (scalars or arrays): splitmix64.

    All arithmetic wraps modulo 2^64. The top 24 bits become a float64 multiple of 2^-24.
    """
    z = seed + (counter + np.uint64(1)) * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)) * (1.0 / 16777216.0)  # 24 random bits -> [0, 1)


uniform_from_counter_device = cuda.jit(device=True)(uniform_from_counter)


@cuda.jit
def dropout_forward(x, y, keep, seed, p, scale):
    """keep[i] = u >= p (keep with probability 1 - p); y = (x * keep) * scale (flat arrays)."""
    zero = scale - scale  # 0 in the arrays' dtype
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        u = uniform_from_counter_device(seed, np.uint64(i))
        k = u >= p
        keep[i] = k
        if k:
            y[i] = x[i] * scale
        else:
            y[i] = (x[i] * zero) * scale  # 0, or NaN for a NaN input, as NumPy's x * False


@cuda.jit
def dropout_backward(dy, keep, dx, scale):
    """dx = (dy * keep) * scale: dL/dx = dL/dy * keep / (1 - p) (flat arrays)."""
    zero = scale - scale
    for i in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        if keep[i]:
            dx[i] = dy[i] * scale
        else:
            dx[i] = (dy[i] * zero) * scale


def dropout_mask_numpy(seed, size, p, dtype):
    """The NumPy twin of the kernel's scaled mask: (size,) array of dtype, scale or 0.

    seed: the kernel's uint64 seed; p: drop probability in [0, 1); dtype: float32/float64.
    """
    counters = np.arange(size, dtype=np.uint64)  # (size,): the element indices i
    u = uniform_from_counter(np.uint64(seed), counters)  # (size,) float64 in [0, 1)
    scale = np.dtype(dtype).type(1.0 / (1.0 - p))
    return np.where(u >= p, scale, np.dtype(dtype).type(0))  # (size,), dtype


def dropout_forward_numpy(x, seed, p):
    """The NumPy twin of dropout_forward: (y, keep) for a float array x of any shape."""
    keep = dropout_mask_numpy(seed, x.size, p, x.dtype).reshape(x.shape) != 0  # x's shape
    y = np.multiply(x, keep)
    y *= 1.0 / (1.0 - p)
    return y, keep
