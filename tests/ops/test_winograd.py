"""ops/_winograd.py and conv2d's trick 9: Winograd's F(2x2, 3x3) against the 9-term sums
it replaces (one tile, float64), against the naive twin (every 3x3 case, the thresholds
lowered so that tiny shapes take it), against PyTorch at a layer that takes it as shipped,
the same bits on 1 or 3 threads, and which layers of the U-Net take it."""

import numpy as np
import pytest

from minimal_unet.gradcheck import rel_error
from minimal_unet.ops import _winograd
from minimal_unet.ops.conv2d import (
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
)


@pytest.fixture
def everywhere(monkeypatch):
    """Trick 9 for every 3x3 layer with whole 2x2 tiles, however small."""
    monkeypatch.setattr(_winograd, "_MIN_C", 1)
    monkeypatch.setattr(_winograd, "_MIN_F", 1)
    monkeypatch.setattr(_winograd, "_MIN_TILES", 1)


@pytest.fixture
def calls(monkeypatch):
    """A list that grows by one (C, F, 2R, 2T) per block `correlate_rows` computes."""
    seen = []
    real = _winograd.correlate_rows

    def spy(src_rows, U, out_rows):
        seen.append((src_rows.shape[0], U.shape[1], *out_rows.shape[1:]))
        return real(src_rows, U, out_rows)

    monkeypatch.setattr(_winograd, "correlate_rows", spy)
    return seen


