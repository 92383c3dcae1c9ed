"""The gathers of conv2d's fast path: receptive fields of a block of rows, in scratch buffers.

    src_rows = padded_rows(x[n], pad, pad, row0, rows + kH - 1, oW + kW - 1)  # (C, ., .)
    cols = im2col_rows(src_rows, kH, kW, rows, oW)    # (C*kH*kW, rows*oW), scratch
    cols = im2col(x[n], kH, kW, pad)                 # one whole image, a fresh array

ops/_conv_blocks.py decides how a layer is cut into row blocks and on which threads they
run; this module only copies. Each function is the naive loops' index formula, written as
one strided copy (conv2d's trick 1) or as a view.

Scratch buffers: the block `cols` and the padded slab live in one flat buffer
per (purpose, dtype), kept per thread in `_SCRATCH` and grown to the largest block seen.
Each is bounded by one block (_conv_blocks' _BLOCK_BYTES, _THREAD_BLOCK_BYTES or
_LONG_THREAD_BLOCK_BYTES, or one row of im2col if a single row is larger), so memory
stays bounded however many layer shapes a network has (per thread and dtype, two buffers;
conv2d's trick 10 one more, a block's output part, and ops/_winograd.py three more, each
bounded by its blocks the same way).
Nothing conv2d returns aliases a scratch buffer.

Each scratch buffer is an anonymous memory mapping of its own, outside the heap that
`memory.keep_freed_memory` makes every other array come from. The buffers grow during the
first step, each time at whatever place of the heap was free then, between the step's big
transient arrays, and they live on: in the heap they pinned holes that the next step's
arrays did not fit, and in most processes the heap grew past the first step's peak, each
by its own amount. The paper step (572 / base 64, float32), peak above the base as
`benchmarks/step.py` measures it, six processes each: 0.92-1.00 GiB from the heap,
0.84-0.91 GiB mapped (572 / base 32: 0.45-0.46 and 0.44; 252 / base 16: 0.050-0.053 and
0.049; with no thread of ours, 0.98 and 0.84 GiB in every process), for 0.70 GiB of
arrays the step allocates; step times level (Xeon VM, family 6 model 207, 2026-12-08,
benchmarks/results/xeon_2026-12-08/). Huge pages are advised, as NumPy advises them for
its own large arrays.
"""

import mmap
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from minimal_unet.ops._checks import check_float_array

_SCRATCH = threading.local()  # per-thread flat scratch buffers, see the module docstring
_MAPPED = True  # each scratch buffer in a memory mapping of its own (False: from the heap)
_HUGE_BYTES = 4 * 2**20  # advise huge pages from this size on (NumPy's own threshold)


def scratch(purpose, size, dtype):
    """A flat scratch array of at least `size` elements of `dtype`, reused between calls.

    One buffer per (purpose, dtype) and per thread; grown when a larger one is asked for.
    The caller must not return it (or a view of it) to the user.
    """
    buffers = _SCRATCH.__dict__.setdefault("buffers", {})
    key = (purpose, np.dtype(dtype))
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = _mapped(size, dtype) if _MAPPED else np.empty(size, dtype=dtype)
        buffers[key] = buf
    return buf[:size]


def _mapped(size, dtype):
    """An array of `size` elements of `dtype` (zero) in an anonymous mapping of its own,
    unmapped when the array is freed; huge pages advised from _HUGE_BYTES on."""
    dtype = np.dtype(dtype)
    nbytes = max(size * dtype.itemsize, 1)
    block = mmap.mmap(-1, nbytes)
    if nbytes >= _HUGE_BYTES and hasattr(mmap, "MADV_HUGEPAGE"):
        block.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(block, dtype=dtype, count=size)


