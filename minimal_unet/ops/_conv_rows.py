"""conv2d's trick 10: a kernel's rows as kH products over one horizontal im2col, for the
layers of 16 to 128 input channels that trick 9 (Winograd) leaves.

Shape legend (as in conv2d.py)
    C, F  input channels, filters      kH, kW  kernel size      oH, oW  output size
    R  output rows in a block          hcols  (C kW, (R+kH-1) oW), the horizontal gather

The im2col sum over (c, i, j) split by the kernel row i:
    hcols[(c, j), (h, v)] = xp[n, c, row0+h, v+j]     # a third of im2col's rows (kH = 3)
    y[n, :, rows] = sum_i w[:, :, i, :] (F, C kW) @ hcols[:, i*oW:(i+R)*oW]
since output row r's kernel row i reads source row r+i, the kH column ranges of the one
gather are each block's im2col rows (c, i, j) for one i, as views; the products after
the first are added in place from a scratch part. dw^T's rows (c, i, j) come the same
way, hcols[:, i*oW:(i+R)*oW] @ dy_rows^T per i. A third of the gathering, the same
multiply-adds in products of a third of the length. Notebook 01 shows the identity on one
image.

Where (`applies`): a kernel of more than one row, at least _MIN_C (16) input channels, a
short product (K = C kH kW <= _conv_blocks._SHORT_K, 128 channels of 3x3) and at least
_MIN_PIXELS (32 x 32) output pixels per image. Blocks of about _BLOCK_BYTES (2 MiB) of
hcols on our threads (4 and 8 MiB were slower), im2col's rows on BLAS's.

Measured. Zen 1 VM (AVX2 only, 2026-12-07, benchmarks/results/zen1_2026-12-07/): forward
+ backward per layer 0.74 (32->32 @570), 0.76 (64->64 @282), 0.81 (32->64 @284) and
0.94-0.97 (the other 32- and 64-channel layers) of im2col's time, 128->64 @200 (whose dx
takes it) 1.05; the steps 4 % (572 / base 32) and 8 % (252 / base 16) faster in
one-process A/Bs. (The Xeon VM, 2026-12-05, one thread, forward only: 12-34 % faster at
32->32, 64->64 and 64->32, 4-5 % slower at 32->64 and 64->128; not taken then, as forward
only.) On an AVX-512 host (Xeon VM, family 6 model 207, 2026-12-07,
benchmarks/results/xeon_2026-12-07/): the layers 0.92-1.03 of im2col's time (all 18 of
the base-32 net 0.989); a process per setting, three or two pairs: the 252 / base-16
step 2-12 % faster, 572 / base 32 from 4 % slower to 5 % faster, the paper step within
3 % either way. Kept on, but from 2026-12-08 only where an image has at least
_MIN_PIXELS output pixels: at the 252 / base-16 net's six trick-10 layers of 12-26 pixels
a side, plain im2col's forward + backward took 0.70-0.98 of trick 10's time (40 of 42
paired rounds; its kH products of a few hundred columns each cost more in calls than the
smaller gather saves; `rows_pixels_layers` in benchmarks/results/xeon_2026-12-07/), the
step 3 % faster in one-process A/Bs (22 of 41 rounds; 64 x 64 was level). Every 3x3
layer of the 572 nets has more pixels.
"""

import numpy as np

from minimal_unet.ops import _conv_blocks
from minimal_unet.ops._im2col import im2col_rows, padded_rows, scratch, transposed

_ON = True  # trick 10 where `applies` says so; False: im2col everywhere
_MIN_C = 16  # ... where a layer has at least this many input channels
_MIN_PIXELS = 32 * 32  # ... and at least this many output pixels per image
_BLOCK_BYTES = 2 * 2**20  # its block size (hcols) on our threads


def applies(C, kH, kW, oH, oW):
    """Whether a layer takes trick 10: a kernel of more than one row, at least _MIN_C input
    channels, a short product (K = C kH kW <= _conv_blocks._SHORT_K) and at least
    _MIN_PIXELS output pixels per image. Shapes only: the same choice on any number of
    threads."""
    return (_ON and kH > 1 and C >= _MIN_C and C * kH * kW <= _conv_blocks._SHORT_K
            and oH * oW >= _MIN_PIXELS)


