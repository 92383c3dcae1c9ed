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
2. Block size, by layer. A layer whose whole im2col is at least `_THREAD_BYTES` (64 MiB;
   the base-32 net's layers down to 128 channels) is cut into blocks for our threads
   (trick 3): of about `_THREAD_BLOCK_BYTES` (4 MiB; 90 blocks of 6-7 rows at the 32->32
   570x570 layer in float32) where the product is short, K <= `_SHORT_K` (1152: up to
   128 channels of 3x3), and of about `_LONG_THREAD_BLOCK_BYTES` (16 MiB) where it is
   longer; a smaller layer into blocks of about `_BLOCK_BYTES` (16 MiB, usually one block)
   for one product on BLAS's own threads. Always an even number of blocks of equal size
   (`_row_blocks`). Small blocks stay in the core's cache between gather and product (one
   thread, CPU time of forward + backward on the EPYC machine, 2026-12-04: 32->32 @570
   0.29 s with 2-4 MiB blocks, 0.40 s with 16 MiB; 64->64 @282 0.21 vs 0.27 s), but a
   product on two BLAS threads makes them synchronise, which small blocks pay for over
   and over: the paper step with 4 MiB blocks on BLAS's threads was 16 % slower than with
   16 MiB. On our own threads each product runs on one BLAS thread and nothing
   synchronises per block. A long product wants long blocks: at K = 2304-9216 a 4 MiB
   block is only 100-450 columns wide, a skinny product. Per layer on the Zen 4 host
   (2026-12-07, forward + backward on our threads, benchmarks/results/
   zen4_2026-12-07_blocks/): the layers of K <= 1152 fastest with 2-4 MiB blocks
   (64->64 @570 0.48 s with 4 MiB, 0.59 s with 8, 0.58 s with 16; not the first layer,
   K = 9, a few ms), the longer ones with 8-64 MiB (512->256 @104 0.41 s with 16 MiB,
   0.41 with 8, 0.45 with 4; not 256->128 @200, whose dx product is short: 2 % faster
   with 4 MiB than with 16); in the step
   (one-process A/Bs) 4 / 16 MiB against the 8 MiB for all of before: 572 / base 32
   8-13 % faster, the paper step 4-6 %. (Before: 8 MiB rather than 4 for all, from the Xeon
   machine, where 8 MiB was 6-7 % faster, 2026-12-05, benchmarks/results/
   xeon_2026-12-05/; level on the EPYC machine. Not yet measured there by K.) The cutting
   depends on the shapes only. `benchmarks/ops.py --conv-block-mib` measures one size for
   every layer.
3. Blocks run on several threads (`_run_blocks`, ops/_threads.py; one per core unless
   MINIMAL_UNET_THREADS=N says otherwise, and only for a layer whose whole im2col is at
   least `_THREAD_BYTES`: thresholds of 8-32 MiB and thread blocks of 1-8 MiB measured no
   better, benchmarks/results/epyc_2026-12-04_evening/). NumPy releases the
   GIL in the gather copy and in the product, so the threads really run at once, each
   product held to one BLAS thread. Each block writes its own rows of y or dx, and the dw
   products are added in block order, so the result has the same bits on any number of
   threads (tested). Measured (benchmarks/results/epyc_2026-12-04_threads/, both cores,
   one-process A/B): the paper step 1.74x -> 1.56x PyTorch's time, 572 / base 32
   2.13-2.20x -> 1.67-1.74x, the small step (no layer that large) level. (With one
   thread, OpenBLAS itself may split a product across its threads differently for another
   OPENBLAS_NUM_THREADS, which can change the last bit of dw, as PyTorch's can.)
   A network that has a layer from _THREAD_BYTES on runs EVERY layer on our threads
   (`UNet` calls `_threads.set_every_product` at each forward pass, for it and the
   backward pass after it; the up-convolutions follow it too), each product held to one
   BLAS thread, so that no product in the step wakes OpenBLAS's own threads: a woken
   OpenBLAS thread spins for ~0.1 s after its product, on the core the next large
   layer's blocks need (ops/_threads.py). Mixing the two (the mid-size layers on BLAS's
   threads) had cost the 572 / base-32 step 1.93 s instead of 1.42 s (1.89x -> 1.40x
   PyTorch's time) and the paper step 5.80 s instead of 5.16 s (2-core Xeon VM,
   2026-12-05, benchmarks/results/xeon_2026-12-05/blas_spin/). A network without such a
   layer (252 / base 16, the demo) keeps BLAS's threads for its products: on our threads
   its small blocks cost more in hand-offs than they gain.
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
   F(3x3, 2x2) for their dw (`_correlate_winograd`, `_dw_winograd`; ops/_winograd.py
   derives both and keeps their measurements): 16 F C multiply-adds per 2x2 tile of output
   (in 16 matrix products) where im2col does 36 F C, 2.25x fewer, at the price of
   transforming the input tiles and the output (additions, a few passes over each
   block). Where C >= _WINOGRAD_MIN_C (128), F >= _WINOGRAD_MIN_F (64), the output
   splits into whole 2x2 tiles and an image has at least _WINOGRAD_MIN_TILES (400) of
   them (elsewhere the transforms cost what the products save), in blocks of tile rows
   cut by `_row_blocks` as the im2col blocks are (`_winograd_blocks`: the same bits on
   any thread count, tested); trick 7 goes first for dw where it applies. The paper
   step 10-12 % faster (forward and dx) and 3-6 % more (dw), in one-process A/Bs on the
   Zen 4 VM (2026-12-07, benchmarks/results/zen4_2026-12-07_night/).
