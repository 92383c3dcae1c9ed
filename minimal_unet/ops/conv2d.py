"""2-D convolution (cross-correlation), stride 1, zero padding: the U-Net's workhorse.

Shape legend
    N  batch            C  input channels      H, W    input height, width
    F  filters          kH, kW kernel size     p       zero padding on every side
    oH = H + 2p - kH + 1                       oW = W + 2p - kW + 1
    K  = C*kH*kW, the length of one receptive field (one im2col column)
    R  rows of output computed per block (see "Fast path" below)

The maths (xp is x with p zeros on every side):
    y[n, f, h, w]  = b[f] + sum_{c,i,j} xp[n, c, h+i, w+j] * w[f, c, i, j]
    dw[f, c, i, j] = sum_{n,h,w} dy[n, f, h, w] * xp[n, c, h+i, w+j]
    db[f]          = sum_{n,h,w} dy[n, f, h, w]
    dx[n, c, h, w] = sum_{f,i,j} dyp[n, f, h+i, w+j] * w[f, c, kH-1-i, kW-1-j]
where dyp is dy shifted by (kH-1-p, kW-1-p) and zero outside it: dx is the "full"
correlation of dy with the kernel flipped in space and with F and C swapped, i.e. the same
operation as the forward pass, so dx needs no scatter (col2im), except where one is
faster (trick 11, the deep layers).

Naive twin: `conv2d_forward_naive` / `conv2d_backward_naive` loop over every index of
those formulas. Read them first.

Fast path: blocked im2col + one matrix product per block.
    For each image n and each block of R output rows r0 .. r0+R-1:
        cols = the receptive fields of those rows                # (K, R*oW)
        y[n, :, rows] = w.reshape(F, K) @ cols + b[:, None]      # (F, K) @ (K, R*oW)
The block replaces the naive loops over (h, w); the matmul replaces the loops over f and
(c, i, j). The backward pass uses the same blocks:
    dw^T += cols @ dy[n, :, rows].T     # (K, R*oW) @ (R*oW, F): the naive `dw[...] += xp * g`
    db += dy[n, :, rows].sum(axis=1)    # the naive `db[f] += g`
    dx[n, :, rows] = w_flip @ cols_dy   # (C, F*kH*kW) @ (F*kH*kW, R*W): the naive
                                        # `dxp[...] += w * g`, turned from a scatter into
                                        # a gather (cols_dy: receptive fields of dyp)
The tricks, each measured on the 2-core AVX-512 machine (OpenBLAS SkylakeX kernel):

1. One gather per block. The receptive fields of a row block are copied by one
   `np.copyto` from a strided *view* (`as_strided`, no Python loop over c, i, j): element
   (c, i, j, r, v) of the view is xp[n, c, r0+r+i, v+j], and every copied run is a
   contiguous stretch of oW values. An im2col of the whole 570x570, 64-channel image
   would take 750 MB (1.5 GB in float64); a block is a few MiB (trick 2).
2. Block size, by layer (ops/_conv_blocks.py, which keeps the measurements). In a layer
   that runs on our threads (trick 3) blocks of about 4 MiB where the product is short (K
   <= 1152: up to 128 channels of 3x3) and 16 MiB where it is longer (a 4 MiB block of K =
   2304-9216 is a skinny product of 100-450 columns); on BLAS's threads about 16 MiB,
   usually one block. Always an even number of blocks of equal size, cut by the shapes
   only. Small blocks stay in the core's cache between gather and product: forward +
   backward of 32->32 @570 on one thread 0.29 s with 2-4 MiB blocks, 0.40 s with 16 MiB
   (EPYC VM, 2026-12-04).
3. Blocks run on several threads (ops/_conv_blocks.py, ops/_threads.py): one per core
   (MINIMAL_UNET_THREADS=N says otherwise), each product held to one BLAS thread, in a
   layer whose whole im2col is at least 64 MiB, and in every layer of a network that has
   one (`UNet` sets `_threads.set_every_product`, so that no product in the step wakes
   OpenBLAS's own threads, which spin for ~0.1 s after each product on the cores ours
   need). NumPy releases the GIL in the gather copy and in the product, so the threads
   really run at once. Each block writes its own rows of y or dx, and the dw products are
   added in block order: the same bits on any number of threads (tested). The paper step
   1.74x -> 1.56x PyTorch's time, 572 / base 32 2.13-2.20x -> 1.67-1.74x (EPYC VM,
   2026-12-04, benchmarks/results/epyc_2026-12-04_threads/).
4. The dw product is computed transposed, cols @ dy_rows^T (K, F), not dy_rows @ cols^T
   (F, K): the same numbers, but OpenBLAS runs this orientation of a product with a long
   inner dimension (R*oW) and a small output several times faster (e.g. 1.9 ms instead
   of 34 ms at 64->64, 282x282, 16-row blocks).
5. The products are written straight into the outputs with `np.matmul(..., out=...)`, and
   the bias is added to each block of y as soon as it is written. Only the rows a block
   needs are zero-padded (into a small slab), so no padded copy of a whole image is ever
   made; a block that lies inside the input (every block of a "valid" conv's forward) is
   gathered from the input directly.
6. dw^T (K, F) is turned back into dw (F, K) by `_im2col.transposed`, a copy in slabs of 64
   rows: one whole transposed copy had been a third of the deep layers' backward (17 of
   53 ms at 512->512, 30x30, on the 2-core Xeon, 2026-12-05).
7. dw of a deep layer in one product per image. Each row block's dw^T product is a whole
   (K, F) matrix, and the blocks' results are summed; at a deep layer (few pixels, many
   filters) those partial sums move more memory than the im2col itself (1024->1024 at
   30x30: 4 blocks of 37.7 MB partial sums for a 28.9 MB im2col). So where one image's
   blocks of 8 MiB (`_WHOLE_DW_TEST_BYTES`, the size the test was measured with; it still
   picks the faster way with trick 2's 16-32 MiB blocks, benchmarks/results/
   zen4_2026-12-07_blocks/) would hold at least as many values as its whole im2col
   (blocks * F >= oH*oW) and that im2col is at most `_WHOLE_DW_BYTES` (128 MiB), it is
   gathered whole (a fresh array, in two halves of the channels) and dw = dy_n (F, oH*oW)
   @ cols_n^T directly, cut into two halves of F; no partial sums within an image, no
   transposed copy. The
   backward pass without dx, 2-core Xeon VM, 2026-12-05 (benchmarks/results/
   xeon_2026-12-05_night/whole_dw_layers_output.txt): 1024->1024 @30 94 -> 55 ms,
   1024->512 @56 146 -> 105 ms, 256->256 @10 1.3 -> 0.9 ms; steps 1-2 % faster.
9. Winograd's F(2x2, 3x3) for the forward and dx products of the deeper 3x3 layers and
   F(3x3, 2x2) for their dw (ops/_winograd.py derives both, says where conv2d takes them
   and keeps their measurements): 16 F C multiply-adds per 2x2 tile of output (in 16
   matrix products) where im2col does 36 F C, 2.25x fewer, at the price of transforming
   the input tiles and the output (additions, a few passes over each block). From 128
   input channels, 64 filters and 400 tiles per image (elsewhere the transforms cost what
   the products save); trick 7 goes first for dw where it applies. The paper step 10-12 %
   faster (forward and dx) and 3-6 % more (dw) (Zen 4 VM, 2026-12-07).
10. A kernel's rows as kH products over one horizontal im2col (ops/_conv_rows.py, with the
   measurements), for the layers of 16 to 128 input channels and at least 32 x 32 output
   pixels that trick 9 leaves. The im2col sum over (c, i, j) split by the kernel row i:
       hcols[(c, j), (h, v)] = xp[n, c, row0+h, v+j]     # (C kW, (R+kH-1) oW): 1/kH of cols
       y[n, :, rows] = sum_i w[:, :, i, :] (F, C kW) @ hcols[:, i*oW:(i+R)*oW]
   since output row r's kernel row i reads source row r+i, the kH column ranges of the one
   gather are each block's im2col rows (c, i, j) for one i, as views (dw^T the same way).
   A third of the gathering, the same multiply-adds: per layer 0.74-0.97 of im2col's time
   on the Zen 1 VM, 0.92-1.03 on the AVX-512 Xeon VM (2026-12-07).
11. dx by col2im at the deep layers (ops/_col2im.py, with the measurements): the naive
   scatter
       dcols = w.reshape(F, K)^T @ dy[n]          # (K, F) @ (F, oH*oW), w^T a view
       dxp[n, :, i:i+oH, j:j+oW] += dcols[(:, i, j)]   # one shifted add per tap (i, j)
   in blocks of channels, at layers of at least 128 filters and at most 32 x 32 output
   pixels. The correlation above multiplies dy's zero border too, (H W) / (oH oW) times
   the products of the forward (1.44x at 10x10 output), and first copies the flipped
   kernel; col2im does neither, at the price of kH kW passes over (C, oH, oW): dx 0.47-0.97
   of the correlation's time there (Xeon VM, 2026-12-07), 1.4-4.1x at the shallow layers.

Tried and dropped: blocks gathered on the whole width of their source rows (the kW-1
"wrapped" columns after each row's oW computed as junk and cropped away, so that each
(c, i, j) row of cols was one contiguous run of the source: a copy 1.7-2.9x faster at
16-128 channels, at the price of a crop copy of y and dx and zero-filled dy rows for dw).
It made the 252 / base-16 and 572 / base-32 steps 2-3 % faster on the Zen 5 VM with 8 MiB
thread blocks (2026-12-06, benchmarks/results/wide_rows_2026-12-06/), but with trick 2's
4 MiB blocks, whose gathers stay in the core's cache, the steps were faster without
it on the Zen 4 VM (2026-12-07, one-process A/Bs): 572 / base 32 by 1.7-3.1 % in four
runs of five (the fifth level, in a noisy spell), 252 / base 16 by 1-10 %, the paper step
level; with it in the forward and dx passes only, or in dw's only, between the two at
572 / base 32 in the quieter run (benchmarks/results/zen4_2026-12-07_blocks/wide_ab_output.txt and
zen4_2026-12-07_evening/wide_ab_output.txt). Removed at 2026-12-07.

The gathers themselves (`_im2col`: padded_rows, im2col_rows, transposed) copy into
per-thread scratch buffers bounded by one block; outputs (y, dx, dw, db) are always fresh
arrays, and nothing returned aliases a scratch buffer.

Why channels-first (NCHW) blocks and not channels-last (H, W, C): measured at the paper's
heaviest layer, channels-last blocks were no faster (the gather copies runs of C values
instead of oW), and the transposes in and out cost ~0.03 s each per call on top.
"""

