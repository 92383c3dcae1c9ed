"""conv2d's trick 10: a kernel's rows as kH products over one horizontal im2col, against
the naive twin (every kernel of more than one row, padding and cropping, several blocks
and a ragged last one, the channel threshold lowered so that tiny shapes take it), the
same bits on 1 or 3 threads, outputs that survive the next call, and which layers take it.
"""

import numpy as np
import pytest

from minimal_unet.ops import _conv_blocks, _conv_rows, _winograd
from minimal_unet.ops.conv2d import (
    conv2d_backward,
    conv2d_forward,
)


@pytest.fixture
def rows_everywhere(monkeypatch):
    """Trick 10 for every layer of more than one kernel row, however few its channels, in
    blocks of a few rows (on BLAS's threads and on ours)."""
    monkeypatch.setattr(_conv_rows, "_MIN_C", 1)
    monkeypatch.setattr(_conv_rows, "_MIN_PIXELS", 1)
    monkeypatch.setattr(_conv_blocks, "_BLOCK_BYTES", 600)
    monkeypatch.setattr(_conv_rows, "_BLOCK_BYTES", 300)
    monkeypatch.setattr(_conv_blocks, "_SPLIT_BYTES", 0)
    monkeypatch.setattr(_winograd, "_ON", False)


@pytest.fixture
def calls(monkeypatch):
    """A list that grows by one (row0, rows, kH) per block either trick 10 pass gathers."""
    seen = []
    real = _conv_rows.horizontal_cols

    def spy(src, top, left, row0, rows, kH, kW, oW):
        seen.append((row0, rows, kH))
        return real(src, top, left, row0, rows, kH, kW, oW)

    monkeypatch.setattr(_conv_rows, "horizontal_cols", spy)
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pad", [0, 1, 2])
@pytest.mark.parametrize("kernel", [(2, 2), (3, 3), (5, 5), (2, 3), (3, 1)])
@pytest.mark.parametrize("threads", [False, True])
def test_rows_match_the_naive_twin(rows_everywhere, calls, conv_matches_naive, monkeypatch,
                                   dtype, pad, kernel, threads):
    if threads:  # blocks on our threads, as a large layer's
        monkeypatch.setattr(_conv_blocks, "_THREAD_BYTES", 0)
    N = 2
    conv_matches_naive((N, 3, 4, 9, 8), kernel, pad, dtype)
    forward_blocks = len(calls) // 3  # forward, dw and dx passes gather as many blocks
    assert forward_blocks > N and {k for _, _, k in calls} == {kernel[0]}  # several each


def test_outputs_survive_the_next_call(rng, rows_everywhere):
    # the blocks are gathered and summed in per-thread scratch buffers: nothing returned
    # may be one of them
    x, w, b = rng.standard_normal((1, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), np.ones(4)
    y, cache = conv2d_forward(x, w, b, 1)
    dy = rng.standard_normal(y.shape)
    first = [a.copy() for a in (y, *conv2d_backward(dy, cache))]
    y2, cache2 = conv2d_forward(2 * x, w, b, 1)
    conv2d_backward(2 * dy, cache2)
    for kept, now in zip(first, (y, *conv2d_backward(dy, cache))):
        np.testing.assert_array_equal(kept, now)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_on_one_or_three_threads(rng, rows_everywhere, calls, conv_bits_on, dtype):
    x = rng.standard_normal((2, 3, 11, 9)).astype(dtype)
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    dy = rng.standard_normal((2, 5, 11, 9)).astype(dtype)
    conv_bits_on(x, w, b, dy, 1, (1, 3))  # the same bits on both
    assert len(calls) >= 2 * 3 * 4  # several blocks per pass, on both runs


def test_which_layers_take_it(calls, monkeypatch, rng):
    def apply(C, kH, kW, side=32):
        return _conv_rows.applies(C, kH, kW, side, side)

    assert apply(16, 3, 3) and apply(64, 3, 3) and apply(128, 3, 3)  # the U-Net's 16-128
    assert not apply(15, 3, 3)  # too few channels (the first layer's one, too)
    assert not apply(129, 3, 3)  # a long product: K = 9 C > _SHORT_K
    assert not apply(64, 1, 1) and not apply(64, 1, 3)  # one kernel row: nothing to split
    assert not apply(128, 3, 3, side=31)  # too few pixels: 961 < 32 x 32
    assert _conv_rows.applies(64, 3, 3, 1024, 1)  # ... counted per image, not per side
    monkeypatch.setattr(_conv_rows, "_ON", False)
    assert not apply(64, 3, 3)  # switched off
    monkeypatch.setattr(_conv_rows, "_ON", True)
    # in the network, trick 9 goes first: a layer it takes never reaches trick 10
    x = rng.standard_normal((1, 128, 44, 44)).astype(np.float32)
    w = rng.standard_normal((64, 128, 3, 3)).astype(np.float32)
    assert _winograd.applies(128, 64, 3, 3, 42, 42)
    conv2d_forward(x, w, np.zeros(64, np.float32))
    assert calls == []
    conv2d_forward(x[:, :32], w[:, :32], np.zeros(64, np.float32))  # 32 channels: trick 10
    assert calls and all(k == 3 for _, _, k in calls)
