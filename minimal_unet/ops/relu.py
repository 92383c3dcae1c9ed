"""ReLU, the U-Net's nonlinearity after every 3x3 convolution.

Shape legend (as in every op module):
    N  batch size          C  channels          H, W  height, width

ReLU is elementwise, so it accepts an array of any shape; in the U-Net it always sees
(N, C, H, W) feature maps. Arrays are float32 or float64 and the output has the input's dtype.

    y = max(x, 0)                      dL/dx = dL/dy * [y > 0]

The derivative at x == 0 is taken as 0 (the subgradient PyTorch uses too). The cache holds
the output y, not x: y > 0 exactly where x > 0, and y is what the next layer keeps anyway.
"""

import numpy as np

from minimal_unet.ops import _threads
from minimal_unet.ops._checks import check_float_array, check_same_dtype, check_shape


def relu_forward(x):
    """Rectified linear unit, y = max(x, 0) elementwise.

    Args:
        x: float32/float64 array of any shape, usually (N, C, H, W).
    Returns:
        y: same shape and dtype as x.
        cache: (y,), the output, which is all the backward pass needs.
    """
    check_float_array("x", x)
    y = np.empty(x.shape, dtype=x.dtype)
    xf, yf = np.ravel(x), y.reshape(-1)  # flat views (xf is a copy if x is not contiguous)
    # y = max(x, 0), the Python 0 keeps x's dtype; in parts on every core (ops/_threads.py)
    _threads.map_chunks(lambda part: np.maximum(xf[part], 0, out=yf[part]), xf.size,
                        x.itemsize)
    cache = (y,)
    return y, cache


def relu_backward(dy, cache):
    """Gradient of ReLU: dL/dx = dL/dy where y > 0, else 0.

    Args:
        dy: upstream gradient dL/dy, same shape and dtype as the forward output.
        cache: (y,) from relu_forward.
    Returns:
        dx: dL/dx, same shape and dtype as dy.
    """
    (y,) = cache
    check_float_array("dy", dy)
    check_shape("dy", dy, y.shape)
    check_same_dtype(dy=dy, y=y)
    # Replaces the naive loop's `dx = dy if y > 0 else 0`: multiplying by the bool mask
    # (True -> 1, False -> 0) writes dy or 0 straight into one new array of dy's dtype.
    # In parts on every core (ops/_threads.py).
    dx = np.empty(dy.shape, dtype=dy.dtype)
    dyf, yf, dxf = np.ravel(dy), np.ravel(y), dx.reshape(-1)  # flat (copies if not contiguous)
    _threads.map_chunks(lambda part: np.multiply(dyf[part], yf[part] > 0, out=dxf[part]),
                        dxf.size, 2 * dy.itemsize)
    return dx


def relu_forward_naive(x):
    """ReLU with an explicit loop over every element; same signature as relu_forward."""
    check_float_array("x", x)
    # BEGIN SOLUTION
    # HINT: loop over np.ndindex(x.shape): y is x where x > 0 and 0 elsewhere; return y, (y,)
    y = np.empty_like(x)
    for index in np.ndindex(x.shape):
        y[index] = x[index] if x[index] > 0 else 0
    cache = (y,)
    return y, cache
    # END SOLUTION


def relu_backward_naive(dy, cache):
    """ReLU backward with an explicit loop; same signature as relu_backward."""
    (y,) = cache
    check_float_array("dy", dy)
    check_shape("dy", dy, y.shape)
    check_same_dtype(dy=dy, y=y)
    # BEGIN SOLUTION
    # HINT: loop over np.ndindex(y.shape): dx is dy where y > 0 and 0 elsewhere
    dx = np.empty_like(dy)
    for index in np.ndindex(y.shape):
        # dy/dx is 1 where the unit was active (y > 0) and 0 where it was clipped.
        dx[index] = dy[index] if y[index] > 0 else 0
    return dx
    # END SOLUTION