def test_one_tile_is_the_nine_term_correlation(rng):
    for _ in range(20):
        d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
        direct = [[np.sum(d[h:h + 3, v:v + 3] * g) for v in range(2)] for h in range(2)]
        np.testing.assert_allclose(_winograd.tile_correlation(d, g), direct, rtol=0,
                                   atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transformed_filters_are_g_w_gt(rng, dtype):
    w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
    U = _winograd.transformed_filters(w)
    assert U.shape == (16, 5, 3) and U.dtype == dtype and U.flags.c_contiguous
    G = _winograd.G
    for f in range(5):
        for c in range(3):
            expected = G @ w[f, c].astype(np.float64) @ G.T  # (4, 4)
            np.testing.assert_allclose(U[:, f, c], expected.reshape(16), rtol=0,
                                       atol=2e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("strided", [False, True])
def test_correlate_rows_is_the_valid_correlation(rng, dtype, strided):
    C, F, R, T = 6, 5, 3, 4
    src = rng.standard_normal((C, 2 * R + 2 + 3, 2 * T + 2 + 5)).astype(dtype)
    if strided:  # a block of rows inside a larger image, as conv2d hands it over
        src_rows = src[:, 1:2 * R + 3, 2:2 * T + 4]
    else:
        src_rows = np.ascontiguousarray(src[:, :2 * R + 2, :2 * T + 2])
    w = rng.standard_normal((F, C, 3, 3)).astype(dtype)
    out = np.full((F, 2 * R + 2, 2 * T), np.nan, dtype)  # one row each side stays untouched
    _winograd.correlate_rows(src_rows, _winograd.transformed_filters(w), out[:, 1:-1])
    expected, _ = conv2d_forward_naive(src_rows[None].astype(np.float64),
                                       w.astype(np.float64), np.zeros(F))
    assert rel_error(out[:, 1:-1], expected[0]) < (1e-6 if dtype == np.float32 else 1e-14)
    assert np.isnan(out[:, 0]).all() and np.isnan(out[:, -1]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_filter_gradient_of_two_blocks_is_the_weight_gradient(rng, dtype):
    # F(3x3, 2x2) for dw: two blocks of tile rows, summed, then turned back into (F, C, 3, 3)
    C, F, T = 5, 4, 3
    x = rng.standard_normal((1, C, 2 * 5 + 2, 2 * T + 2)).astype(dtype)  # 5 tile rows
    dy = rng.standard_normal((1, F, 10, 2 * T)).astype(dtype)
    W = (_winograd.filter_gradient_rows(x[0, :, 0:6], dy[0, :, 0:4])  # tile rows 0-1
         + _winograd.filter_gradient_rows(x[0, :, 4:12], dy[0, :, 4:10]))  # 2-4
    assert W.shape == (16, F, C)
    dw = _winograd.filter_gradients(W)
    _, cache = conv2d_forward_naive(x.astype(np.float64), np.zeros((F, C, 3, 3)), np.zeros(F))
    _, expected, _ = conv2d_backward_naive(dy.astype(np.float64), cache)
    assert dw.shape == (F, C, 3, 3) and dw.dtype == dtype
    assert rel_error(dw, expected) < (1e-6 if dtype == np.float32 else 1e-14)


# (N, C, F, H, W), pad: even and odd output sides (odd ones keep im2col), batch 2, pad 0-2
CASES = [((2, 3, 4, 10, 12), 0), ((1, 4, 3, 8, 9), 0), ((1, 2, 5, 9, 7), 1),
         ((2, 3, 3, 7, 8), 2), ((1, 5, 2, 13, 11), 1)]


@pytest.mark.parametrize(("shape", "pad"), CASES)
def test_fast_path_with_winograd_matches_the_naive_twin(rng, everywhere, calls, shape, pad):
    N, C, F, H, W = shape
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, 3, 3))
    b = rng.standard_normal(F)
    y, cache = conv2d_forward(x, w, b, pad)
    dy = rng.standard_normal(y.shape)
    grads = conv2d_backward(dy, cache)
    y_naive, cache_naive = conv2d_forward_naive(x, w, b, pad)
    assert np.max(np.abs(y - y_naive)) < 1e-12
    for grad, grad_naive in zip(grads, conv2d_backward_naive(dy, cache_naive)):
        assert np.max(np.abs(grad - grad_naive)) < 1e-12
    oH, oW = y.shape[2:]
    # the forward pass took it where its output has whole tiles, dx where x has
    expected = (oH % 2 == 0 and oW % 2 == 0) + (H % 2 == 0 and W % 2 == 0)
    assert len({call[:2] for call in calls}) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_layer_that_takes_it_as_shipped_matches_pytorch(rng, torch, calls, dtype):
    # 128 -> 64 channels, 42x42 -> 40x40: 400 tiles, just enough (as_shipped thresholds)
    x = rng.standard_normal((1, 128, 42, 42)).astype(dtype)
    w = (rng.standard_normal((64, 128, 3, 3)) / np.sqrt(9 * 128)).astype(dtype)
    b = rng.standard_normal(64).astype(dtype)
    y, cache = conv2d_forward(x, w, b, 0)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx, dw, db = conv2d_backward(dy, cache)
    assert {call[:2] for call in calls} == {(128, 64)}  # the forward pass (dx: C = 64)
    xt, wt, bt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    for ours, theirs in zip((y, dx, dw, db), (yt, xt.grad, wt.grad, bt.grad)):
        assert ours.dtype == dtype
        assert rel_error(ours, theirs.detach().numpy()) < tolerance


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_on_one_or_three_threads(rng, everywhere, calls, monkeypatch, conv_bits_on,
                                           dtype):
    monkeypatch.setattr(_winograd, "_BLOCK_BYTES", 16 * 6 * 9 * 8)  # 1-tile-row blocks
    x = rng.standard_normal((2, 6, 20, 20)).astype(dtype)
    w = rng.standard_normal((7, 6, 3, 3)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    dy = rng.standard_normal((2, 7, 18, 18)).astype(dtype)
    conv_bits_on(x, w, b, dy, 0, (1, 3))  # the same bits on both
    assert len(calls) >= 4 * 9  # many blocks, in both passes, on both runs


def test_which_layers_of_the_unet_take_it():
    applies = _winograd.applies
    # 572 / base 32: from 128 input channels, 64 filters and 400 tiles (20x20 pixels) on
    assert applies(128, 128, 3, 3, 136, 136) and applies(128, 64, 3, 3, 198, 198)
    assert applies(512, 256, 3, 3, 54, 54)
    assert not applies(64, 64, 3, 3, 280, 280)  # too few input channels: transforms cost more
    assert not applies(128, 32, 3, 3, 388, 388)  # too few filters
    assert not applies(512, 512, 3, 3, 28, 28)  # 196 tiles: skinny products
    assert not applies(128, 128, 3, 3, 41, 40)  # no whole tiles
    assert not applies(128, 128, 1, 1, 40, 40) and not applies(128, 128, 2, 2, 40, 40)
