"""The NumPy backend: the reference ops of `minimal_unet.ops`, on host arrays."""

import numpy as np

from minimal_unet.ops import (  # noqa: F401  (re-exported: this module *is* the backend)
    _threads,
    conv2d_backward,
    conv2d_forward,
    crop_and_concat_backward,
    crop_and_concat_forward,
    dropout_backward,
    dropout_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    relu_backward,
    relu_forward,
    softmax_cross_entropy,
    upconv2d_backward,
    upconv2d_forward,
)
from minimal_unet.optim import adam_update, sgd_momentum_update  # noqa: F401

name = "numpy"


def ensure_available():
    """NumPy is always available."""


def asarray(a):
    """Host array in, host array out (no copy when already an ndarray)."""
    return np.asarray(a)


def asnumpy(a):
    return np.asarray(a)


def zeros_like(a):
    return np.zeros_like(a)


def add(a, b):
    """a + b; two arrays of one shape and dtype are added in parts on every core."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return a + b
    out = np.empty(a.shape, dtype=a.dtype)
    af, bf, of = np.ravel(a), np.ravel(b), out.reshape(-1)  # flat (copies if not contiguous)
    _threads.map_chunks(lambda part: np.add(af[part], bf[part], out=of[part]), of.size,
                        a.itemsize)
    return out