def padded_rows(src, top, left, row0, rows, width):
    """Rows row0 .. row0+rows-1 of src shifted down by `top` and right by `left`, zero outside.

    src (C, Hs, Ws). Returns s (C, rows, width) with s[c, r, v] = src[c, row0+r-top, v-left]
    where that index lies inside src and 0 elsewhere (top/left < 0 crop instead of pad).
    When the whole block lies inside src this is a view of src: no copy at all.
    """
    C, Hs, Ws = src.shape
    h0, v0 = row0 - top, -left  # src row and column that land at s[:, 0, 0]
    if h0 >= 0 and h0 + rows <= Hs and v0 >= 0 and v0 + width <= Ws:
        return src[:, h0:h0 + rows, v0:v0 + width]  # (C, rows, width), a view
    slab = scratch("slab", C * rows * width, src.dtype).reshape(C, rows, width)
    slab.fill(0)
    h_lo, h_hi = max(h0, 0), min(h0 + rows, Hs)  # src rows that fall inside the slab
    v_lo, v_hi = max(v0, 0), min(v0 + width, Ws)  # src columns that fall inside the slab
    if h_lo < h_hi and v_lo < v_hi:
        slab[:, h_lo - h0:h_hi - h0, v_lo - v0:v_hi - v0] = src[:, h_lo:h_hi, v_lo:v_hi]
    return slab


def im2col_rows(src_rows, kH, kW, rows, oW, out=None):
    """cols[(c, i, j), (r, v)] = src_rows[c, r+i, v+j]: the receptive fields of a row block.

    src_rows (C, rows+kH-1, oW+kW-1) -> cols (C*kH*kW, rows*oW), in a scratch buffer, or
    in `out` (a C-contiguous array of that shape) when given.
    Replaces the naive loops over (c, i, j) x (h, w) with one strided copy.
    """
    C = src_rows.shape[0]
    sC, sH, sW = src_rows.strides
    windows = as_strided(src_rows, shape=(C, kH, kW, rows, oW),
                         strides=(sC, sH, sW, sH, sW), writeable=False)  # (C, kH, kW, R, oW)
    if out is None:
        out = scratch("cols", C * kH * kW * rows * oW, src_rows.dtype)
    cols = out.reshape(C, kH, kW, rows, oW)  # (C, kH, kW, R, oW)
    np.copyto(cols, windows)
    return cols.reshape(C * kH * kW, rows * oW)  # (K, R*oW)


def im2col(x, kH, kW, pad=0):
    """The im2col matrix of one image, for reading: cols[(c, i, j), (h, w)] = xp[c, h+i, w+j].

    x (C, H, W) float32/float64 -> cols (C*kH*kW, oH*oW), a fresh array, so that
    conv2d_forward(x[None], w, b, pad)[0][0] == (w.reshape(F, -1) @ cols).reshape(F, oH, oW)
    + b[:, None, None]. The fast path builds the same matrix a block of rows at a time.
    """
    check_float_array("x", x, ndim=3, layout="(C, H, W)")
    C, H, W = x.shape
    oH, oW = H + 2 * pad - kH + 1, W + 2 * pad - kW + 1
    if oH < 1 or oW < 1:
        raise ValueError(f"im2col: kernel ({kH}, {kW}) larger than the padded input "
                         f"({H + 2 * pad}, {W + 2 * pad})")
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))  # (C, H+2p, W+2p)
    cols = np.empty((C * kH * kW, oH * oW), dtype=x.dtype)  # gathered straight into it
    return im2col_rows(xp, kH, kW, oH, oW, out=cols)  # (K, oH*oW)


def transposed(a, rows=64):
    """a.T as a fresh C-contiguous array, copied `rows` rows of `a` at a time (trick 6).

    The same values as np.ascontiguousarray(a.T). One transposed copy of a whole (K, F)
    matrix reads it a column at a time, K values a row length apart; with F a power of
    two those reads fall into the same few cache sets, and the copy ran ~10x slower than
    in slabs of 64 rows (4608 x 512 float32 on the 2-core Xeon, 2026-12-05: 15.8 ms vs
    1.7 ms, benchmarks/results/xeon_2026-12-05/; slabs of 16 rows 2.0 ms, of 256 2.8 ms).
    """
    out = np.empty(a.shape[::-1], dtype=a.dtype)  # (F, K)
    for row0 in range(0, a.shape[0], rows):
        out[:, row0:row0 + rows] = a[row0:row0 + rows].T  # (F, rows) <- (rows, F)^T
    return out
