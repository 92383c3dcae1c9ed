"""elementwise.py - the two array helpers a network step needs: add and fill (Numba CUDA).

Computes   add:  out[i] = a[i] + b[i]   (gradients of a feature map used twice are summed
                                          with it, `d_enc = d_from_pool + d_from_skip`)
           fill: out[i] = value          (zeros_like fills with 0)
Threads:   one logical thread per element of the flat C-order arrays, as a grid-stride
           loop (thread g handles g, g + G, ...; G = cuda.gridsize(1)).
Launch:    grid = (blocks,), block = (threads,); arrays passed flat (a.reshape(-1)).
Matches:   minimal_unet.backends.numpy_backend.add / zeros_like.
"""

from numba import cuda


@cuda.jit
def add(a, b, out):
    """out = a + b on flat arrays of one size and dtype."""
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = a[i] + b[i]


@cuda.jit
def fill(out, value):
    """out[:] = value on a flat array; value already has out's dtype."""
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = value