import numpy as np

from minimal_unet.ops import _col2im, _conv_blocks, _conv_rows, _threads, _winograd
from minimal_unet.ops._checks import check_float_array, check_same_dtype, check_shape
from minimal_unet.ops._im2col import (
    im2col,  # noqa: F401 (read here by the notebooks)
    im2col_rows,
    padded_rows,
    transposed,
)

_WHOLE_DW_TEST_BYTES = 8 * 2**20  # trick 7's test counts the blocks of this size
_WHOLE_DW_BYTES = 128 * 2**20  # trick 7: the largest one-image im2col gathered whole for dw


def _check_pad(pad):
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)):
        raise TypeError(f"pad: expected an int >= 0, got {type(pad).__name__} {pad!r}")
    if pad < 0:
        raise ValueError(f"pad: expected an int >= 0, got {pad}")


def _check_inputs(x, w, b, pad):
    """Validate conv2d inputs; return the output size (oH, oW)."""
    check_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    check_float_array("w", w, ndim=4, layout="(F, C, kH, kW)")
    check_float_array("b", b, ndim=1, layout="(F,)")
    check_same_dtype(x=x, w=w, b=b)
    _check_pad(pad)
    if 0 in x.shape or 0 in w.shape:
        raise ValueError(f"x and w must be non-empty, got x {x.shape} and w {w.shape}")
    N, C, H, W = x.shape
    F, Cw, kH, kW = w.shape
    if Cw != C:
        raise ValueError(
            f"channel mismatch: x has C={C} channels (shape {x.shape}) but w expects "
            f"{Cw} (shape {w.shape}, layout (F, C, kH, kW))")
    check_shape("b", b, (F,))
    Hp, Wp = H + 2 * pad, W + 2 * pad
    if kH > Hp or kW > Wp:
        raise ValueError(
            f"kernel {kH}x{kW} is larger than the padded input {Hp}x{Wp} "
            f"(H, W = {H}, {W}, pad = {pad})")
    return Hp - kH + 1, Wp - kW + 1


