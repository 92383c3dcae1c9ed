"""The graders' own tools: no code from the student's package is used to judge it.

    student(module, name)     the student's function, imported at call time (so a broken
                              module fails its own tests, not the collection of all tests)
    finite_difference(...)    centred differences in float64, written here, not the
                              student's numerical_gradient
    conv2d_ref, upconv2d_ref, maxpool2d_ref, softmax_ce_ref
                              reference forwards written differently from the library's
                              (sliding windows and einsum), used for finite differences
"""

import importlib

import numpy as np


def student(module, name):
    """Attribute `name` of the student's module `module` (e.g. minimal_unet.ops.relu)."""
    return getattr(importlib.import_module(module), name)


def rel_err(a, b):
    """max |a - b| / max(|a| + |b|): one number for the whole array, 0 for two zeros."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"expected shape {b.shape}, got {a.shape}"
    scale = np.max(np.abs(a) + np.abs(b)) if a.size else 0.0
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0


def finite_difference(loss, x, h=1e-6):
    """d loss / dx by centred differences, one element at a time; x float64, restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = loss()
        x[index] = original - h
        minus = loss()
        x[index] = original
        grad[index] = (plus - minus) / (2 * h)
    return grad


def conv2d_ref(x, w, b, pad):
    """Stride-1 cross-correlation by sliding windows + einsum. (N,C,H,W),(F,C,kH,kW) -> y."""
    kH, kW = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kH, kW), axis=(2, 3))
    return np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]


def upconv2d_ref(x, w, b):
    """y[n, o, 2i + a, 2j + c] = b[o] + sum_ci x[n, ci, i, j] w[ci, o, a, c]."""
    N, _, H, W = x.shape
    blocks = np.einsum("nkij,koac->noiajc", x, w)  # (N, C_out, H, 2, W, 2)
    return blocks.reshape(N, w.shape[1], 2 * H, 2 * W) + b[None, :, None, None]


def maxpool2d_ref(x):
    """2x2 stride-2 max-pool as a max over four strided slices."""
    return np.maximum(np.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]),
                      np.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]))


def softmax_ce_ref(logits, target, weight=None):
    """Mean over pixels of weight * -log softmax(logits)[target], via scipy's logsumexp."""
    from scipy.special import logsumexp

    lse = logsumexp(logits.astype(np.float64), axis=1)  # (N, H, W)
    z_t = np.take_along_axis(logits.astype(np.float64), target[:, None], axis=1)[:, 0]
    nll = lse - z_t
    return float(np.mean(nll if weight is None else weight * nll))
