"""Winograd's minimal filtering F(2x2, 3x3): conv2d's trick 9, a 3x3 correlation in 4 F C
multiply-adds per output pixel instead of im2col's 9 F C.

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

Rounding: y is the same sum as the direct one, regrouped. In float32, at the U-Net layers
that take it, forward and dx lay 4-7e-7 of the largest output away from the float64 result,
as im2col's did (benchmarks/results/zen4_2026-12-07_night/winograd_rounding_output.txt).
cuDNN and oneDNN offer the same algorithm for 3x3 layers.
"""

import numpy as np

from minimal_unet.ops._im2col import scratch

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


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
    dtype = src_rows.dtype
    eo_size, t_size = 2 * C * rows2 * (T + 1), 8 * C * R * (T + 1)
    work = scratch("wino_work", max(eo_size + t_size, 8 * F * R * T), dtype)
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
    V = scratch("wino_v", 16 * C * R * T, dtype).reshape(4, 4, C, R, T)
    np.subtract(e0, e1, out=V[:, 0])
    np.add(o0, e1, out=V[:, 1])
    np.subtract(e1, o0, out=V[:, 2])
    np.subtract(o0, o1, out=V[:, 3])
    # The 16 products, M[k] = U[k] @ V[k]: (F, C) @ (C, R*T) each.
    M = scratch("wino_m", 16 * F * R * T, dtype).reshape(16, F, R * T)
    np.matmul(U, V.reshape(16, C, R * T), out=M)
    M = M.reshape(4, 4, F, R, T)
    # Y = A^T M A: first s[p] = (A^T M)[p] over the rows a, then the columns b, written
    # straight into out's pixels (2r+p, 2t+q).
    s = work[:8 * F * R * T].reshape(2, 4, F, R, T)  # x_eo and t are spent: their buffer
    np.add(M[0], M[1], out=s[0])
    s[0] += M[2]
    np.subtract(M[1], M[2], out=s[1])
    s[1] -= M[3]
    y = out_rows.reshape(F, R, 2, T, 2).transpose(2, 4, 0, 1, 3)  # (p, q, F, R, T), a view
    np.add(s[:, 0], s[:, 1], out=y[:, 0])
    y[:, 0] += s[:, 2]
    np.subtract(s[:, 1], s[:, 2], out=y[:, 1])
    y[:, 1] -= s[:, 3]
