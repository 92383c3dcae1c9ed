"""2x2 "up-convolution": a transposed convolution with stride 2, the U-Net's upsampling step.

Shape legend (as in every op module):
    N  batch size        C_in  input channels      C_out  output channels
    H, W  input height, width                      2H, 2W  output height, width
    a, c  row and column offset inside a 2x2 output block (each 0 or 1)

The weight has PyTorch's ConvTranspose2d layout, w (C_in, C_out, 2, 2), and b is (C_out,).
Every input pixel (i, j) paints its own 2x2 block of the output, so blocks never overlap:

    y[n, o, 2i + a, 2j + c] = b[o] + sum_ci x[n, ci, i, j] * w[ci, o, a, c]

For each input pixel that is one matrix-vector product, x[n, :, i, j] (C_in,) times the
weight seen as a (C_in, C_out*4) matrix. The fast path does all pixels in one matmul and then
scatters the (C_out, 2, 2) results into their blocks with a reshape/transpose. While
`_threads.every_product()` (a U-Net with a large layer, see ops/conv2d.py's trick 3) the
work is cut into parts of input rows by the shapes alone (`_threads.parts`), each part's
products and its scatter (or gather) run together on one of our threads, each product on
one BLAS thread; otherwise each product is one call on BLAS's own threads. Parts of rows,
not of channels: a part of the channels multiplies a few rows of the weight by the WHOLE
input, which BLAS copies into its packed panels once per part. At 64 -> 32 channels,
196x196 (the base-32 net's last up-convolution) forward + backward took 29.9 ms in parts of
channels, 17.8 ms in parts of rows; the base-32 net's four 77.6 -> 59.4 ms; its training
step 1.2 % faster, the paper step 1.3 % (one-process A/Bs; 2-core Zen 4 VM, 2026-12-07,
benchmarks/results/zen4_2026-12-07_evening/). dL/dw, a sum over pixels, is then a sum of
one (C_out*4, C_in) product per part, added in part order: the same bits on any number of
our threads (with one, every product runs whole on BLAS's threads). Backward:

    dL/dx[n, ci, i, j]   = sum_{o,a,c} w[ci, o, a, c] * dy[n, o, 2i + a, 2j + c]
    dL/dw[ci, o, a, c]   = sum_{n,i,j} x[n, ci, i, j] * dy[n, o, 2i + a, 2j + c]
    dL/db[o]             = sum_{n,p,q} dy[n, o, p, q]

The cache holds the layer inputs (x, w, b).
"""

import numpy as np

from minimal_unet.ops import _threads
from minimal_unet.ops._checks import check_float_array, check_same_dtype, check_shape


def _check_inputs(x, w, b):
    check_float_array("x", x, ndim=4, layout="(N, C_in, H, W)")
    check_float_array("w", w, ndim=4, layout="(C_in, C_out, 2, 2)")
    check_float_array("b", b, ndim=1, layout="(C_out,)")
    check_same_dtype(x=x, w=w, b=b)
    C_in, C_out = w.shape[0], w.shape[1]
    check_shape("w", w, (x.shape[1], C_out, 2, 2))  # C_in must match x's channels
    check_shape("b", b, (C_out,))
    return C_in, C_out


def _check_upstream(dy, x, w):
    N, C_in, H, W = x.shape
    C_out = w.shape[1]
    check_float_array("dy", dy, ndim=4, layout="(N, C_out, 2H, 2W)")
    check_shape("dy", dy, (N, C_out, 2 * H, 2 * W))
    check_same_dtype(dy=dy, x=x)