10. A kernel's rows as kH products over one horizontal im2col (`_correlate_rows`,
   `_dw_rows`), for the layers of 16 to 128 input channels (_ROWS_MIN_C; K <= _SHORT_K)
   that trick 9 leaves. The im2col sum over (c, i, j) split by the kernel row i:
       hcols[(c, j), (h, v)] = xp[n, c, row0+h, v+j]     # (C kW, (R+kH-1) oW): 1/kH of cols
       y[n, :, rows] = sum_i w[:, :, i, :] (F, C kW) @ hcols[:, i*oW:(i+R)*oW]
   since output row r's kernel row i reads source row r+i, the kH column ranges of the one
   gather are each block's im2col rows (c, i, j) for one i, as views; the products after
   the first are added in place from a scratch part. dw^T's rows (c, i, j) come the same
   way, hcols[:, i*oW:(i+R)*oW] @ dy_rows^T per i. A third of the gathering, the same
   multiply-adds in products of a third of the length. Blocks of about _ROWS_BLOCK_BYTES
   (2 MiB) of hcols on our threads (4 and 8 MiB were slower), im2col's rows on BLAS's.
   Zen 1 VM (AVX2 only, 2026-12-07, benchmarks/results/zen1_2026-12-07/): forward +
   backward per layer 0.74 (32->32 @570), 0.76 (64->64 @282), 0.81 (32->64 @284) and
   0.94-0.97 (the other 32- and 64-channel layers) of im2col's time, 128->64 @200 (whose
   dx takes it) 1.05; the steps 4 % (572 / base 32) and 8 % (252 / base 16) faster in
   one-process A/Bs. (The Xeon VM, 2026-12-05, one thread, forward only: 12-34 % faster at
   32->32, 64->64 and 64->32, 4-5 % slower at 32->64 and 64->128; not taken then, as
   forward only.) On an AVX-512 host (Xeon VM, family 6 model 207, 2026-12-07,
   benchmarks/results/xeon_2026-12-07/): the layers 0.92-1.03 of im2col's time (all
   18 of the base-32 net 0.989); a process per setting, three or two pairs: the 252 /
   base-16 step 2-12 % faster, 572 / base 32 from 4 % slower to 5 % faster, the paper
   step within 3 % either way. Kept on, but from 2026-12-08 only where an image has at
   least _ROWS_MIN_PIXELS (32 x 32) output pixels: at the 252 / base-16 net's six
   trick-10 layers of 12-26 pixels a side, plain im2col's forward + backward took
   0.70-0.98 of trick 10's time (40 of 42 paired rounds; its kH products of a few hundred
   columns each cost more in calls than the smaller gather saves; `rows_pixels_layers`
   in benchmarks/results/xeon_2026-12-07/), the step 3 % faster in one-process A/Bs (22
   of 41 rounds; 64 x 64 was level). Every 3x3 layer of the 572 nets has more pixels.