def _check_backward(dy, cache):
    x, w, b, pad = cache
    oH, oW = _check_inputs(x, w, b, pad)
    check_float_array("dy", dy, ndim=4, layout="(N, F, oH, oW)")
    check_same_dtype(dy=dy, x=x)
    check_shape("dy", dy, (x.shape[0], w.shape[0], oH, oW))


# --------------------------------------------------------------------------- naive twin


def conv2d_forward_naive(x, w, b, pad=0):
    """Convolution forward with explicit loops: the formula, one multiply-add at a time.

    x (N, C, H, W), w (F, C, kH, kW), b (F,), all float32 or all float64; pad int >= 0.
    Returns y (N, F, oH, oW) with oH = H + 2*pad - kH + 1, oW = W + 2*pad - kW + 1, and
    cache = (x, w, b, pad).  y[n, f, h, w] = b[f] + sum_{c,i,j} xp[n, c, h+i, w+j] w[f, c, i, j].
    """
    oH, oW = _check_inputs(x, w, b, pad)
    N, C, H, W = x.shape
    F, _, kH, kW = w.shape
    # BEGIN SOLUTION
    # HINT: y[n, f, h, v] = b[f] + sum over c, i, j of xp[n, c, h + i, v + j] w[f, c, i, j]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, H+2p, W+2p)
    y = np.zeros((N, F, oH, oW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for h in range(oH):
                for v in range(oW):
                    acc = b[f]
                    for c in range(C):
                        for i in range(kH):
                            for j in range(kW):
                                acc += xp[n, c, h + i, v + j] * w[f, c, i, j]
                    y[n, f, h, v] = acc
    return y, (x, w, b, pad)
    # END SOLUTION


def conv2d_backward_naive(dy, cache):
    """Convolution backward with explicit loops. dy (N, F, oH, oW); cache from a forward.

    Returns (dx, dw, db) with the shapes and dtype of (x, w, b). Each output pixel sends
    dy[n, f, h, w] back to the bias, to every weight (times the input it saw), and to
    every input of its receptive field (times the weight that saw it).
    """
    _check_backward(dy, cache)
    x, w, b, pad = cache
    N, C, H, W = x.shape
    F, _, kH, kW = w.shape
    _, _, oH, oW = dy.shape
    # BEGIN SOLUTION
    # HINT: g = dy[n, f, h, v]: db[f] += g, dw += xp window * g, dxp window += w * g; unpad dxp
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, H+2p, W+2p)
    dxp = np.zeros_like(xp)  # (N, C, H+2p, W+2p)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            for h in range(oH):
                for v in range(oW):
                    g = dy[n, f, h, v]
                    db[f] += g
                    for c in range(C):
                        for i in range(kH):
                            for j in range(kW):
                                dw[f, c, i, j] += xp[n, c, h + i, v + j] * g
                                dxp[n, c, h + i, v + j] += w[f, c, i, j] * g
    dx = dxp[:, :, pad:pad + H, pad:pad + W]  # (N, C, H, W): drop the padding
    return np.ascontiguousarray(dx), dw, db
    # END SOLUTION


# --------------------------------------------------------------------------- fast path


def _correlate(src, top, left, w, out, bias=None):
    """out[n, f, h, v] = bias[f] + sum_{c,i,j} w[f, c, i, j] * srcp[n, c, h+i, v+j], blocked.

    src (N, C, Hs, Ws); srcp is src shifted by (top, left) and zero outside (see
    `_im2col.padded_rows`); w (F, C, kH, kW); out (N, F, oH, oW), C-contiguous, written in
    place. Each row block writes its own rows of out, so blocks may run on any thread.
    By im2col and one product per block, or by Winograd's 2x2 tiles (trick 9).
    """
    N, C, _, _ = src.shape
    F, _, kH, kW = w.shape
    _, _, oH, oW = out.shape
    cols_bytes = N * C * kH * kW * oH * oW * src.itemsize  # the whole im2col
    K = C * kH * kW
    if _winograd.applies(C, F, kH, kW, oH, oW):  # trick 9
        _winograd.correlate(src, top, left, w, out, bias, cols_bytes)
        return
    if _conv_rows.applies(C, kH, kW, oH, oW):  # trick 10
        _conv_rows.correlate(src, top, left, w, out, bias, cols_bytes)
        return
    w2 = w.reshape(F, K)  # (F, K)
    row_blocks = _conv_blocks.row_blocks(K, oH, oW, src.itemsize,
                                         _conv_blocks.block_bytes(cols_bytes, K))

    def one_block(block):
        n, row0, rows = block
        src_rows = padded_rows(src[n], top, left, row0, rows + kH - 1, oW + kW - 1)
        cols = im2col_rows(src_rows, kH, kW, rows, oW)  # (K, rows*oW)
        out_rows = out[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]  # a view
        np.matmul(w2, cols, out=out_rows)  # (F, K) @ (K, rows*oW)
        if bias is not None:
            out_rows += bias[:, None]  # (F, 1) broadcast over the block's pixels

    _conv_blocks.run_blocks(
        one_block, [(n, row0, rows) for n in range(N) for row0, rows in row_blocks],
        cols_bytes)


def conv2d_forward(x, w, b, pad=0):
    """Convolution forward, fast: blocked im2col + matmul (see the module docstring).

    x (N, C, H, W), w (F, C, kH, kW), b (F,), all float32 or all float64; pad int >= 0;
    stride 1. Returns y (N, F, oH, oW), oH = H + 2*pad - kH + 1, oW = W + 2*pad - kW + 1,
    y[n, f, h, w] = b[f] + sum_{c,i,j} xp[n, c, h+i, w+j] w[f, c, i, j] with xp = x padded
    by `pad` zeros; and cache = (x, w, b, pad): the inputs, never an im2col matrix.
    """
    oH, oW = _check_inputs(x, w, b, pad)
    N = x.shape[0]
    F, C, kH, kW = w.shape
    y = np.empty((N, F, oH, oW), dtype=x.dtype)
    _correlate(x, pad, pad, w, y, bias=b)
    return y, (x, w, b, pad)


def conv2d_backward(dy, cache, need_dx=True):
    """Convolution backward, fast. dy (N, F, oH, oW); cache = (x, w, b, pad) from forward.

    Returns (dx, dw, db) shaped and typed like (x, w, b); dx is None when need_dx is False
    (the network's first convolution, whose input is the image: PyTorch skips that product
    too, for an input that does not require a gradient; the 1->32 @572 layer's backward
    takes 8 ms without it and 50 ms with it on the 2-core Xeon, benchmarks/results/
    xeon_2026-12-05/). dw and db do not depend on it:
        db = sum of dy over n, h, w
        dw[f, (c,i,j)] = transpose of the sum over row blocks of cols (K, R*oW) @ dy_rows^T
                         (R*oW, F), the naive `dw[...] += xp * g` a block at a time; at
                         a deep layer the sum over images of dy_n @ cols_n^T (trick 7)
        dx = correlation of dy, shifted by (kH-1-pad, kW-1-pad) and zero outside, with the
             kernel flipped in space and F, C swapped: the forward's own blocked routine.
    """
    _check_backward(dy, cache)
    x, w, b, pad = cache
    dy = np.ascontiguousarray(dy)  # (N, F, oH, oW), so that row blocks are views
    N, C, H, W = x.shape
    F, _, kH, kW = w.shape
    _, _, oH, oW = dy.shape
    K = C * kH * kW

    # dw and db: gather the forward's receptive fields again, one row block at a time.
    # Each block's product is computed transposed, dw^T = cols @ dy_rows^T (K, F): the
    # same numbers, but OpenBLAS runs this orientation of a long-inner-dimension product
    # several times faster (see the module docstring). The block products are summed in
    # block order (whichever thread computed them), so the sum has the same bits on one
    # thread or two; they arrive one at a time (results_in_order), so only a few of the
    # (K, F) block products exist at once, not one per block.
    cols_bytes = N * K * oH * oW * x.itemsize  # the whole im2col
    if _dw_in_one_product(K, F, oH, oW, x.itemsize):  # a deep layer (trick 7)
        dw = _dw_whole(x, dy, pad, kH, kW, cols_bytes).reshape(F, C, kH, kW)
        return _dx_part(dy, w, pad, x.shape, need_dx), dw, dy.sum(axis=(0, 2, 3))
    if _winograd._DW and _winograd.applies(C, F, kH, kW, oH, oW):  # trick 9's dw
        dw = _winograd.weight_gradient(x, dy, pad, cols_bytes)
        return _dx_part(dy, w, pad, x.shape, need_dx), dw, dy.sum(axis=(0, 2, 3))
    if _conv_rows.applies(C, kH, kW, oH, oW):  # trick 10's dw
        dw, db = _conv_rows.weight_gradient(x, dy, pad, kH, kW, cols_bytes)
        return _dx_part(dy, w, pad, x.shape, need_dx), dw, db
    row_blocks = _conv_blocks.row_blocks(K, oH, oW, x.itemsize,
                                         _conv_blocks.block_bytes(cols_bytes, K))
    blocks = [(n, row0, rows) for n in range(N) for row0, rows in row_blocks]

    def one_block(block):
        n, row0, rows = block
        x_rows = padded_rows(x[n], pad, pad, row0, rows + kH - 1, oW + kW - 1)
        dy_rows = dy[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]  # (F, rows*oW)
        cols = im2col_rows(x_rows, kH, kW, rows, oW)  # (K, rows*oW)
        dw_t_block = np.matmul(cols, dy_rows.T)  # (K, rows*oW) @ (rows*oW, F) -> (K, F)
        return dw_t_block, dy_rows.sum(axis=1)  # (K, F), (F,)

    block_results = _conv_blocks.results_in_order(one_block, blocks, cols_bytes)
    dw2_t, db = next(block_results)  # (K, F), dw transposed, and (F,): the first block's
    for dw_t_block, db_block in block_results:  # ... plus the others', in block order
        dw2_t += dw_t_block
        db += db_block
    dw = transposed(dw2_t).reshape(F, C, kH, kW)  # (F, K) -> (F, C, kH, kW)
    return _dx_part(dy, w, pad, x.shape, need_dx), dw, db


def _dx_part(dy, w, pad, x_shape, need_dx):
    """dx (x_shape) of conv2d_backward, or None when not need_dx:
    dx[n, c, h, v] = sum_{f,i,j} dyp[n, f, h+i, v+j] * w[f, c, kH-1-i, kW-1-j]."""
    if not need_dx:
        return None
    F, C, kH, kW = w.shape
    _, _, oH, oW = dy.shape
    if _col2im.applies(C, F, kH, kW, oH, oW):  # trick 11
        return _col2im.dx(dy, w, pad, x_shape)
    w_flip = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, F, kH, kW)
    dx = np.empty(x_shape, dtype=dy.dtype)
    _correlate(dy, kH - 1 - pad, kW - 1 - pad, w_flip, dx)
    return dx