def upconv2d_forward(x, w, b):
    """2x2 transposed convolution with stride 2 (PyTorch's ConvTranspose2d(k=2, s=2)).

    Args:
        x: (N, C_in, H, W) float32/float64.
        w: (C_in, C_out, 2, 2), x's dtype.
        b: (C_out,), x's dtype.
    Returns:
        y: (N, C_out, 2H, 2W), x's dtype;
            y[n, o, 2i + a, 2j + c] = b[o] + sum_ci x[n, ci, i, j] w[ci, o, a, c].
        cache: (x, w, b).
    """
    C_in, C_out = _check_inputs(x, w, b)
    N, _, H, W = x.shape
    x_cols = x.reshape(N, C_in, H * W)  # (N, C_in, H*W), a view: pixels as columns
    w_mat = w.reshape(C_in, C_out * 4)  # (C_in, C_out*4), column index o*4 + a*2 + c
    # One batched matmul replaces the naive loop over pixels (n, i, j):
    # y_cols[n, o*4 + a*2 + c, i*W + j] = sum_ci w[ci, o, a, c] x[n, ci, i, j]
    w_t = w_mat.T  # (C_out*4, C_in), a view
    y_cols = np.empty((N, C_out * 4, H * W), dtype=x.dtype)
    y_blocks = y_cols.reshape(N, C_out, 2, 2, H, W)  # (N, C_out, a, c, i, j)
    # Scatter each 2x2 block to rows 2i + a, columns 2j + c, adding the bias on the way.
    y = np.empty((N, C_out, 2 * H, 2 * W), dtype=x.dtype)
    y6 = y.reshape(N, C_out, H, 2, W, 2)  # (N, C_out, i, a, j, c), a view that writes into y
    bias = b.reshape(1, C_out, 1, 1)  # (1, C_out, 1, 1)

    def product(i):  # input rows i (a slice): the columns of their pixels
        pixels = slice(i.start * W, i.stop * W)
        # y_cols[n, :, pixels] = w_t @ x_cols[n, :, pixels]: (C_out*4, C_in) @ (C_in, pixels)
        np.matmul(w_t, x_cols[:, :, pixels], out=y_cols[:, :, pixels])

    def scatter(i):  # input rows i: one strided copy per block offset (a, c)
        for a in range(2):
            for c in range(2):  # y[:, :, 2i + a, 2j + c] = y_blocks[:, :, a, c, i, j] + b
                np.add(y_blocks[:, :, a, c, i], bias, out=y6[:, :, i, a, :, c])

    # The scatter: four copies whose inner loop runs along j (a whole row), not one 6-D
    # transposed copy whose inner loop is the 2 of c (2.4x faster).
    bytes_per_row = N * C_out * 4 * W * x.itemsize  # of y_cols, per input row
    if _threads.every_product():  # product and scatter of a part on one of our threads
        _threads.run(lambda i: (product(i), scatter(i)), _threads.parts(H, bytes_per_row))
    else:  # one product on BLAS's threads, the scatter in parts, one per core
        product(slice(0, H))
        _threads.map_chunks(scatter, H, bytes_per_row)
    cache = (x, w, b)
    return y, cache


