"""The graders' own tools: no code from the student's package is used to judge it.

    directional_error(loss, arrays, grads, rng)   gradients checked along random
                        directions by centred differences in float64, written here (a
                        different method from the student's per-element numerical_gradient)
    conv2d_ref, upconv2d_ref, maxpool2d_ref, softmax_ce_ref
                        reference forwards written differently from the library's
                        (sliding windows and einsum), used for the directional checks
"""

import numpy as np

from minimal_unet.assignment_tests._harness import rel_err  # noqa: F401  (re-exported)

H = 1e-3  # the losses here are (piecewise) linear in each array: any step is exact up to
# rounding, and a larger one keeps rounding (eps |L| / h) far below the tolerance
DIRECTIONS = 3


def directional_error(loss, arrays, grads, rng, h=H):
    """Largest relative error of grad . v against (L(x + h v) - L(x - h v)) / 2h.

    arrays: the float64 inputs loss() reads (perturbed in place, restored); grads: the
    claimed dL/d(array) for each; DIRECTIONS random directions v per array.
    """
    worst = 0.0
    for array, grad in zip(arrays, grads, strict=True):
        grad = np.asarray(grad, dtype=np.float64)
        assert grad.shape == array.shape, f"expected a gradient of shape {array.shape}, " \
            f"got {grad.shape}"
        original = array.copy()
        for _ in range(DIRECTIONS):
            v = rng.standard_normal(array.shape)
            array[...] = original + h * v
            plus = loss()
            array[...] = original - h * v
            minus = loss()
            array[...] = original
            numerical, claimed = (plus - minus) / (2 * h), float(np.sum(grad * v))
            scale = max(abs(numerical) + abs(claimed), float(np.sum(np.abs(grad * v))), 1e-300)
            worst = max(worst, abs(numerical - claimed) / scale)
    return worst


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
