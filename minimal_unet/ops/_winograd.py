"""Winograd's minimal filtering F(2x2, 3x3): conv2d's trick 9, a 3x3 correlation in 4 F C
multiply-adds per output pixel instead of im2col's 9 F C (and F(3x3, 2x2), the same
transforms turned round, for the weight gradient: `filter_gradient_rows`).

Shape legend (as in conv2d.py)
    C  input channels     F  filters (output channels)
    R  tile rows in a block (2R output rows)     T  tile columns (2T output columns)

The maths (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016).
A 2x2 tile Y of a 3x3 correlation's output depends on a 4x4 tile d of its input (one
channel, kernel g):
    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise, 4x4)
    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
(check it on one tile: `tile_correlation` below against the 9-term sum, in the tests).
Tiles step by 2 in each direction and overlap by 2. Summed over the channels, the 16
elementwise products of each tile become 16 matrix products, one per position k of the
4x4 transformed tile:
    U[k] = (G g G^T)[k] for every (f, c)     (16, F, C)  the filters, transformed once
    V[k] = (B^T d B)[k] for every (c, tile)  (16, C, R*T) the input tiles of a block
    M[k] = U[k] @ V[k]                        (16, F, R*T) one product per k
    y's 2x2 tile at (f, tile) = A^T M[:, f, tile] A
16 F C multiply-adds per tile of 4 outputs. B, G and A hold only 0, +-1 and +-1/2, so the
transforms are additions (and halvings, exact in binary), done here as whole-array NumPy
operations on the block: no Python loop over tiles or channels.

Where conv2d uses it (trick 9: `applies`, `correlate` and `weight_gradient` at the end of
this module): 3x3 layers of at least _MIN_C (128) input channels, _MIN_F (64) filters and
_MIN_TILES (400) tiles per image with even output sides (elsewhere the transforms cost
what the products save), in blocks of R tile rows whose V is about _BLOCK_BYTES (2 MiB)
at 128 channels and _LONG_BLOCK_BYTES (4 MiB) from 256 on (as fast as 8 MiB, 30-50 MB
less scratch at 572 / base 32), cut by `_conv_blocks.row_blocks` as the im2col blocks are
(the same bits on any thread count, tested); dw by `filter_gradient_rows`, unless conv2d's
trick 7 applies (1024->512 @56: 163 ms by trick 7, 168 this way). Measured on the
2-core Zen 4 VM, 2026-12-07 (benchmarks/results/zen4_2026-12-07_night/):
- per layer, as the 572 / base-32 net runs them: forward + backward 5-16 % faster at the
  layers that take it (winograd_layers_*, before dw took it); with every 3x3 layer taking
  it, the 32-channel layers 0-4 % slower (the transforms cost what the products save), the
  512-filter layers of 14-15 tiles a side 17-21 % slower (16 skinny products), the
  64-channel layers 6-7 % faster alone but level inside the step
  (winograd_in_step_b32_output.txt); dw alone 3-28 % faster than im2col's
  (winograd_dw_layers_output.txt);
- steps, one-process A/Bs: forward and dx, the paper step 10-12 % faster, 572 / base 32 in
  float64 6 %, in float32 4-7 % in the two quieter runs of five (level in the noisier
  ones); dw on top, paired, the paper step 0.936 and 0.966, 572 / base 32 1.050, 0.957
  and 0.997 (winograd_dw_ab_*); step records: the paper step 1.05-1.07x PyTorch's time
  (1.13x before), 572 / base 32 1.13-1.36x (1.21x) with the host's spells;
- rounding, float32: forward and dx as im2col's, 4-7e-7 of the largest output away from
  the float64 result at those layers (winograd_rounding_output.txt); dw by this way and
  by im2col 6-9e-7 of the largest apart.
On the Intel Xeon VM (family 6, model 207, 2026-12-08, benchmarks/results/xeon_2026-12-08/)
the rule is not the best one: the 572 / base-32 layers it takes were 5 % faster without it
(summed), the paper net's large layers of >= 128 filters faster with it (256->256 @138 by
1.5x), its 512-filter layers of 26-33 tiles a side and its 64-filter layers slower
(0.88-0.95); >= 128 filters and >= 2500 tiles made the 572 / base-32 step 2-4.5 % faster
there, the paper step 5 % or level. Kept as chosen on the Zen 4 VM until the stricter rule
is measured on an AMD host too.
cuDNN and oneDNN offer the same algorithm for 3x3 layers.
"""

import numpy as np

from minimal_unet.ops import _conv_blocks
from minimal_unet.ops._im2col import padded_rows, scratch

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)

