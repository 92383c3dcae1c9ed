"""relu.py - ReLU forward and backward, elementwise (Numba CUDA).

Computes   relu_forward:  y[i]  = max(x[i], 0), NaN stays NaN
           relu_backward: dx[i] = dy[i] if y[i] > 0 else 0   (the cache holds y, not x)
Threads:   one logical thread per element i of the flat C-order array (N*C*H*W elements),
           written as a grid-stride loop: thread g handles i = g, g + G, g + 2G, ... where
           G = cuda.gridsize(1). On a GPU the launcher starts ceil(total / 256) blocks, so
           every thread runs the loop body once (the mapping of kernels/cuda/relu.cu);
           under the simulator it starts few threads and each one loops.
Launch:    grid = (blocks,), block = (threads,); the arrays are passed flat (x.reshape(-1)).
Matches:   minimal_unet.ops.relu_forward / relu_backward.
"""

from numba import cuda


@cuda.jit
def relu_forward(x, y):
    """y = max(x, 0) on flat arrays of the same size and dtype."""
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        v = x[i]
        if v > 0 or v != v:  # v != v: NaN stays NaN (as np.maximum and PyTorch)
            y[i] = v
        else:
            y[i] = 0


@cuda.jit
def relu_backward(dy, y, dx):
    """dx = dy * 1[y > 0] on flat arrays: dL/dx = dL/dy where the unit was active."""
    for i in range(cuda.grid(1), dy.size, cuda.gridsize(1)):
        if y[i] > 0:
            dx[i] = dy[i]
        else:
            dx[i] = 0
