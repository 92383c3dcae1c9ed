"""conv2d's trick 11: dx by col2im (one product, then a shifted add per kernel tap) at the
deep layers, against the naive twin (kernels of several shapes, padding, several channel
blocks), the same bits on 1 or 3 threads, outputs that survive the next call, and which
layers take it.
"""

import numpy as np
import pytest

from minimal_unet.gradcheck import rel_error
from minimal_unet.ops import _col2im, _conv_blocks
from minimal_unet.ops.conv2d import (
    conv2d_backward,
    conv2d_forward,
)


@pytest.fixture
def col2im_everywhere(monkeypatch):
    """Trick 11 for every layer's dx however few its filters or many its pixels, in
    channel blocks of a few channels (on BLAS's threads and on ours)."""
    monkeypatch.setattr(_col2im, "_MIN_F", 1)
    monkeypatch.setattr(_col2im, "_MAX_PIXELS", 10**9)
    monkeypatch.setattr(_col2im, "_BLOCK_BYTES", 600)
    monkeypatch.setattr(_conv_blocks, "_SPLIT_BYTES", 0)


@pytest.fixture
def calls(monkeypatch):
    """A list that grows by one (n, c0, channels) per channel block trick 11 computes."""
    seen = []
    real = _conv_blocks.run_blocks

    def spy(task, blocks, cols_bytes):
        if task.__qualname__.startswith("dx.<locals>"):
            seen.extend(blocks)
        return real(task, blocks, cols_bytes)

    monkeypatch.setattr(_conv_blocks, "run_blocks", spy)
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pad", [0, 1, 2])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 2), (5, 5), (2, 3), (1, 1)])
@pytest.mark.parametrize("threads", [False, True])
def test_col2im_matches_the_naive_twin(col2im_everywhere, calls, conv_matches_naive,
                                       monkeypatch, dtype, pad, kernel, threads):
    if threads:  # blocks on our threads, as a large layer's
        monkeypatch.setattr(_conv_blocks, "_THREAD_BYTES", 0)
    N, C = 2, 5
    conv_matches_naive((N, C, 4, 9, 8), kernel, pad, dtype)
    # several blocks of channels per image, covering every channel of every image once
    assert len(calls) > N
    assert sorted((n, c) for n, c0, k in calls for c in range(c0, c0 + k)) == [
        (n, c) for n in range(N) for c in range(C)]


def test_no_dx_no_col2im(rng, col2im_everywhere, calls):
    # the network's first layer asks for no dx: nothing to scatter
    x, w = rng.standard_normal((1, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    y, cache = conv2d_forward(x, w, np.zeros(4))
    dx, dw, db = conv2d_backward(np.ones_like(y), cache, need_dx=False)
    assert dx is None and calls == []


def test_outputs_survive_the_next_call(rng, col2im_everywhere):
    # dcols lives in a per-thread scratch buffer: dx must not be (a view of) it
    x, w, b = rng.standard_normal((1, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), np.ones(4)
    y, cache = conv2d_forward(x, w, b, 1)
    dy = rng.standard_normal(y.shape)
    first = conv2d_backward(dy, cache)[0].copy()
    conv2d_backward(2 * dy, conv2d_forward(2 * x, w, b, 1)[1])
    np.testing.assert_array_equal(first, conv2d_backward(dy, cache)[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_on_one_or_three_threads(rng, col2im_everywhere, calls, conv_bits_on,
                                           dtype):
    x = rng.standard_normal((2, 7, 11, 9)).astype(dtype)
    w = rng.standard_normal((5, 7, 3, 3)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    dy = rng.standard_normal((2, 5, 11, 9)).astype(dtype)
    conv_bits_on(x, w, b, dy, 1, (1, 3))  # the same bits on both
    assert len(calls) >= 2 * 2 * 3  # several channel blocks per image, on both runs


def test_which_layers_take_it(monkeypatch):
    applies = _col2im.applies
    # the deep layers of the 252 / base-16 net and the bottom of the 572 nets take it
    assert applies(128, 256, 3, 3, 10, 10) and applies(64, 128, 3, 3, 26, 26)
    assert applies(1024, 1024, 3, 3, 28, 28) and applies(256, 512, 3, 3, 32, 32)
    assert not applies(128, 64, 3, 3, 22, 22)  # too few filters (64 < 128)
    assert not applies(256, 512, 3, 3, 33, 33)  # too many pixels (1089 > 1024)
    monkeypatch.setattr(_col2im, "_ON", False)
    assert not applies(128, 256, 3, 3, 10, 10)  # switched off


def test_the_switch_changes_the_path_not_the_result(rng, calls, monkeypatch):
    # a layer the shipped rule takes: the same dx (to rounding) with trick 11 on or off
    x = rng.standard_normal((1, 16, 14, 14))
    w = rng.standard_normal((128, 16, 3, 3))
    y, cache = conv2d_forward(x, w, np.zeros(128))
    dy = rng.standard_normal(y.shape)
    on = conv2d_backward(dy, cache)[0]
    assert calls
    monkeypatch.setattr(_col2im, "_ON", False)
    calls.clear()
    off = conv2d_backward(dy, cache)[0]
    assert calls == [] and rel_error(on, off) < 1e-12
