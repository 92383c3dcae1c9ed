"""Inverted dropout, used at the end of the U-Net's contracting path.

Shape legend (as in every op module):
    N  batch size        C  channels        H, W  height, width

Dropout is elementwise, so it accepts an array of any shape; in the U-Net it sees
(N, C, H, W) feature maps. During training each unit is kept with probability 1 - p and the
kept units are scaled by 1 / (1 - p), so that the expected output equals the input and
nothing needs rescaling at test time ("inverted" dropout, as in PyTorch):

    mask = (u >= p) with u ~ Uniform[0, 1) drawn per element     (P(keep) = 1 - p)
    y = x * mask / (1 - p)                dL/dx = dL/dy * mask / (1 - p)

The uniforms are drawn in float64 from the caller's numpy Generator in C order, whatever
x's dtype, so one seed gives one mask for float32 and float64 alike.

The cache is (mask, scale): the bool keep-mask (x's shape) and scale = 1 / (1 - p). When
train is False or p == 0 the layer is the identity, draws nothing, and its cache is
(None, 1.0); the backward pass then passes dL/dy straight through.
"""

import numbers

import numpy as np

from minimal_unet.ops._checks import check_float_array, check_shape


def _check_inputs(x, p, rng, train):
    check_float_array("x", x)
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p: expected a real number in [0, 1), got {type(p).__name__}")
    if not 0 <= p < 1:
        raise ValueError(f"p: expected a drop probability in [0, 1), got {p}")
    if train and p > 0 and not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng: expected a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )


def _check_upstream(dy, mask):
    check_float_array("dy", dy)
    if mask is not None:
        check_shape("dy", dy, mask.shape)


def dropout_forward(x, p, rng, train=True):
    """Inverted dropout: zero each unit with probability p, scale the rest by 1 / (1 - p).

    Args:
        x: float32/float64 array of any shape, usually (N, C, H, W).
        p: drop probability, a real number in [0, 1).
        rng: numpy.random.Generator the mask is drawn from (unused when the layer is the
            identity, and may then be None).
        train: False makes the layer the identity (inference).
    Returns:
        y: x's shape and dtype.
        cache: (mask, scale), mask a bool array of x's shape and scale = 1 / (1 - p);
            (None, 1.0) when the layer is the identity.
    """
    _check_inputs(x, p, rng, train)
    if not train or p == 0:
        return x.copy(), (None, 1.0)
    scale = 1.0 / (1.0 - p)
    mask = rng.random(x.shape) >= p  # x's shape, bool: True keeps the unit
    y = np.multiply(x, mask)  # x's shape and dtype: x where kept, 0 where dropped
    y *= scale  # kept units scaled by 1 / (1 - p)
    cache = (mask, scale)
    return y, cache


def dropout_backward(dy, cache):
    """Gradient of inverted dropout: dL/dx = dL/dy * mask / (1 - p).

    Args:
        dy: upstream gradient, the forward input's shape, float32/float64.
        cache: (mask, scale) from dropout_forward.
    Returns:
        dx: dy's shape and dtype (a new array, even for the identity).
    """
    mask, scale = cache
    _check_upstream(dy, mask)
    if mask is None:  # the forward pass was the identity
        return dy.copy()
    dx = np.multiply(dy, mask)  # dy's shape and dtype
    dx *= scale
    return dx


def dropout_forward_naive(x, p, rng, train=True):
    """Inverted dropout with an explicit loop over elements; same signature and same draws."""
    _check_inputs(x, p, rng, train)
    if not train or p == 0:
        return x.copy(), (None, 1.0)
    scale = 1.0 / (1.0 - p)
    u = rng.random(x.shape)  # one float64 uniform per element, C order, as the fast path
    mask = np.empty(x.shape, dtype=bool)
    y = np.empty_like(x)
    for index in np.ndindex(x.shape):
        mask[index] = u[index] >= p
        y[index] = x[index] * scale if mask[index] else 0
    cache = (mask, scale)
    return y, cache


def dropout_backward_naive(dy, cache):
    """Inverted-dropout backward with an explicit loop; same signature as the fast one."""
    mask, scale = cache
    _check_upstream(dy, mask)
    if mask is None:
        return dy.copy()
    dx = np.empty_like(dy)
    for index in np.ndindex(dy.shape):
        dx[index] = dy[index] * scale if mask[index] else 0
    return dx
