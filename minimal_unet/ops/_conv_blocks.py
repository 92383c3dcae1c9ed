"""How conv2d cuts a layer's work into blocks of output rows, and which threads run them
(conv2d's tricks 2 and 3; every fast path of conv2d and its tricks 9-11 cuts by these).

Shape legend (as in conv2d.py)
    K  rows of one block's gather (im2col: C*kH*kW)     oH, oW  output height, width
    cols_bytes  the whole im2col of the layer (N*K*oH*oW values), which sets its policy

    blocks = row_blocks(K, oH, oW, itemsize, block_bytes(cols_bytes, K))  # [(row0, rows)]
    run_blocks(task, blocks, cols_bytes)  # [task(b) for b in blocks], on the right threads

2. Block size, by layer. A layer whose whole im2col is at least `_THREAD_BYTES` (64 MiB;
   the base-32 net's layers down to 128 channels) is cut into blocks for our threads
   (trick 3): of about `_THREAD_BLOCK_BYTES` (4 MiB; 90 blocks of 6-7 rows at the 32->32
   570x570 layer in float32) where the product is short, K <= `_SHORT_K` (1152: up to
   128 channels of 3x3), and of about `_LONG_THREAD_BLOCK_BYTES` (16 MiB) where it is
   longer; a smaller layer into blocks of about `_BLOCK_BYTES` (16 MiB, usually one block)
   for one product on BLAS's own threads. Always an even number of blocks of equal size
   (`row_blocks`). Small blocks stay in the core's cache between gather and product (one
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
   with 4 MiB than with 16); in the step (one-process A/Bs) 4 / 16 MiB against the 8 MiB
   for all of before: 572 / base 32 8-13 % faster, the paper step 4-6 %. (Before: 8 MiB
   rather than 4 for all, from the Xeon machine, where 8 MiB was 6-7 % faster,
   2026-12-05, benchmarks/results/xeon_2026-12-05/; level on the EPYC machine.) The
   cutting depends on the shapes only. `benchmarks/ops.py --conv-block-mib` measures one
   size for every layer.
3. Blocks run on several threads (`run_blocks`, ops/_threads.py; one per core unless
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
"""

import numpy as np

from minimal_unet.ops import _threads

_BLOCK_BYTES = 16 * 2**20  # target size of one im2col block `cols` on BLAS's threads
_THREAD_BLOCK_BYTES = 4 * 2**20  # ... in a layer whose blocks go to our threads (trick 3)
_LONG_THREAD_BLOCK_BYTES = 16 * 2**20  # ... there, for a product longer than _SHORT_K
_SHORT_K = 1152  # the longest product (K = C*kH*kW; 128 channels of 3x3) of short blocks
_SPLIT_BYTES = 2**20  # a whole im2col smaller than this stays one block, on this thread
_WORKERS = None  # threads that share the row blocks; None: _threads.workers() (trick 3)
_THREAD_BYTES = 64 * 2**20  # ... when the whole im2col is at least this large (trick 3)


def runs_on_our_threads(cols_bytes):
    """Whether a layer whose whole im2col is `cols_bytes` is large enough for our threads
    on its own (_THREAD_BYTES; a network with one such layer sends them all, trick 3)."""
    return cols_bytes >= _THREAD_BYTES


def on_our_threads(cols_bytes):
    """Whether a layer whose whole im2col is `cols_bytes` runs in blocks on our threads:
    from _THREAD_BYTES on, or every layer while `_threads.every_product()` (a network that
    has such a layer; trick 3)."""
    return runs_on_our_threads(cols_bytes) or _threads.every_product()


def block_bytes(cols_bytes, K):
    """The target block size of a layer whose whole im2col is `cols_bytes`, with K rows
    (C*kH*kW): _BLOCK_BYTES for one product on BLAS's threads; on our threads (trick 3)
    _THREAD_BLOCK_BYTES for a product of at most _SHORT_K, else _LONG_THREAD_BLOCK_BYTES
    (trick 2)."""
    if not on_our_threads(cols_bytes):
        return _BLOCK_BYTES
    return _THREAD_BLOCK_BYTES if K <= _SHORT_K else _LONG_THREAD_BLOCK_BYTES


def row_blocks(K, oH, oW, itemsize, block_bytes=None):
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


def block_threads(cols_bytes):
    """Threads for a layer whose whole im2col is `cols_bytes`: _WORKERS (None: _threads'
    default) when it runs on our threads (`on_our_threads`), else 1 (trick 3)."""
    return _WORKERS if on_our_threads(cols_bytes) else 1


def run_blocks(task, blocks, cols_bytes):
    """[task(block) for block in blocks] in block order, over `_WORKERS` threads (_threads)
    when the layer runs on our threads (`on_our_threads`), else on this thread."""
    return _threads.run(task, blocks, block_threads(cols_bytes))


def results_in_order(task, blocks, cols_bytes):
    """task(block) for each block, handed back one at a time in block order (for sums in
    block order: the same bits on any number of threads), on the threads of `run_blocks`."""
    return _threads.results_in_order(task, blocks, block_threads(cols_bytes))