_ON = True  # trick 9 in conv2d where `applies` says so; False: never
_MIN_C = 128  # ... for at least this many input channels
_MIN_F = 64  # ... and filters
_MIN_TILES = 400  # ... and at least this many 2x2 tiles of output per image
_DW = True  # ... and for dw too, by F(3x3, 2x2)
_BLOCK_BYTES = 2 * 2**20  # its block size (V) on our threads, C <= _SHORT_K / 9
_LONG_BLOCK_BYTES = 4 * 2**20  # ... for more channels


def tile_correlation(d, g):
    """The 2x2 correlation of a 4x4 tile d with a 3x3 kernel g, Winograd's way, for reading:
    A^T [(G g G^T) * (B^T d B)] A == [[sum(d[h:h+3, v:v+3] * g) for v in 0, 1] for h in 0, 1]."""
    return A_T @ ((G @ g @ G.T) * (B_T @ d @ B_T.T)) @ A_T.T


def transformed_filters(w):
    """U (16, F, C), C-contiguous: U[(a, b), f, c] = (G w[f, c] G^T)[a, b].

    w (F, C, 3, 3) float32/float64; U has w's dtype. Elementwise, G's rows written out
    (no BLAS call: a product on BLAS's own threads in the middle of a step that holds BLAS
    to one thread would wake its threads, which then spin on our cores, ops/_threads.py).
    """
    F, C = w.shape[:2]
    g = np.moveaxis(w, (2, 3), (0, 1))  # (3, 3, F, C): g[i, j] is one (F, C) plane
    half = w.dtype.type(0.5)
    # t = G g: rows g[0], (g[0] + g[1] + g[2]) / 2, (g[0] - g[1] + g[2]) / 2, g[2]
    t = np.stack([g[0], (g[0] + g[1] + g[2]) * half, (g[0] - g[1] + g[2]) * half, g[2]])
    # U = t G^T: the same combination of t's columns
    u = np.stack([t[:, 0], (t[:, 0] + t[:, 1] + t[:, 2]) * half,
                  (t[:, 0] - t[:, 1] + t[:, 2]) * half, t[:, 2]], axis=1)  # (4, 4, F, C)
    return u.reshape(16, F, C)


def input_tiles(src_rows, work):
    """V (16, C, R*T): V[(a, b), c, (r, t)] = (B^T d B)[a, b] for the 4x4 input tile d at
    tile row r, tile column t of src_rows[c] (C, 2R+2, 2T+2; any strides but unit steps
    along a row). In scratch (per thread); `work` is a flat scratch array of at least
    4 C (R+1) (T+1) + 8 C R (T+1) values, overwritten."""
    C, rows2, width2 = src_rows.shape
    R, T = (rows2 - 2) // 2, (width2 - 2) // 2
    eo_size, t_size = 2 * C * rows2 * (T + 1), 8 * C * R * (T + 1)
    # The even and odd columns apart (one copy), so that the column steps below are
    # unit-stride: column 2t+j of a tile is x_eo[j % 2][..., t + j // 2].
    x_eo = work[:eo_size].reshape(2, C, rows2, T + 1)
    np.copyto(x_eo, src_rows.reshape(C, rows2, T + 1, 2).transpose(3, 0, 1, 2))
    # Rows: t[a] = (B^T d)[a] for every tile row; row 2r+i of the block is r_i[..., r, :].
    r0, r1, r2, r3 = (x_eo[:, :, i:i + 2 * R:2] for i in range(4))  # each (2, C, R, T+1)
    t = work[eo_size:eo_size + t_size].reshape(4, 2, C, R, T + 1)
    np.subtract(r0, r2, out=t[0])
    np.add(r1, r2, out=t[1])
    np.subtract(r2, r1, out=t[2])
    np.subtract(r1, r3, out=t[3])
    # Columns: V[a, b] = (B^T d B)[a, b]; columns 0..3 of tile t are e[t], o[t], e[t+1], o[t+1].
    e0, o0, e1, o1 = t[:, 0, ..., :T], t[:, 1, ..., :T], t[:, 0, ..., 1:], t[:, 1, ..., 1:]
    V = scratch("wino_v", 16 * C * R * T, src_rows.dtype).reshape(4, 4, C, R, T)
    np.subtract(e0, e1, out=V[:, 0])
    np.add(o0, e1, out=V[:, 1])
    np.subtract(e1, o0, out=V[:, 2])
    np.subtract(o0, o1, out=V[:, 3])
    return V.reshape(16, C, R * T)


def _work(C, R, T, other, dtype):
    """The flat scratch `input_tiles` needs, at least `other` values long."""
    size = 2 * C * (2 * R + 2) * (T + 1) + 8 * C * R * (T + 1)
    return scratch("wino_work", max(size, other), dtype)