def _dw_in_one_product(K, F, oH, oW, itemsize):
    """Whether conv2d_backward takes dw from each image's whole im2col in one product
    (trick 7): when one image's row blocks of _WHOLE_DW_TEST_BYTES would give (K, F)
    partial sums that together hold at least as many values as its whole im2col
    (blocks * F >= oH * oW: a deep layer, few pixels and many filters), and that im2col is
    at most _WHOLE_DW_BYTES. Shapes only: the same choice on any number of threads."""
    n_blocks = len(_conv_blocks.row_blocks(K, oH, oW, itemsize, _WHOLE_DW_TEST_BYTES))
    return n_blocks * F >= oH * oW and K * oH * oW * itemsize <= _WHOLE_DW_BYTES


def _dw_whole(x, dy, pad, kH, kW, cols_bytes):
    """dw (F, K) = sum over images n of dy_n (F, oH*oW) @ cols_n^T (oH*oW, K) (trick 7).

    cols_n, image n's whole im2col (K, oH*oW), is a fresh array (not the per-thread
    scratch, which stays the size of a block), gathered in two halves of its channels; the
    product is cut into two halves of F. Both cuts depend on the shapes only. On our
    threads when the layer runs there (trick 3), else on BLAS's.
    """
    N, C, _, _ = x.shape
    _, F, oH, oW = dy.shape
    K = C * kH * kW
    threads = _conv_blocks.block_threads(cols_bytes)
    channel_halves = _threads.parts(C, 1, max(1, C // 2))  # two parts (one if C == 1)
    filter_halves = _threads.parts(F, 1, max(1, F // 2))
    cols = np.empty((K, oH * oW), dtype=x.dtype)  # one image's whole im2col

    def one_image(n, out):  # out (F, K) = dy_n @ cols_n^T
        src = x[n] if pad == 0 else np.pad(x[n], ((0, 0), (pad, pad), (pad, pad)))
        rows = kH * kW  # rows of cols per channel
        _threads.run(lambda c: im2col_rows(src[c], kH, kW, oH, oW,
                                            out=cols[c.start * rows:c.stop * rows]),
                     channel_halves, threads)
        dy_n = dy[n].reshape(F, oH * oW)
        _threads.run(lambda f: np.matmul(dy_n[f], cols.T, out=out[f]), filter_halves, threads)
        return out

    dw = one_image(0, np.empty((F, K), dtype=x.dtype))
    for n in range(1, N):  # images in order: the same bits on any number of threads
        dw += one_image(n, np.empty_like(dw))
    return dw