def upconv2d_backward(dy, cache):
    """Gradients of the 2x2 stride-2 transposed convolution.

    Args:
        dy: (N, C_out, 2H, 2W) upstream gradient, the forward input's dtype.
        cache: (x, w, b) from upconv2d_forward.
    Returns:
        dx: (N, C_in, H, W); dw: (C_in, C_out, 2, 2); db: (C_out,); all dy's dtype.
    """
    x, w, b = cache
    _check_upstream(dy, x, w)
    N, C_in, H, W = x.shape
    C_out = w.shape[1]
    # Gather every 2x2 block of dy back into a column per input pixel (the forward scatter,
    # run backwards): dy_cols[n, o*4 + a*2 + c, i*W + j] = dy[n, o, 2i + a, 2j + c].
    dy6 = dy.reshape(N, C_out, H, 2, W, 2)  # (N, C_out, i, a, j, c)
    dy_cols = np.empty((N, C_out * 4, H * W), dtype=dy.dtype)
    dy_cols6 = dy_cols.reshape(N, C_out, 2, 2, H, W)  # (N, C_out, a, c, i, j), a view

    x_cols = x.reshape(N, C_in, H * W)  # (N, C_in, H*W)
    w_mat = w.reshape(C_in, C_out * 4)  # (C_in, C_out*4)
    dx = np.empty((N, C_in, H, W), dtype=dy.dtype)
    dx_cols = dx.reshape(N, C_in, H * W)  # a view that writes into dx

    def gather(i):  # input rows i: as the forward's scatter, four row-long copies
        for a in range(2):
            for c in range(2):
                np.copyto(dy_cols6[:, :, a, c, i], dy6[:, :, i, a, :, c])

    def dw_product(i):  # input rows i: their pixels' share of dL/dw^T, (N, C_out*4, C_in)
        pixels = slice(i.start * W, i.stop * W)
        # dL/dw = sum_n x_cols[n] dy_cols[n]^T, computed as its transpose dy_cols[n]
        # x_cols[n]^T: (C_out*4, pixels) @ (pixels, C_in). Same numbers; OpenBLAS runs this
        # orientation of the long-inner-dimension product several times faster here.
        return np.matmul(dy_cols[:, :, pixels], x_cols[:, :, pixels].transpose(0, 2, 1))

    def dx_product(i):  # input rows i: dL/dx = W dy_cols, per image
        pixels = slice(i.start * W, i.stop * W)
        # (C_in, C_out*4) @ (C_out*4, pixels)
        np.matmul(w_mat, dy_cols[:, :, pixels], out=dx_cols[:, :, pixels])

    bytes_per_row = N * C_out * 4 * W * dy.itemsize  # of dy_cols, per input row
    if _threads.every_product():  # in parts of rows on our threads, as in the forward pass
        def one_part(i):
            gather(i)
            dx_product(i)
            return dw_product(i)

        parts = _threads.run(one_part, _threads.parts(H, bytes_per_row))
        dw_t_per_image = parts[0]
        for part in parts[1:]:  # in part order: the same bits on any number of threads
            dw_t_per_image += part
    else:  # the gather in parts, one per core; each product one call on BLAS's threads
        _threads.map_chunks(gather, H, bytes_per_row)
        dw_t_per_image = dw_product(slice(0, H))
        dx_product(slice(0, H))
    dw_mat = dw_t_per_image.sum(axis=0).T  # (C_in, C_out*4)
    dw = dw_mat.reshape(C_in, C_out, 2, 2)  # (C_in, C_out, 2, 2), a small copy
    # dL/db[o] = sum of dy over the batch and every output pixel of channel o
    db = dy.sum(axis=(0, 2, 3))  # (C_out,)
    return dx, dw, db


def upconv2d_forward_naive(x, w, b):
    """Transposed convolution with an explicit loop over input pixels and block offsets."""
    C_in, C_out = _check_inputs(x, w, b)
    N, _, H, W = x.shape
    # BEGIN SOLUTION
    # HINT: y[n, :, 2i + a, 2j + c] = b + x[n, :, i, j] @ w[:, :, a, c]; cache = (x, w, b)
    y = np.empty((N, C_out, 2 * H, 2 * W), dtype=x.dtype)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                for a in range(2):
                    for c in range(2):
                        # (C_in,) @ (C_in, C_out) -> (C_out,): sum over ci
                        y[n, :, 2 * i + a, 2 * j + c] = b + x[n, :, i, j] @ w[:, :, a, c]
    cache = (x, w, b)
    return y, cache
    # END SOLUTION


def upconv2d_backward_naive(dy, cache):
    """Transposed-convolution backward with explicit loops; same signature as the fast one."""
    x, w, b = cache
    _check_upstream(dy, x, w)
    N, C_in, H, W = x.shape
    # BEGIN SOLUTION
    # HINT: g = dy[n, :, 2i + a, 2j + c]; dx += w[:, :, a, c] @ g; dw += outer(x[n, :, i, j], g)
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                for a in range(2):
                    for c in range(2):
                        g = dy[n, :, 2 * i + a, 2 * j + c]  # (C_out,)
                        dx[n, :, i, j] += w[:, :, a, c] @ g  # (C_in, C_out) @ (C_out,)
                        dw[:, :, a, c] += np.outer(x[n, :, i, j], g)  # (C_in, C_out)
                        db += g
    return dx, dw, db
    # END SOLUTION
