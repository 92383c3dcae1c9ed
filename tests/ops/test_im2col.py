"""ops/_im2col.py: conv2d's gathers against their index formulas and np.pad."""

import gc
import mmap
import weakref

import numpy as np
import pytest

from minimal_unet.ops import _im2col
from minimal_unet.ops.conv2d import conv2d_forward_naive, im2col


def test_public_im2col_matches_the_formula_and_the_conv():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 5))  # (C, H, W)
    cols = im2col(x, 2, 3, pad=1)  # (C*kH*kW, oH*oW) = (12, 5*5)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    oH, oW = 4 + 2 - 2 + 1, 5 + 2 - 3 + 1
    assert cols.shape == (2 * 2 * 3, oH * oW)
    for c in range(2):
        for i in range(2):
            for j in range(3):
                for h in range(oH):
                    for v in range(oW):
                        assert cols[(c * 2 + i) * 3 + j, h * oW + v] == xp[c, h + i, v + j]
    w = rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3)
    y = (w.reshape(3, -1) @ cols).reshape(3, oH, oW) + b[:, None, None]
    np.testing.assert_allclose(y, conv2d_forward_naive(x[None], w, b, pad=1)[0][0], atol=1e-12)
    with pytest.raises(ValueError, match="larger than the padded input"):
        im2col(x, 7, 3)


def test_public_im2col_leaves_the_scratch_buffers_alone(rng):
    # It gathers straight into its fresh result: a whole image's im2col must not grow the
    # per-thread block scratch (conv2d's memory bound) nor share memory with it.
    _im2col.scratch("cols", 8, np.float32)  # this thread's buffer exists, 8 values
    before = {key: buf.size for key, buf in _im2col._SCRATCH.buffers.items()}
    x = rng.standard_normal((3, 40, 50)).astype(np.float32)
    cols = im2col(x, 3, 3, pad=1)
    assert cols.shape == (27, 40 * 50) and cols.dtype == np.float32
    after = {key: buf.size for key, buf in _im2col._SCRATCH.buffers.items()}
    assert after == before
    assert not any(np.shares_memory(cols, buf) for buf in _im2col._SCRATCH.buffers.values())


@pytest.mark.parametrize("mapped", [True, False])
def test_scratch_is_reused_then_grown_and_the_old_buffer_given_back(monkeypatch, mapped):
    # One buffer per (purpose, dtype) and thread: a request it can hold reuses it, a larger
    # one replaces it, and the replaced one's memory (its own mapping, by default) goes
    # back once nothing holds it: growing the scratch leaks nothing.
    monkeypatch.setattr(_im2col, "_MAPPED", mapped)
    monkeypatch.setattr(_im2col._SCRATCH, "buffers", {}, raising=False)
    small = _im2col.scratch("test", 1000, np.float32)
    small[:] = 7
    again = _im2col.scratch("test", 10, np.float32)
    assert again.size == 10 and np.shares_memory(small, again) and again[0] == 7
    assert not np.shares_memory(small, _im2col.scratch("test", 10, np.float64))  # dtype
    buffer = _im2col._SCRATCH.buffers[("test", np.dtype(np.float32))]
    mapping = buffer.base if mapped else None
    assert isinstance(mapping, memoryview) == mapped  # a view of an mmap, not the heap
    if mapped:
        assert isinstance(mapping.obj, mmap.mmap)
        old = weakref.ref(mapping.obj)
        del mapping
    else:
        old = weakref.ref(buffer)
    big = _im2col.scratch("test", 5000, np.float32)
    big[:] = 1  # writable, and all of it there
    assert big.size == 5000 and not np.shares_memory(big, buffer)
    del small, again, buffer
    gc.collect()
    assert old() is None


@pytest.mark.parametrize("top, left, row0, rows, width", [
    (1, 1, 0, 4, 9),  # padded on top and left
    (1, 1, 3, 5, 9),  # through the bottom edge
    (0, 0, 1, 3, 5),  # inside the source: a view, no copy
    (-1, -2, 0, 3, 4),  # negative shifts crop
    (2, 2, 0, 10, 11),  # larger than the source on every side
])
def test_padded_rows_is_the_shifted_source_with_zeros_outside(rng, top, left, row0, rows,
                                                                width):
    src = rng.standard_normal((2, 6, 7))
    got = _im2col.padded_rows(src, top, left, row0, rows, width)
    assert got.shape == (2, rows, width)
    big = np.zeros((2, 6 + 20, 7 + 20))  # src placed at (10 + top, 10 + left)
    big[:, 10 + top:16 + top, 10 + left:17 + left] = src
    np.testing.assert_array_equal(got, big[:, 10 + row0:10 + row0 + rows, 10:10 + width])
    inside = row0 - top >= 0 and row0 - top + rows <= 6 and -left >= 0 and width - left <= 7
    assert np.shares_memory(got, src) == inside


@pytest.mark.parametrize("shape", [(130, 7), (64, 3), (1, 5), (200, 64), (65, 1)])
def test_transposed_copies_the_transpose_in_slabs(rng, shape):
    # the dw^T -> dw copy runs in slabs of 64 rows: ragged last slab, one slab, many
    a = rng.standard_normal(shape).astype(np.float32)
    t = _im2col.transposed(a)
    assert t.flags.c_contiguous and t.shape == shape[::-1] and t.dtype == a.dtype
    np.testing.assert_array_equal(t, a.T)
    assert not np.shares_memory(t, a)
