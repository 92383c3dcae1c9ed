"""Pixel-wise softmax followed by (weighted) cross-entropy: the U-Net's loss.

Shape legend (as in every op module):
    N  batch size        K  classes (channels of the logits)        H, W  height, width
    M = N * H * W, the number of pixels the loss is averaged over

At every pixel the K logits z go through a softmax, and the loss is the negative
log-probability of the true class t, weighted per pixel (the paper's weight map w(x)):

    log p_k = z_k - logsumexp(z),   logsumexp(z) = m + log sum_k exp(z_k - m),  m = max_k z_k
    loss    = (1 / M) sum_{n,h,w} weight[n,h,w] * -log p_t[n,h,w]
    dL/dz_k = weight[n,h,w] / M * (p_k - [k == t])

Subtracting the maximum m before exp keeps every exponent <= 0, so the loss stays finite for
logits as large as +-1e4 (exp(1e4) itself would overflow). Without a weight map every pixel
weighs 1, the same as PyTorch's cross_entropy with reduction='mean'.

There is no cache: the function returns the loss and its gradient at once, as the last
layer of the network.
"""

import numpy as np

from minimal_unet.ops._checks import check_float_array, check_same_dtype, check_shape


def _check_inputs(logits, target, weight):
    check_float_array("logits", logits, ndim=4, layout="(N, K, H, W)")
    N, K, H, W = logits.shape
    if not isinstance(target, np.ndarray):
        raise TypeError(f"target: expected a numpy.ndarray, got {type(target).__name__}")
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(
            f"target: expected an integer array of class indices, got dtype {target.dtype}"
        )
    check_shape("target", target, (N, H, W))
    out_of_range = (target < 0) | (target >= K)  # (N, H, W) bool
    if out_of_range.any():
        where = tuple(int(i) for i in np.argwhere(out_of_range)[0])
        raise ValueError(
            f"target: expected class indices in [0, K) = [0, {K}), got value "
            f"{target[where]} at index {where}"
        )
    if weight is not None:
        check_float_array("weight", weight, ndim=3, layout="(N, H, W)")
        check_shape("weight", weight, (N, H, W))
        check_same_dtype(logits=logits, weight=weight)
        bad_weight = ~np.isfinite(weight) | (weight < 0)  # (N, H, W) bool; NaN fails both
        if bad_weight.any():
            where = tuple(int(i) for i in np.argwhere(bad_weight)[0])
            raise ValueError(
                f"weight: expected finite pixel weights >= 0, got {weight[where]} at index "
                f"{where}"
            )


def softmax_cross_entropy(logits, target, weight=None):
    """Mean over all pixels of weight * -log softmax(logits)[target], and its gradient.

    Args:
        logits: (N, K, H, W) float32/float64, unnormalised class scores.
        target: (N, H, W) integer array, the true class of every pixel, values in [0, K).
        weight: optional (N, H, W) per-pixel weight, logits' dtype (None: all ones);
            every weight finite and >= 0 (else a ValueError naming the first bad pixel).
    Returns:
        loss: NumPy scalar of logits' dtype.
        dlogits: (N, K, H, W) dL/dlogits, logits' dtype.
    """
    _check_inputs(logits, target, weight)
    N, K, H, W = logits.shape
    M = N * H * W
    target_index = target[:, np.newaxis]  # (N, 1, H, W), indexes the class axis

    logits_max = logits.max(axis=1, keepdims=True)  # (N, 1, H, W)
    shifted = logits - logits_max  # (N, K, H, W), every entry <= 0
    shifted_target = np.take_along_axis(shifted, target_index, axis=1)  # (N, 1, H, W)
    # `shifted` becomes exp(z - m) and then the softmax, in place: one (N, K, H, W) buffer
    # for the whole function, which ends up holding dL/dlogits.
    probs = np.exp(shifted, out=shifted)  # (N, K, H, W)
    sum_exp = probs.sum(axis=1, keepdims=True)  # (N, 1, H, W), >= 1
    # -log p_t = logsumexp(z) - z_t = log sum_k exp(z_k - m) - (z_t - m)
    nll = np.log(sum_exp) - shifted_target  # (N, 1, H, W)
    probs /= sum_exp  # (N, K, H, W), softmax over K

    if weight is None:
        loss = nll.mean()
        pixel_scale = 1.0 / M  # dL/dz = (p - onehot) / M
    else:
        weight_4d = weight[:, np.newaxis]  # (N, 1, H, W)
        loss = (weight_4d * nll).mean()
        pixel_scale = weight_4d / M  # (N, 1, H, W), dL/dz = weight * (p - onehot) / M

    dlogits = probs  # (N, K, H, W), reuse the softmax buffer
    p_target = np.take_along_axis(dlogits, target_index, axis=1)  # (N, 1, H, W)
    np.put_along_axis(dlogits, target_index, p_target - 1, axis=1)  # p - onehot(t)
    dlogits *= pixel_scale
    return loss, dlogits


def softmax_cross_entropy_naive(logits, target, weight=None):
    """The same loss and gradient with an explicit loop over pixels and classes."""
    _check_inputs(logits, target, weight)
    N, K, H, W = logits.shape
    M = N * H * W
    # BEGIN SOLUTION
    # HINT: lse = m + log sum exp(z - m); loss += wt (lse - z_t); dz = wt (p - onehot) / M
    dtype = logits.dtype.type
    total = dtype(0)
    dlogits = np.empty_like(logits)
    for n in range(N):
        for h in range(H):
            for w in range(W):
                z = logits[n, :, h, w]  # (K,)
                t = target[n, h, w]
                pixel_weight = dtype(1) if weight is None else weight[n, h, w]
                m = z[0]
                for k in range(1, K):
                    m = max(m, z[k])
                sum_exp = dtype(0)
                for k in range(K):
                    sum_exp += np.exp(z[k] - m)
                log_sum_exp = m + np.log(sum_exp)
                total += pixel_weight * (log_sum_exp - z[t])  # weight * -log p_t
                for k in range(K):
                    p_k = np.exp(z[k] - m) / sum_exp
                    onehot = 1 if k == t else 0
                    dlogits[n, k, h, w] = pixel_weight * (p_k - onehot) / M
    loss = dtype(total / M)
    return loss, dlogits
    # END SOLUTION