def correlate_rows(src_rows, U, out_rows):
    """out_rows[f, h, v] = sum_{c,i,j} w[f, c, i, j] src_rows[c, h+i, v+j], by 2x2 tiles.

    src_rows (C, 2R+2, 2T+2), any strides but unit steps along a row; U (16, F, C) from
    `transformed_filters(w)`; out_rows (F, 2R, 2T), a view whose rows are contiguous,
    written in place. Three scratch buffers per thread (_im2col.scratch): V (16 C R T
    values), M (16 F R T), and one for the steps before V and after M in turn.
    """
    C, rows2, width2 = src_rows.shape
    F = U.shape[1]
    R, T = (rows2 - 2) // 2, (width2 - 2) // 2
    work = _work(C, R, T, 8 * F * R * T, src_rows.dtype)
    V = input_tiles(src_rows, work)  # (16, C, R*T)
    # The 16 products, M[k] = U[k] @ V[k]: (F, C) @ (C, R*T) each.
    M = scratch("wino_m", 16 * F * R * T, src_rows.dtype).reshape(16, F, R * T)
    np.matmul(U, V, out=M)
    M = M.reshape(4, 4, F, R, T)
    # Y = A^T M A: first s[p] = (A^T M)[p] over the rows a, then the columns b, written
    # straight into out's pixels (2r+p, 2t+q).
    s = work[:8 * F * R * T].reshape(2, 4, F, R, T)  # V is made: work is free again
    np.add(M[0], M[1], out=s[0])
    s[0] += M[2]
    np.subtract(M[1], M[2], out=s[1])
    s[1] -= M[3]
    y = out_rows.reshape(F, R, 2, T, 2).transpose(2, 4, 0, 1, 3)  # (p, q, F, R, T), a view
    np.add(s[:, 0], s[:, 1], out=y[:, 0])
    y[:, 0] += s[:, 2]
    np.subtract(s[:, 1], s[:, 2], out=y[:, 1])
    y[:, 1] -= s[:, 3]


def filter_gradient_rows(src_rows, dy_rows):
    """W (16, F, C): this block's part of dL/dw in the transformed domain, by 2x2 tiles.

    The weight gradient dw[f, c, i, j] = sum_{h,v} dy[f, h, v] x[c, h+i, v+j] is, tile by
    tile, a 3x3 correlation of the 4x4 input tile d with the 2x2 tile of dy, Winograd's
    F(3x3, 2x2), the same algorithm with G and A trading places:
        dw[f, c] += G^T [ (A dY A^T) * (B^T d B) ] G      (* elementwise, 4x4)
    Summed over the tiles, the 16 elementwise products become 16 matrix products over
    the tiles, W[k] = D[k] @ V[k]^T: (F, R*T) @ (R*T, C). The caller sums the blocks' W
    and turns the sum into dw once (`filter_gradients`).
    src_rows (C, 2R+2, 2T+2) as in `correlate_rows`; dy_rows (F, 2R, 2T).
    """
    C, rows2, width2 = src_rows.shape
    F = dy_rows.shape[0]
    R, T = (rows2 - 2) // 2, (width2 - 2) // 2
    work = _work(C, R, T, 8 * F * R * T, src_rows.dtype)
    V = input_tiles(src_rows, work)  # (16, C, R*T)
    # D = A dY A^T, A = [[1, 0], [1, 1], [1, -1], [0, -1]]: rows p of each tile first ...
    dy = dy_rows.reshape(F, R, 2, T, 2)
    y0, y1 = (dy[:, :, p].transpose(3, 0, 1, 2) for p in (0, 1))  # (q, F, R, T) each
    s = work[:8 * F * R * T].reshape(4, 2, F, R, T)  # (a, q); V is made: work is free again
    np.copyto(s[0], y0)
    np.add(y0, y1, out=s[1])
    np.subtract(y0, y1, out=s[2])
    np.negative(y1, out=s[3])
    # ... then its columns q
    D = scratch("wino_m", 16 * F * R * T, src_rows.dtype).reshape(4, 4, F, R, T)
    np.copyto(D[:, 0], s[:, 0])
    np.add(s[:, 0], s[:, 1], out=D[:, 1])
    np.subtract(s[:, 0], s[:, 1], out=D[:, 2])
    np.negative(s[:, 1], out=D[:, 3])
    return np.matmul(D.reshape(16, F, R * T), V.transpose(0, 2, 1))  # (16, F, C), fresh