11. dx by col2im at the deep layers (`_dx_col2im`): the naive scatter
       dcols = w.reshape(F, K)^T @ dy[n]          # (K, F) @ (F, oH*oW), w^T a view
       dxp[n, :, i:i+oH, j:j+oW] += dcols[(:, i, j)]   # one shifted add per tap (i, j)
   in blocks of channels (about _COL2IM_BLOCK_BYTES of dcols each; every block writes
   its own channels, the taps in a fixed order: the same bits on any thread count). The
   correlation above multiplies dy's zero border too, (H W) / (oH oW) times the products
   of the forward (1.44x at 10x10 output), and first copies the flipped, transposed
   kernel (2.0 ms at 512->512, 22 ms at 1024->1024: benchmarks/results/xeon_2026-12-07/
   probes_output.txt); col2im does neither, at the price of kH kW passes over
   (C, oH, oW). Where the layer has at least _COL2IM_MIN_F (128) filters and at most
   _COL2IM_MAX_PIXELS (32 x 32) output pixels, dx took 0.47-0.97 of the correlation's
   time (128->256 @12 1.13 -> 0.57 ms, 512->512 @30 22.1 -> 16.2 ms; Xeon VM, family 6
   model 207, 2026-12-07, benchmarks/results/xeon_2026-12-07/col2im_layers_output.txt);
   at the shallow, wide layers 1.4-4.1x, the adds over large images costing more than
   the border saves, and 0.94-1.50x at the 64-filter layers of <= 60 pixels a side.
   Steps (one-process A/Bs): 252 / base 16 3 % faster, 572 / base 32 1 %, the paper
   step level to 1 %.

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

from minimal_unet.ops import _threads, _winograd
from minimal_unet.ops._checks import check_float_array, check_same_dtype, check_shape
from minimal_unet.ops._im2col import (
    im2col,  # noqa: F401 (read here by the notebooks)
    im2col_rows,
    padded_rows,
    scratch,
    transposed,
)

_BLOCK_BYTES = 16 * 2**20  # target size of one im2col block `cols` (see docstring)
_THREAD_BLOCK_BYTES = 4 * 2**20  # ... in a layer whose blocks go to our threads (trick 3)
_LONG_THREAD_BLOCK_BYTES = 16 * 2**20  # ... there, for a product longer than _SHORT_K
_SHORT_K = 1152  # the longest product (K = C*kH*kW; 128 channels of 3x3) of short blocks
_WHOLE_DW_TEST_BYTES = 8 * 2**20  # trick 7's test counts the blocks of this size
_SPLIT_BYTES = 2**20  # a whole im2col smaller than this stays one block, on this thread
_WORKERS = None  # threads that share the row blocks; None: _threads.workers() (trick 3)
_THREAD_BYTES = 64 * 2**20  # ... when the whole im2col is at least this large (trick 3)
_WHOLE_DW_BYTES = 128 * 2**20  # trick 7: the largest one-image im2col gathered whole for dw
_WINOGRAD = True  # trick 9: 3x3 products by Winograd's F(2x2, 3x3) where it applies
_WINOGRAD_MIN_C = 128  # ... for at least this many input channels
_WINOGRAD_MIN_F = 64  # ... and filters
_WINOGRAD_MIN_TILES = 400  # ... and at least this many 2x2 tiles of output per image
_WINOGRAD_DW = True  # ... and for dw too, by F(3x3, 2x2)
_WINOGRAD_BLOCK_BYTES = 2 * 2**20  # its block size (V) on our threads, C <= _SHORT_K / 9
_WINOGRAD_LONG_BLOCK_BYTES = 4 * 2**20  # ... for more channels
_ROWS = True  # trick 10: a kernel's rows as kH products over a horizontal im2col, where
_ROWS_MIN_C = 16  # ... a layer has at least this many input channels and K <= _SHORT_K
_ROWS_BLOCK_BYTES = 2 * 2**20  # its block size (hcols) on our threads
_ROWS_MIN_PIXELS = 32 * 32  # ... and at least this many output pixels per image
_COL2IM = True  # trick 11: dx by col2im (a product, then kH kW shifted adds) where
_COL2IM_MIN_F = 128  # ... a layer has at least this many filters
_COL2IM_MAX_PIXELS = 32 * 32  # ... and at most this many output pixels per image
_COL2IM_BLOCK_BYTES = 2**20  # ... in blocks of channels of about this much dcols


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


