"""sgd_momentum.py - the fused SGD-with-momentum update (Caffe's SGD), in place (Numba CUDA).

Computes   velocity[i] = momentum * velocity[i] - lr * grad[i]
           param[i]   += velocity[i]
           in one pass over the three arrays instead of the three passes of the NumPy
           expression.
Threads:   one logical thread per parameter element, flat C order, as a grid-stride loop.
Launch:    grid = (blocks,), block = (threads,); arrays passed flat (param.reshape(-1));
           lr and momentum are passed as scalars of the parameter's dtype.
Matches:   minimal_unet.optim.sgd_momentum_update (and kernels/cuda/sgd_momentum.cu).
"""

from numba import cuda


@cuda.jit
def sgd_momentum(param, grad, velocity, lr, momentum):
    """In place: v = momentum * v - lr * g; p += v (flat arrays, one dtype)."""
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        v = momentum * velocity[i] - lr * grad[i]
        velocity[i] = v
        param[i] += v