def filter_gradients(W):
    """dw (F, C, 3, 3) = G^T W[:, f, c] G for the sum W (16, F, C) of the blocks'
    `filter_gradient_rows`. Elementwise (no BLAS call, as `transformed_filters`)."""
    _, F, C = W.shape
    W = W.reshape(4, 4, F, C)
    half = W.dtype.type(0.5)
    # G^T's rows: [1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]; rows a first ...
    r = np.stack([W[0] + (W[1] + W[2]) * half, (W[1] - W[2]) * half,
                  (W[1] + W[2]) * half + W[3]])  # (3, 4, F, C)
    # ... then the columns b the same way
    d = np.stack([r[:, 0] + (r[:, 1] + r[:, 2]) * half, (r[:, 1] - r[:, 2]) * half,
                  (r[:, 1] + r[:, 2]) * half + r[:, 3]], axis=1)  # (3, 3, F, C)
    return np.ascontiguousarray(d.transpose(2, 3, 0, 1))  # (F, C, 3, 3)


# ------------------------------------------------------------ in conv2d's blocks (trick 9)


def applies(C, F, kH, kW, oH, oW):
    """Whether conv2d's `_correlate` takes Winograd's F(2x2, 3x3) (trick 9): a 3x3 kernel,
    an even output height and width (whole 2x2 tiles), at least _MIN_C input channels and
    _MIN_F filters, and at least _MIN_TILES tiles per image. Shapes only: the same choice
    on any number of threads."""
    return (_ON and kH == kW == 3 and oH % 2 == 0 and oW % 2 == 0
            and C >= _MIN_C and F >= _MIN_F and (oH // 2) * (oW // 2) >= _MIN_TILES)


def blocks(C, oH, oW, itemsize, cols_bytes):
    """[(tile_row0, tile_rows)]: trick 9's blocks of a layer, by `_conv_blocks.row_blocks`
    over its oH/2 rows of 2x2 tiles, V (16 C values per tile) in the place of cols: of
    about _conv_blocks._BLOCK_BYTES for one product on BLAS's threads, else _BLOCK_BYTES
    up to _SHORT_K / 9 channels and _LONG_BLOCK_BYTES beyond."""
    if not _conv_blocks.on_our_threads(cols_bytes):
        block_bytes = _conv_blocks._BLOCK_BYTES
    elif C <= _conv_blocks._SHORT_K // 9:
        block_bytes = _BLOCK_BYTES
    else:
        block_bytes = _LONG_BLOCK_BYTES
    return _conv_blocks.row_blocks(16 * C, oH // 2, oW // 2, itemsize, block_bytes)


def correlate(src, top, left, w, out, bias, cols_bytes):
    """conv2d's `_correlate` for a 3x3 kernel by F(2x2, 3x3), in blocks of 2R output rows
    (R rows of 2x2 tiles, `blocks`), each by `correlate_rows`."""
    N, C, _, _ = src.shape
    _, F, oH, oW = out.shape
    U = transformed_filters(w)  # (16, F, C)
    row_blocks = blocks(C, oH, oW, src.itemsize, cols_bytes)

    def one_block(block):
        n, tile0, tiles = block
        row0, rows = 2 * tile0, 2 * tiles  # output rows
        src_rows = padded_rows(src[n], top, left, row0, rows + 2, oW + 2)  # (C, rows+2, oW+2)
        out_rows = out[n, :, row0:row0 + rows]  # (F, rows, oW), a view
        correlate_rows(src_rows, U, out_rows)
        if bias is not None:
            out_rows += bias[:, None, None]

    _conv_blocks.run_blocks(
        one_block, [(n, t0, tiles) for n in range(N) for t0, tiles in row_blocks], cols_bytes)


def weight_gradient(x, dy, pad, cols_bytes):
    """conv2d's dw (F, C, 3, 3) by F(3x3, 2x2): each block's (16, F, C) transformed partial
    sum (`filter_gradient_rows`), summed in block order (the same bits on any number of
    threads), then transformed back once (`filter_gradients`)."""
    N, C, _, _ = x.shape
    _, F, oH, oW = dy.shape
    row_blocks = blocks(C, oH, oW, x.itemsize, cols_bytes)

    def one_block(block):
        n, tile0, tiles = block
        row0, rows = 2 * tile0, 2 * tiles  # output rows
        x_rows = padded_rows(x[n], pad, pad, row0, rows + 2, oW + 2)  # (C, rows+2, oW+2)
        return filter_gradient_rows(x_rows, dy[n, :, row0:row0 + rows])

    results = _conv_blocks.results_in_order(
        one_block, [(n, t0, tiles) for n in range(N) for t0, tiles in row_blocks], cols_bytes)
    W = next(results)  # (16, F, C), the first block's
    for W_block in results:  # ... plus the others', in block order
        W += W_block
    return filter_gradients(W)