def runs_on_our_threads(cols_bytes):
    """Whether a layer whose whole im2col is `cols_bytes` is large enough for our threads
    on its own (_THREAD_BYTES; a network with one such layer sends them all, trick 3)."""
    return cols_bytes >= _THREAD_BYTES


def _on_our_threads(cols_bytes):
    """Whether a layer whose whole im2col is `cols_bytes` runs in blocks on our threads:
    from _THREAD_BYTES on, or every layer while `_threads.every_product()` (a network that
    has such a layer; trick 3)."""
    return runs_on_our_threads(cols_bytes) or _threads.every_product()


def _block_bytes(cols_bytes, K):
    """The target block size of a layer whose whole im2col is `cols_bytes`, with K rows
    (C*kH*kW): _BLOCK_BYTES for one product on BLAS's threads; on our threads (trick 3)
    _THREAD_BLOCK_BYTES for a product of at most _SHORT_K, else _LONG_THREAD_BLOCK_BYTES
    (trick 2)."""
    if not _on_our_threads(cols_bytes):
        return _BLOCK_BYTES
    return _THREAD_BLOCK_BYTES if K <= _SHORT_K else _LONG_THREAD_BLOCK_BYTES


def _row_blocks(K, oH, oW, itemsize, block_bytes=None):
    """[(row0, rows)]: the oH output rows cut into blocks whose `cols` (K, rows*oW) is about
    `block_bytes` (default _BLOCK_BYTES), their sizes differing by one row at most, and an
    even number of them (so that two threads get the same work) unless the whole im2col is
    under _SPLIT_BYTES, where one block and no thread is cheaper. Depends on the shapes
    only, never on the thread count.
    """
    block_bytes = _BLOCK_BYTES if block_bytes is None else block_bytes
    row_bytes = K * oW * itemsize  # one output row of cols
    n_blocks = min(oH, max(1, -(-oH * row_bytes // block_bytes)))  # ceil, at most oH
    if n_blocks % 2 == 1 and n_blocks < oH and oH * row_bytes >= _SPLIT_BYTES:
        n_blocks += 1
    rows, extra = divmod(oH, n_blocks)  # the first `extra` blocks get one row more
    sizes = [rows + 1] * extra + [rows] * (n_blocks - extra)
    starts = np.cumsum([0] + sizes[:-1])
    return [(int(row0), size) for row0, size in zip(starts, sizes)]


def _block_threads(cols_bytes):
    """Threads for a layer whose whole im2col is `cols_bytes`: _WORKERS (None: _threads'
    default) when it runs on our threads (`_on_our_threads`), else 1 (trick 3)."""
    return _WORKERS if _on_our_threads(cols_bytes) else 1


def _run_blocks(task, blocks, cols_bytes):
    """[task(block) for block in blocks] in block order, over `_WORKERS` threads (_threads)
    when the layer runs on our threads (`_on_our_threads`), else on this thread."""
    return _threads.run(task, blocks, _block_threads(cols_bytes))


def _winograd_applies(C, F, kH, kW, oH, oW):
    """Whether `_correlate` takes Winograd's F(2x2, 3x3) (trick 9): a 3x3 kernel, an even
    output height and width (whole 2x2 tiles), at least _WINOGRAD_MIN_C input channels and
    _WINOGRAD_MIN_F filters, and at least _WINOGRAD_MIN_TILES tiles per image. Shapes
    only: the same choice on any number of threads."""
    return (_WINOGRAD and kH == kW == 3 and oH % 2 == 0 and oW % 2 == 0
            and C >= _WINOGRAD_MIN_C and F >= _WINOGRAD_MIN_F
            and (oH // 2) * (oW // 2) >= _WINOGRAD_MIN_TILES)


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
    if _winograd_applies(C, F, kH, kW, oH, oW):
        _correlate_winograd(src, top, left, w, out, bias, cols_bytes)
        return
    if _rows_apply(C, kH, kW, oH, oW):
        _correlate_rows(src, top, left, w, out, bias, cols_bytes)
        return
    w2 = w.reshape(F, K)  # (F, K)
    row_blocks = _row_blocks(K, oH, oW, src.itemsize, _block_bytes(cols_bytes, K))

    def one_block(block):
        n, row0, rows = block
        src_rows = padded_rows(src[n], top, left, row0, rows + kH - 1, oW + kW - 1)
        cols = im2col_rows(src_rows, kH, kW, rows, oW)  # (K, rows*oW)
        out_rows = out[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]  # a view
        np.matmul(w2, cols, out=out_rows)  # (F, K) @ (K, rows*oW)
        if bias is not None:
            out_rows += bias[:, None]  # (F, 1) broadcast over the block's pixels

    _run_blocks(one_block, [(n, row0, rows) for n in range(N) for row0, rows in row_blocks],
                cols_bytes)


def _winograd_blocks(C, oH, oW, itemsize, cols_bytes):
    """[(tile_row0, tile_rows)]: trick 9's blocks of a layer, by `_row_blocks` over its
    oH/2 rows of 2x2 tiles, V (16 C values per tile) in the place of cols: of about
    _BLOCK_BYTES for one product on BLAS's threads, else _WINOGRAD_BLOCK_BYTES up to
    _SHORT_K / 9 channels and _WINOGRAD_LONG_BLOCK_BYTES beyond."""
    if not _on_our_threads(cols_bytes):
        block_bytes = _BLOCK_BYTES
    elif C <= _SHORT_K // 9:
        block_bytes = _WINOGRAD_BLOCK_BYTES
    else:
        block_bytes = _WINOGRAD_LONG_BLOCK_BYTES
    return _row_blocks(16 * C, oH // 2, oW // 2, itemsize, block_bytes)


def _correlate_winograd(src, top, left, w, out, bias, cols_bytes):
    """`_correlate` for a 3x3 kernel by Winograd's F(2x2, 3x3) (trick 9, ops/_winograd.py),
    in blocks of 2R output rows (R rows of 2x2 tiles) cut by `_row_blocks` as the im2col
    blocks are, with V (16 C values per tile) in the place of cols."""
    N, C, _, _ = src.shape
    _, F, oH, oW = out.shape
    U = _winograd.transformed_filters(w)  # (16, F, C)
    row_blocks = _winograd_blocks(C, oH, oW, src.itemsize, cols_bytes)

    def one_block(block):
        n, tile0, tiles = block
        row0, rows = 2 * tile0, 2 * tiles  # output rows
        src_rows = padded_rows(src[n], top, left, row0, rows + 2, oW + 2)  # (C, rows+2, oW+2)
        out_rows = out[n, :, row0:row0 + rows]  # (F, rows, oW), a view
        _winograd.correlate_rows(src_rows, U, out_rows)
        if bias is not None:
            out_rows += bias[:, None, None]

    _run_blocks(one_block, [(n, t0, tiles) for n in range(N) for t0, tiles in row_blocks],
                cols_bytes)


def _rows_apply(C, kH, kW, oH, oW):
    """Whether a layer takes trick 10 (kH products over a horizontal im2col): a kernel of
    more than one row, at least _ROWS_MIN_C input channels, a short product (K = C kH
    kW <= _SHORT_K) and at least _ROWS_MIN_PIXELS output pixels per image. Shapes only:
    the same choice on any number of threads."""
    return (_ROWS and kH > 1 and C >= _ROWS_MIN_C and C * kH * kW <= _SHORT_K
            and oH * oW >= _ROWS_MIN_PIXELS)


def _rows_blocks(C, kH, kW, oH, oW, itemsize, cols_bytes):
    """[(row0, rows)]: trick 10's blocks, by `_row_blocks` with hcols (C kW values per
    output pixel) in the place of cols: of about _ROWS_BLOCK_BYTES on our threads, else
    the rows of im2col's own blocks on BLAS's threads (_BLOCK_BYTES of cols)."""
    if _on_our_threads(cols_bytes):
        return _row_blocks(C * kW, oH, oW, itemsize, _ROWS_BLOCK_BYTES)
    return _row_blocks(C * kH * kW, oH, oW, itemsize, _BLOCK_BYTES)


def _horizontal_cols(src, top, left, row0, rows, kH, kW, oW):
    """hcols[(c, j), (h, v)] = srcp[c, row0+h, v+j] for h < rows+kH-1 (trick 10): the
    receptive fields of a block's rows one kernel row high, (C kW, (rows+kH-1) oW), in a
    scratch buffer. Kernel row i of output row r reads hcols row r+i: the columns
    hcols[:, i*oW:(i+rows)*oW] are the block's im2col rows (c, i, j), a view."""
    src_rows = padded_rows(src, top, left, row0, rows + kH - 1, oW + kW - 1)
    return im2col_rows(src_rows, 1, kW, rows + kH - 1, oW)  # (C kW, (rows+kH-1) oW)


def _correlate_rows(src, top, left, w, out, bias, cols_bytes):
    """`_correlate` by trick 10: per block, out_rows = sum over kernel rows i of
    w[:, :, i, :] (F, C kW) @ hcols[:, i*oW:(i+rows)*oW] (C kW, rows*oW): the im2col
    product's sum over (c, i, j) split by i, each part from the one horizontal gather."""
    N, C, _, _ = src.shape
    F, _, kH, kW = w.shape
    _, _, oH, oW = out.shape
    w_rows = [np.ascontiguousarray(w[:, :, i, :]).reshape(F, C * kW) for i in range(kH)]
    row_blocks = _rows_blocks(C, kH, kW, oH, oW, src.itemsize, cols_bytes)

    def one_block(block):
        n, row0, rows = block
        hcols = _horizontal_cols(src[n], top, left, row0, rows, kH, kW, oW)
        out_rows = out[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]  # a view
        np.matmul(w_rows[0], hcols[:, :rows * oW], out=out_rows)  # kernel row 0
        part = scratch("rows_part", F * rows * oW, out.dtype).reshape(F, rows * oW)
        for i in range(1, kH):  # ... plus rows 1 .. kH-1, each in place
            np.matmul(w_rows[i], hcols[:, i * oW:(i + rows) * oW], out=part)
            out_rows += part
        if bias is not None:
            out_rows += bias[:, None]

    _run_blocks(one_block, [(n, row0, rows) for n in range(N) for row0, rows in row_blocks],
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
    if _WINOGRAD_DW and _winograd_applies(C, F, kH, kW, oH, oW):  # trick 9's dw
        dw = _dw_winograd(x, dy, pad, cols_bytes)
        return _dx_part(dy, w, pad, x.shape, need_dx), dw, dy.sum(axis=(0, 2, 3))
    if _rows_apply(C, kH, kW, oH, oW):  # trick 10's dw
        dw, db = _dw_rows(x, dy, pad, kH, kW, cols_bytes)
        return _dx_part(dy, w, pad, x.shape, need_dx), dw, db
    row_blocks = _row_blocks(K, oH, oW, x.itemsize, _block_bytes(cols_bytes, K))
    blocks = [(n, row0, rows) for n in range(N) for row0, rows in row_blocks]

    def one_block(block):
        n, row0, rows = block
        x_rows = padded_rows(x[n], pad, pad, row0, rows + kH - 1, oW + kW - 1)
        dy_rows = dy[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]  # (F, rows*oW)
        cols = im2col_rows(x_rows, kH, kW, rows, oW)  # (K, rows*oW)
        dw_t_block = np.matmul(cols, dy_rows.T)  # (K, rows*oW) @ (rows*oW, F) -> (K, F)
        return dw_t_block, dy_rows.sum(axis=1)  # (K, F), (F,)

    block_results = _threads.results_in_order(one_block, blocks, _block_threads(cols_bytes))
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
    if _col2im_applies(C, F, kH, kW, oH, oW):
        return _dx_col2im(dy, w, pad, x_shape)
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
    n_blocks = len(_row_blocks(K, oH, oW, itemsize, _WHOLE_DW_TEST_BYTES))
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
    threads = _block_threads(cols_bytes)
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


def _dw_winograd(x, dy, pad, cols_bytes):
    """dw (F, C, 3, 3) by Winograd's F(3x3, 2x2) (trick 9, ops/_winograd.py): each
    block's (16, F, C) transformed partial sum, summed in block order (the same bits on
    any number of threads), then transformed back once."""
    N, C, _, _ = x.shape
    _, F, oH, oW = dy.shape
    blocks = _winograd_blocks(C, oH, oW, x.itemsize, cols_bytes)

    def one_block(block):
        n, tile0, tiles = block
        row0, rows = 2 * tile0, 2 * tiles  # output rows
        x_rows = padded_rows(x[n], pad, pad, row0, rows + 2, oW + 2)  # (C, rows+2, oW+2)
        return _winograd.filter_gradient_rows(x_rows, dy[n, :, row0:row0 + rows])

    results = _threads.results_in_order(
        one_block, [(n, t0, tiles) for n in range(N) for t0, tiles in blocks],
        _block_threads(cols_bytes))
    W = next(results)  # (16, F, C), the first block's
    for W_block in results:  # ... plus the others', in block order
        W += W_block
    return _winograd.filter_gradients(W)


def _dw_rows(x, dy, pad, kH, kW, cols_bytes):
    """dw (F, C, kH, kW) and db by trick 10: per block, kernel row i's dw^T (C kW, F) =
    hcols[:, i*oW:(i+rows)*oW] @ dy_rows^T, kH products from one horizontal gather; the
    blocks' (kH, C kW, F) parts summed in block order (the same bits on any number of
    threads), then put in dw's order once."""
    N, C, _, _ = x.shape
    _, F, oH, oW = dy.shape
    blocks = _rows_blocks(C, kH, kW, oH, oW, x.itemsize, cols_bytes)

    def one_block(block):
        n, row0, rows = block
        hcols = _horizontal_cols(x[n], pad, pad, row0, rows, kH, kW, oW)
        dy_rows = dy[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]  # (F, rows*oW)
        parts = np.empty((kH, C * kW, F), dtype=x.dtype)  # parts[i, (c, j), f]
        for i in range(kH):
            np.matmul(hcols[:, i * oW:(i + rows) * oW], dy_rows.T, out=parts[i])
        return parts, dy_rows.sum(axis=1)

    results = _threads.results_in_order(
        one_block, [(n, row0, rows) for n in range(N) for row0, rows in blocks],
        _block_threads(cols_bytes))
    parts, db = next(results)  # the first block's
    for parts_block, db_block in results:  # ... plus the others', in block order
        parts += parts_block
        db += db_block
    dw_t = transposed(parts.reshape(kH * C * kW, F))  # (F, (i, c, j))
    dw = dw_t.reshape(F, kH, C, kW).transpose(0, 2, 1, 3)  # (F, C, kH, kW), a view
    return np.ascontiguousarray(dw), db


def _col2im_applies(C, F, kH, kW, oH, oW):
    """Whether dx takes trick 11 (col2im): at least _COL2IM_MIN_F filters and at most
    _COL2IM_MAX_PIXELS output pixels per image. Shapes only: the same choice on any
    number of threads."""
    return _COL2IM and F >= _COL2IM_MIN_F and oH * oW <= _COL2IM_MAX_PIXELS


def _dx_col2im(dy, w, pad, x_shape):
    """dx by trick 11: per image and block of channels c0:c1,
        dcols = w[:, c0:c1]^T ((c1-c0) kH kW, F) @ dy_n (F, oH oW)
        dxp[n, c0:c1, i:i+oH, j:j+oW] += dcols[(c, i, j), :] for each kernel tap (i, j),
    the naive `dxp[...] += w * g` with the loops over f, h, v in the product; dx is dxp
    without its padding. Each block writes its own channels of dxp, in a fixed order of
    taps: the same bits on any number of threads."""
    N, C, H, W = x_shape
    F, _, kH, kW = w.shape
    _, _, oH, oW = dy.shape
    w2 = w.reshape(F, C * kH * kW)  # (F, (c, i, j))
    dxp = np.empty((N, C, H + 2 * pad, W + 2 * pad), dtype=dy.dtype)
    taps_bytes = kH * kW * oH * oW * dy.itemsize  # one channel's dcols
    blocks = _row_blocks(kH * kW * oH, C, oW, dy.itemsize, _COL2IM_BLOCK_BYTES)  # channels

    def one_block(block):
        n, c0, channels = block
        k0, k1 = c0 * kH * kW, (c0 + channels) * kH * kW
        dcols = scratch("dcols", (k1 - k0) * oH * oW, dy.dtype).reshape(k1 - k0, oH * oW)
        np.matmul(w2[:, k0:k1].T, dy[n].reshape(F, oH * oW), out=dcols)
        dcols = dcols.reshape(channels, kH, kW, oH, oW)
        part = dxp[n, c0:c0 + channels]  # (channels, H + 2 pad, W + 2 pad), a view
        part.fill(0)
        for i in range(kH):
            for j in range(kW):
                part[:, i:i + oH, j:j + oW] += dcols[:, i, j]

    _run_blocks(one_block, [(n, c0, channels) for n in range(N) for c0, channels in blocks],
                N * C * taps_bytes)
    if pad == 0:
        return dxp
    return np.ascontiguousarray(dxp[:, :, pad:pad + H, pad:pad + W])
