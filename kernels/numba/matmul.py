"""matmul.py - a tiled matrix product in shared memory, written by us (no cuBLAS) (Numba CUDA).

Computes   c = op(a) @ op(b)          (accumulate == 0)
           c = c + op(a) @ op(b)      (accumulate == 1: sums the per-sample products)
           op(a) = a, or a.T when trans_a == 1 (likewise b), as in BLAS gemm; op(a) (M, K),
           op(b) (K, P), c (M, P). The transposes are only a way of indexing (a[k, m]
           instead of a[m, k]): no transposed copy is ever made. (numba's DeviceNDArray.T
           would launch a copy kernel, so the launchers never use it.)
Algorithm  c is cut into TILE x TILE output tiles; one block of TILE x TILE threads owns a
           tile and walks along K in steps of TILE. At each step
             1. every thread copies one element of a's (TILE x TILE) slab and one of b's
                into shared memory (0 past the matrix edge, so ragged sizes need no
                special case),
             2. cuda.syncthreads(): both slabs are complete,
             3. every thread adds TILE products from shared memory to its accumulator,
             4. cuda.syncthreads(): nobody overwrites a slab while others still read it.
           Each element of a and b is read from global memory once per tile instead of once
           per product: the shared-memory reuse that makes a GPU matmul fast.
           Threads of an edge tile that have no output element still copy and reach every
           barrier; they only skip the final write.
Threads:   thread (tx, ty) of a block computes c[tile_row*TILE + ty, tile_col*TILE + tx];
           block b handles output tiles b, b + G, b + 2G, ... (G = gridDim.x, tiles counted
           row-major), so a grid of any size covers c. On a GPU the launcher starts one
           block per tile; under the simulator it starts few blocks and each one loops.
Launch:    grid = (blocks,), block = (TILE, TILE); trans_a, trans_b, accumulate are int32
           0/1. The kernel comes from make_matmul_kernel(dtype, tile), since a shared
           array's dtype and shape must be compile-time constants.
Matches:   numpy.matmul (the products inside minimal_unet.ops.conv2d and upconv2d).
"""

import functools

import numba
import numpy as np
from numba import cuda


@functools.cache
def make_matmul_kernel(dtype, tile):
    """Return the tiled matmul kernel for one float dtype (np.float32/np.float64) and tile."""
    real_t = numba.from_dtype(np.dtype(dtype))  # the shared slabs' element type

    @cuda.jit
    def matmul_tiled(a, b, c, trans_a, trans_b, accumulate):
        """c (M, P) = op(a) (M, K) @ op(b) (K, P), plus c's old value when accumulate == 1."""
        a_slab = cuda.shared.array((tile, tile), real_t)  # op(a)[tile's rows, k0:k0+tile]
        b_slab = cuda.shared.array((tile, tile), real_t)  # op(b)[k0:k0+tile, tile's cols]
        M, P = c.shape
        if trans_a == 1:
            K = a.shape[0]  # a is (K, M)
        else:
            K = a.shape[1]  # a is (M, K)
        tx = cuda.threadIdx.x  # column inside the tile
        ty = cuda.threadIdx.y  # row inside the tile
        tiles_per_row = (P + tile - 1) // tile
        n_tiles = ((M + tile - 1) // tile) * tiles_per_row
        for t in range(cuda.blockIdx.x, n_tiles, cuda.gridDim.x):
            row = (t // tiles_per_row) * tile + ty  # this thread's element of c
            col = (t % tiles_per_row) * tile + tx
            acc = real_t(0)
            for k0 in range(0, K, tile):
                # 1. copy one element of each slab (0 outside the matrices)
                if row < M and k0 + tx < K:
                    if trans_a == 1:
                        a_slab[ty, tx] = a[k0 + tx, row]  # op(a)[row, k] = a[k, row]
                    else:
                        a_slab[ty, tx] = a[row, k0 + tx]
                else:
                    a_slab[ty, tx] = 0
                if k0 + ty < K and col < P:
                    if trans_b == 1:
                        b_slab[ty, tx] = b[col, k0 + ty]  # op(b)[k, col] = b[col, k]
                    else:
                        b_slab[ty, tx] = b[k0 + ty, col]
                else:
                    b_slab[ty, tx] = 0
                cuda.syncthreads()  # 2. both slabs complete
                for kk in range(tile):  # 3. TILE products from shared memory
                    acc += a_slab[ty, kk] * b_slab[kk, tx]
                cuda.syncthreads()  # 4. everyone is done reading the slabs
            if row < M and col < P:
                if accumulate == 1:
                    c[row, col] += acc
                else:
                    c[row, col] = acc

    return matmul_tiled
