"""2x2 max-pooling with stride 2, the U-Net's downsampling step.

Shape legend (as in every op module):
    N  batch size        C  channels        H, W  input height, width
    oH, oW  output height, width: oH = H / 2, oW = W / 2 (H and W must be even)

Each output pixel is the maximum of one 2x2 window of the input:

    y[n, c, i, j] = max(x[n, c, 2i + a, 2j + b]  for a, b in {0, 1})

The window positions are numbered k = 2a + b in reading order:

    k = 0: top-left (a=0, b=0)     k = 1: top-right (a=0, b=1)
    k = 2: bottom-left (a=1, b=0)  k = 3: bottom-right (a=1, b=1)

Ties: the first maximum in that order wins (a constant window routes its gradient to the
top-left pixel). NaN propagates, as in PyTorch: a window holding a NaN outputs NaN, and its
arg-max is the first NaN in that order (PyTorch 2.13 picks the last NaN of such a window;
with one NaN per window the two agree). The cache holds that arg-max k for every output
pixel (uint8, shape (N, C, oH, oW)) and the input shape; the backward pass sends
dL/dy[n, c, i, j] to the one input pixel that won and zero to the other three.

The U-Net sizes its input so that every max-pool sees even H and W (arXiv 1505.04597,
Section 2: "select the input tile size such that all 2x2 max-pooling operations are applied
to a layer with an even x- and y-size"); an odd size would silently drop a row or column,
so it is a ValueError here.
"""

import numpy as np

from minimal_unet.ops import _threads
from minimal_unet.ops._checks import check_float_array, check_shape

# (a, b) offset inside the 2x2 window for each window position k = 2a + b.
WINDOW_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))
_SLAB_BYTES = 2 << 20  # full-size rows (of x, or of dx) pooled at a time (`_slabs`)


def _check_input(x):
    check_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    N, C, H, W = x.shape
    if H % 2 != 0 or W % 2 != 0:
        raise ValueError(
            f"x: 2x2 max-pool expected even H and W, got H={H}, W={W} (shape {x.shape})"
        )


def _check_upstream(dy, argmax):
    check_float_array("dy", dy, ndim=4, layout="(N, C, oH, oW)")
    check_shape("dy", dy, argmax.shape)


def maxpool2d_forward(x):
    """2x2 max-pool, stride 2.

    Args:
        x: (N, C, H, W) float32/float64, H and W even.
    Returns:
        y: (N, C, H/2, W/2), x's dtype.
        cache: (argmax, x_shape): argmax is uint8 (N, C, H/2, W/2), the winning window
            position k in 0..3 (first maximum on ties, first NaN if the window holds one);
            x_shape is x.shape.
    """
    _check_input(x)
    N, C, H, W = x.shape
    oH, oW = H // 2, W // 2
    y = np.empty((N, C, oH, oW), dtype=x.dtype)
    argmax = np.empty((N, C, oH, oW), dtype=np.uint8)
    # Every (n, c) map is pooled on its own: the maps are cut into one part per core
    # (ops/_threads.py), each pooled by `_pool_maps` into its part of y and argmax.
    x3, y3, a3 = x.reshape(N * C, H, W), y.reshape(N * C, oH, oW), argmax.reshape(N * C, oH, oW)
    _threads.map_chunks(lambda part: _pool_maps(x3[part], y3[part], a3[part]), N * C,
                        H * W * x.itemsize)
    cache = (argmax, x.shape)
    return y, cache


