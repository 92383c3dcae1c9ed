"""adam.py - the fused Adam update (Kingma & Ba 2015), in place (Numba CUDA).

Computes   m[i] = b1 * m[i] + (1 - b1) * g[i]          v[i] = b2 * v[i] + (1 - b2) * g[i]^2
           param[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + eps)
           with c1 = 1 - b1^t, c2 = 1 - b2^t (t = 1, 2, ...) computed once on the host.
Threads:   one logical thread per parameter element, flat C order, as a grid-stride loop.
Launch:    grid = (blocks,), block = (threads,); arrays passed flat; every scalar in the
           parameters' dtype.
Matches:   minimal_unet.optim.adam_update (and kernels/cuda/adam.cu).
"""

import math

from numba import cuda


@cuda.jit
def adam(param, grad, m, v, lr, b1, one_minus_b1, b2, one_minus_b2, c1, c2, eps):
    """In place Adam step on flat arrays of one dtype (see the module docstring)."""
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        g = grad[i]
        mi = b1 * m[i] + one_minus_b1 * g
        vi = b2 * v[i] + one_minus_b2 * (g * g)
        m[i] = mi
        v[i] = vi
        param[i] -= lr * (mi / c1) / (math.sqrt(vi / c2) + eps)