def blocks(C, kH, kW, oH, oW, itemsize, cols_bytes):
    """[(row0, rows)]: trick 10's blocks, by `_conv_blocks.row_blocks` with hcols (C kW
    values per output pixel) in the place of cols: of about _BLOCK_BYTES on our threads,
    else the rows of im2col's own blocks on BLAS's threads (_conv_blocks._BLOCK_BYTES of
    cols)."""
    if _conv_blocks.on_our_threads(cols_bytes):
        return _conv_blocks.row_blocks(C * kW, oH, oW, itemsize, _BLOCK_BYTES)
    return _conv_blocks.row_blocks(C * kH * kW, oH, oW, itemsize, _conv_blocks._BLOCK_BYTES)


def horizontal_cols(src, top, left, row0, rows, kH, kW, oW):
    """hcols[(c, j), (h, v)] = srcp[c, row0+h, v+j] for h < rows+kH-1: the receptive
    fields of a block's rows one kernel row high, (C kW, (rows+kH-1) oW), in a scratch
    buffer. Kernel row i of output row r reads hcols row r+i: the columns
    hcols[:, i*oW:(i+rows)*oW] are the block's im2col rows (c, i, j), a view."""
    src_rows = padded_rows(src, top, left, row0, rows + kH - 1, oW + kW - 1)
    return im2col_rows(src_rows, 1, kW, rows + kH - 1, oW)  # (C kW, (rows+kH-1) oW)


def correlate(src, top, left, w, out, bias, cols_bytes):
    """conv2d's `_correlate` by trick 10: per block, out_rows = sum over kernel rows i of
    w[:, :, i, :] (F, C kW) @ hcols[:, i*oW:(i+rows)*oW] (C kW, rows*oW): the im2col
    product's sum over (c, i, j) split by i, each part from the one horizontal gather."""
    N, C, _, _ = src.shape
    F, _, kH, kW = w.shape
    _, _, oH, oW = out.shape
    w_rows = [np.ascontiguousarray(w[:, :, i, :]).reshape(F, C * kW) for i in range(kH)]
    row_blocks = blocks(C, kH, kW, oH, oW, src.itemsize, cols_bytes)

    def one_block(block):
        n, row0, rows = block
        hcols = horizontal_cols(src[n], top, left, row0, rows, kH, kW, oW)
        out_rows = out[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]  # a view
        np.matmul(w_rows[0], hcols[:, :rows * oW], out=out_rows)  # kernel row 0
        part = scratch("rows_part", F * rows * oW, out.dtype).reshape(F, rows * oW)
        for i in range(1, kH):  # ... plus rows 1 .. kH-1, each in place
            np.matmul(w_rows[i], hcols[:, i * oW:(i + rows) * oW], out=part)
            out_rows += part
        if bias is not None:
            out_rows += bias[:, None]

    _conv_blocks.run_blocks(
        one_block, [(n, row0, rows) for n in range(N) for row0, rows in row_blocks],
        cols_bytes)


def weight_gradient(x, dy, pad, kH, kW, cols_bytes):
    """dw (F, C, kH, kW) and db by trick 10: per block, kernel row i's dw^T (C kW, F) =
    hcols[:, i*oW:(i+rows)*oW] @ dy_rows^T, kH products from one horizontal gather; the
    blocks' (kH, C kW, F) parts summed in block order (the same bits on any number of
    threads), then put in dw's order once."""
    N, C, _, _ = x.shape
    _, F, oH, oW = dy.shape
    row_blocks = blocks(C, kH, kW, oH, oW, x.itemsize, cols_bytes)

    def one_block(block):
        n, row0, rows = block
        hcols = horizontal_cols(x[n], pad, pad, row0, rows, kH, kW, oW)
        dy_rows = dy[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]  # (F, rows*oW)
        parts = np.empty((kH, C * kW, F), dtype=x.dtype)  # parts[i, (c, j), f]
        for i in range(kH):
            np.matmul(hcols[:, i * oW:(i + rows) * oW], dy_rows.T, out=parts[i])
        return parts, dy_rows.sum(axis=1)

    results = _conv_blocks.results_in_order(
        one_block, [(n, row0, rows) for n in range(N) for row0, rows in row_blocks],
        cols_bytes)
    parts, db = next(results)  # the first block's
    for parts_block, db_block in results:  # ... plus the others', in block order
        parts += parts_block
        db += db_block
    dw_t = transposed(parts.reshape(kH * C * kW, F))  # (F, (i, c, j))
    dw = dw_t.reshape(F, kH, C, kW).transpose(0, 2, 1, 3)  # (F, C, kH, kW), a view
    return np.ascontiguousarray(dw), db