def _slabs(pairs, W, itemsize):
    """[slice]: the `pairs` pairs of full-size rows (W values each) cut into slabs of about
    _SLAB_BYTES, so that the several passes over each slab find it in the core's cache."""
    step = max(1, _SLAB_BYTES // (2 * W * itemsize))
    return [slice(lo, lo + step) for lo in range(0, pairs, step)]


def _pool_maps(x, y, argmax):
    """The max-pool of maps x (M, H, W) written into y (M, H/2, W/2) and argmax (uint8)."""
    M, H, W = x.shape
    oH, oW = H // 2, W // 2
    # Views, no copies: row r = m*oH + i of x4 is the pair of input rows 2i, 2i + 1 of
    # map m, x4[r, a, j, b] = x[m, 2i + a, 2j + b]; y2[r, j] = y[m, i, j].
    x4 = x.reshape(M * oH, 2, oW, 2)
    y2, a2 = y.reshape(M * oH, oW), argmax.reshape(M * oH, oW)
    # The passes below read each input value twice; slab by slab it comes from the cache
    # the second time, not from memory. With the arg-max's arithmetic below, one core's
    # part of the paper net's first max-pool (32 maps of 568x568) went from 29.5 to 12.9 ms,
    # and 8 maps of 248x248 (one slab) from 1.05 to 0.42 ms
    # (benchmarks/results/maxpool_2026-12-06/).
    for rows in _slabs(M * oH, W, x.itemsize):
        _pool_rows(x4[rows], y2[rows], a2[rows])


def _pool_rows(x4, y, argmax):
    """The max-pool of row pairs x4 (R, 2, oW, 2) into y (R, oW) and argmax (R, oW)."""
    # The naive loop over windows becomes whole-array operations on the four strided views
    # x4[:, a, :, b], one per window position k (WINDOW_OFFSETS[k] = (a, b)).
    views = [x4[:, a, :, b] for a, b in WINDOW_OFFSETS]  # 4 x (R, oW)
    # The maximum, row by row: np.maximum returns NaN when either side is NaN, so a window
    # holding a NaN gives NaN, as the naive loop's "any NaN beats a number" does.
    top = np.maximum(views[0], views[1])  # (R, oW), max of the top row
    np.maximum(views[2], views[3], out=y)  # max of the bottom row, for now
    # The arg-max: the FIRST maximum in reading order (the naive loop keeps the first of
    # equal values), decided by three strict comparisons per window instead of one
    # equality test per position: in each row the right pixel wins only if strictly
    # greater than the left one (k = 1 over 0, 3 over 2), and the bottom row wins only if
    # its maximum is strictly greater than the top row's.
    top_k = np.greater(views[1], views[0]).view(np.uint8)  # (R, oW), k in {0, 1}
    bottom_k = np.greater(views[3], views[2]).view(np.uint8) + np.uint8(2)  # k in {2, 3}
    bottom_wins = np.greater(y, top).view(np.uint8)  # 1 where the bottom row wins, else 0
    # argmax = bottom_k where the bottom row wins, else top_k, as arithmetic on uint8
    # (bottom_k - top_k is 1..3, never below 0). A masked copy, np.copyto(argmax,
    # bottom_k, where=...), or np.where, took 1.1 or 0.9 ms for 16 maps of 124x124; this
    # takes 0.02 (benchmarks/results/maxpool_2026-12-06/).
    np.multiply(bottom_wins, bottom_k - top_k, out=argmax)
    np.add(argmax, top_k, out=argmax)
    np.maximum(y, top, out=y)  # the window's maximum
    # A NaN window: every comparison above is False there; its arg-max is its first NaN.
    # Going through k = 3, 2, 1, 0 and overwriting, the smallest NaN position is left.
    if np.isnan(y).any():  # one pass; the rest only when a NaN is there
        for k in (3, 2, 1, 0):
            np.copyto(argmax, np.uint8(k), where=np.isnan(views[k]))


def maxpool2d_backward(dy, cache):
    """Gradient of the 2x2 max-pool: each dL/dy goes to the input pixel that won its window.

    Args:
        dy: (N, C, H/2, W/2) upstream gradient, float32/float64.
        cache: (argmax, x_shape) from maxpool2d_forward.
    Returns:
        dx: (N, C, H, W), dy's dtype; zero at the three losing pixels of every window.
    """
    argmax, x_shape = cache
    _check_upstream(dy, argmax)
    N, C, H, W = x_shape
    oH, oW = H // 2, W // 2
    dx = np.empty((N, C, H, W), dtype=dy.dtype)
    # Map by map, in one part per core (ops/_threads.py), as the forward pass.
    dy3, a3, dx3 = dy.reshape(N * C, oH, oW), argmax.reshape(N * C, oH, oW), dx.reshape(
        N * C, H, W)
    _threads.map_chunks(lambda part: _unpool_maps(dy3[part], a3[part], dx3[part]), N * C,
                        H * W * dy.itemsize)
    return dx


def _unpool_maps(dy, argmax, dx):
    """dx (M, H, W) of maps from dy (M, H/2, W/2) and the forward's argmax, written in place."""
    M, oH, oW = dy.shape
    # Views as in `_pool_maps`: row r = m*oH + i of dx4 is the pair of rows 2i, 2i + 1 of
    # map m, and writes into dx; slab by slab, as there (13.6 -> 9.1 ms for 32 maps of
    # 568x568, level for those that fit in one slab; benchmarks/results/maxpool_2026-12-06/).
    dy2, a2 = dy.reshape(M * oH, oW), argmax.reshape(M * oH, oW)
    dx4 = dx.reshape(M * oH, 2, oW, 2)
    dy_is_finite = bool(np.isfinite(dy).all())
    for rows in _slabs(M * oH, 2 * oW, dx.itemsize):
        _unpool_rows(dy2[rows], a2[rows], dx4[rows], dy_is_finite)


def _unpool_rows(dy, argmax, dx4, dy_is_finite):
    """dx4 (R, 2, oW, 2), row pairs of dx, from dy (R, oW) and argmax, written in place."""
    # Windows do not overlap, so each input pixel is written exactly once: for window
    # position k, dy times "k won" (1 or 0) is dy at the winner and 0 at the other three,
    # written straight into every k-th pixel (no zero fill, no masked copy).
    won = np.empty(argmax.shape, dtype=bool)  # (R, oW)
    for k in range(4):
        a, b = WINDOW_OFFSETS[k]
        np.equal(argmax, k, out=won)
        view = dx4[:, a, :, b]  # (R, oW), strided view into dx
        with np.errstate(invalid="ignore"):  # inf * 0 = NaN, mended on the next line
            np.multiply(dy, won, out=view)
        if not dy_is_finite:  # NaN * 0 and inf * 0 are NaN: losers still get 0, as naive
            np.copyto(view, 0, where=~won)


def maxpool2d_forward_naive(x):
    """2x2 max-pool with explicit loops over every window; same signature as the fast one."""
    _check_input(x)
    N, C, H, W = x.shape
    oH, oW = H // 2, W // 2
    # BEGIN SOLUTION
    # HINT: keep the first maximum (or first NaN) in WINDOW_OFFSETS order; cache (argmax, shape)
    y = np.empty((N, C, oH, oW), dtype=x.dtype)
    argmax = np.empty((N, C, oH, oW), dtype=np.uint8)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    best_k = 0
                    best = x[n, c, 2 * i, 2 * j]
                    for k in range(1, 4):
                        if np.isnan(best):  # NaN propagates; the first NaN keeps the gradient
                            break
                        a, b = WINDOW_OFFSETS[k]
                        value = x[n, c, 2 * i + a, 2 * j + b]
                        # strictly greater: the first maximum wins ties; any NaN beats a number
                        if value > best or np.isnan(value):
                            best_k = k
                            best = value
                    y[n, c, i, j] = best
                    argmax[n, c, i, j] = best_k
    cache = (argmax, x.shape)
    return y, cache
    # END SOLUTION


def maxpool2d_backward_naive(dy, cache):
    """2x2 max-pool backward with explicit loops; same signature as the fast one."""
    argmax, x_shape = cache
    _check_upstream(dy, argmax)
    N, C, H, W = x_shape
    oH, oW = H // 2, W // 2
    # BEGIN SOLUTION
    # HINT: dy[n, c, i, j] goes to pixel WINDOW_OFFSETS[argmax[n, c, i, j]]; others get 0
    dx = np.zeros((N, C, H, W), dtype=dy.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    a, b = WINDOW_OFFSETS[argmax[n, c, i, j]]
                    dx[n, c, 2 * i + a, 2 * j + b] = dy[n, c, i, j]
    return dx
    # END SOLUTION
