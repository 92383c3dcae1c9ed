"""2x2 max-pool: naive twin, the tie-break rule, finite differences, PyTorch, bad inputs."""

import numpy as np
import pytest

from minimal_unet.gradcheck import check_gradients
from minimal_unet.ops import maxpool2d
from minimal_unet.ops.maxpool2d import (
    maxpool2d_backward,
    maxpool2d_backward_naive,
    maxpool2d_forward,
    maxpool2d_forward_naive,
)

# batch 1 and 3, odd and even channel counts, H != W (all even, as max-pool requires)
SHAPES = [(1, 3, 4, 6), (3, 2, 6, 4)]
BOTH = [
    pytest.param(maxpool2d_forward, maxpool2d_backward, id="fast"),
    pytest.param(maxpool2d_forward_naive, maxpool2d_backward_naive, id="naive"),
]


@pytest.mark.parametrize("shape", SHAPES)
def test_fast_matches_naive(rng, shape):
    x = rng.standard_normal(shape)
    dy = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2))
    y, cache = maxpool2d_forward(x)
    y_naive, cache_naive = maxpool2d_forward_naive(x)
    assert np.max(np.abs(y - y_naive)) < 1e-12
    np.testing.assert_array_equal(cache[0], cache_naive[0])
    dx = maxpool2d_backward(dy, cache)
    dx_naive = maxpool2d_backward_naive(dy, cache_naive)
    assert np.max(np.abs(dx - dx_naive)) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_matches_naive_on_ties_nans_and_infs(rng, dtype):
    # values from {0, 1, 2, inf, NaN}: most windows hold ties, many a NaN or an inf, so
    # every branch of the fast arg-max (right over left, bottom over top, first NaN) meets
    # the naive loop's first-maximum rule many times
    x = rng.integers(0, 3, size=(4, 5, 8, 10)).astype(dtype)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[rng.random(x.shape) < 0.05] = np.inf
    y, cache = maxpool2d_forward(x)
    y_naive, cache_naive = maxpool2d_forward_naive(x)
    np.testing.assert_array_equal(y, y_naive)  # NaN == NaN here
    np.testing.assert_array_equal(cache[0], cache_naive[0])
    assert len(np.unique(cache[0])) == 4 and np.isnan(y).any()  # every case happened


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_hand_example(forward, backward):
    # one 4x4 image, four windows; the maxima sit at four different window positions
    x = np.array(
        [
            [1.0, 5.0, 2.0, 0.0],
            [3.0, 4.0, 7.0, 1.0],
            [9.0, 0.0, 6.0, 2.0],
            [1.0, 2.0, 3.0, 8.0],
        ]
    ).reshape(1, 1, 4, 4)
    y, cache = forward(x)
    np.testing.assert_array_equal(y, [[[[5.0, 7.0], [9.0, 8.0]]]])
    argmax, x_shape = cache
    assert argmax.dtype == np.uint8 and argmax.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(argmax, [[[[1, 2], [0, 3]]]])
    assert tuple(x_shape) == (1, 1, 4, 4)

    dx = backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]), cache)
    expected = np.array(
        [
            [0.0, 10.0, 0.0, 0.0],
            [0.0, 0.0, 20.0, 0.0],
            [30.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 40.0],
        ]
    ).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_ties_go_to_the_first_maximum_in_window_order(forward, backward):
    # window 0: constant -> top-left (0); window 1: tie top-right/bottom-right -> top-right (1);
    # window 2: tie bottom-left/bottom-right -> bottom-left (2)
    x = np.array(
        [
            [2.0, 2.0, 0.0, 5.0, 1.0, 1.0],
            [2.0, 2.0, 1.0, 5.0, 4.0, 4.0],
        ]
    ).reshape(1, 1, 2, 6)
    y, cache = forward(x)
    np.testing.assert_array_equal(y, [[[[2.0, 5.0, 4.0]]]])
    np.testing.assert_array_equal(cache[0], [[[[0, 1, 2]]]])
    dx = backward(np.array([[[[1.0, 2.0, 3.0]]]]), cache)
    expected = np.array(
        [
            [1.0, 0.0, 0.0, 2.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 3.0, 0.0],
        ]
    ).reshape(1, 1, 2, 6)
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_matches_finite_differences(rng, distinct_values, shape):
    x = distinct_values(rng, shape)
    dy = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2))
    _, cache = maxpool2d_forward(x)
    dx = maxpool2d_backward(dy, cache)
    errors = check_gradients(lambda x: maxpool2d_forward(x)[0], {"x": x}, {"x": dx}, dy=dy)
    assert errors["x"] < 1e-7


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_pytorch(rng, torch, distinct_values, shape):
    # distinct values: PyTorch breaks ties its own way, so only tie-free inputs compare
    x = distinct_values(rng, shape)
    dy = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2))
    y, cache = maxpool2d_forward(x)
    dx = maxpool2d_backward(dy, cache)

    x_t = torch.tensor(x, requires_grad=True)
    y_t = torch.nn.functional.max_pool2d(x_t, kernel_size=2, stride=2)
    y_t.backward(torch.tensor(dy))
    assert np.max(np.abs(y - y_t.detach().numpy())) < 1e-10
    assert np.max(np.abs(dx - x_t.grad.numpy())) < 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(rng, dtype):
    x = rng.standard_normal((1, 3, 4, 6)).astype(dtype)
    y, cache = maxpool2d_forward(x)
    dx = maxpool2d_backward(np.ones_like(y), cache)
    assert y.dtype == dtype and dx.dtype == dtype
    assert y.shape == (1, 3, 2, 3) and dx.shape == x.shape


def test_float32_agrees_with_float64(rng, distinct_values):
    x = distinct_values(rng, (3, 3, 4, 6))
    dy = rng.standard_normal((3, 3, 2, 3))
    y64, cache64 = maxpool2d_forward(x)
    y32, cache32 = maxpool2d_forward(x.astype(np.float32))
    np.testing.assert_array_equal(cache32[0], cache64[0])  # the same winners
    dx64 = maxpool2d_backward(dy, cache64)
    dx32 = maxpool2d_backward(dy.astype(np.float32), cache32)
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
@pytest.mark.parametrize(
    ("shape", "message"), [((1, 1, 5, 4), "H=5, W=4"), ((2, 3, 4, 7), "H=4, W=7")]
)
def test_odd_size_is_a_value_error(forward, backward, shape, message):
    with pytest.raises(ValueError, match=rf"expected even H and W, got {message}"):
        forward(np.zeros(shape))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_wrong_rank_is_a_value_error(forward, backward):
    with pytest.raises(ValueError, match=r"expected shape \(N, C, H, W\), got shape \(4, 4\)"):
        forward(np.zeros((4, 4)))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_integer_input_is_a_type_error(forward, backward):
    with pytest.raises(TypeError, match=r"expected dtype float32 or float64, got int32"):
        forward(np.zeros((1, 1, 2, 2), dtype=np.int32))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_upstream_shape_mismatch_is_a_value_error(rng, forward, backward):
    _, cache = forward(rng.standard_normal((1, 2, 4, 6)))
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2, 2, 3\), got \(1, 2, 4, 6\)"):
        backward(np.zeros((1, 2, 4, 6)), cache)


NAN = np.nan
# one 2x2 window per case: (values in order TL, TR, BL, BR), the expected arg-max k
NAN_WINDOWS = [
    pytest.param((NAN, 1.0, 2.0, 3.0), 0, id="nan-top-left"),
    pytest.param((1.0, NAN, 2.0, 3.0), 1, id="nan-top-right"),
    pytest.param((5.0, 1.0, NAN, 9.0), 2, id="nan-bottom-left-beats-larger"),
    pytest.param((9.0, 1.0, 2.0, NAN), 3, id="nan-after-the-maximum"),
    pytest.param((1.0, NAN, 3.0, NAN), 1, id="two-nans-first-wins"),
    pytest.param((NAN, NAN, NAN, NAN), 0, id="all-nan"),
    pytest.param((-np.inf, NAN, np.inf, 0.0), 1, id="nan-beats-inf"),
]


@pytest.mark.parametrize(("forward", "backward"), BOTH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("window", "k"), NAN_WINDOWS)
def test_nan_propagates_and_routes_to_the_first_nan(forward, backward, dtype, window, k):
    # the window twice, beside a NaN-free window [[1, 4], [3, 2]] whose maximum is 4 at k = 1
    x = np.array(
        [
            [window[0], window[1], 1.0, 4.0],
            [window[2], window[3], 3.0, 2.0],
        ],
        dtype=dtype,
    ).reshape(1, 1, 2, 4)
    y, cache = forward(x)
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == 4.0
    np.testing.assert_array_equal(cache[0], [[[[k, 1]]]])
    dx = backward(np.array([[[[10.0, 20.0]]]], dtype=dtype), cache)
    expected = np.zeros((2, 4), dtype=dtype)
    expected[k // 2, k % 2] = 10.0
    expected[0, 3] = 20.0
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_matches_pytorch(rng, torch, distinct_values, dtype):
    # one NaN in some windows (PyTorch and we agree on the pixel that gets the gradient),
    # the values PyTorch returns are compared NaN for NaN
    x = distinct_values(rng, (2, 3, 6, 8)).astype(dtype)
    nan_mask = rng.random(x.shape) < 0.08
    x6 = nan_mask.reshape(2, 3, 3, 2, 4, 2)
    nans_per_window = x6.sum(axis=(3, 5))  # (N, C, oH, oW)
    assert (nans_per_window == 1).any()  # the case under test happens
    keep = np.repeat(np.repeat(nans_per_window <= 1, 2, axis=2), 2, axis=3)
    x[nan_mask & keep] = np.nan  # at most one NaN per window
    dy = rng.standard_normal((2, 3, 3, 4)).astype(dtype)
    for forward, backward in ((maxpool2d_forward, maxpool2d_backward),
                              (maxpool2d_forward_naive, maxpool2d_backward_naive)):
        y, cache = forward(x)
        dx = backward(dy, cache)
        x_t = torch.tensor(x, requires_grad=True)
        y_t = torch.nn.functional.max_pool2d(x_t, kernel_size=2, stride=2)
        y_t.backward(torch.tensor(dy))
        np.testing.assert_array_equal(y, y_t.detach().numpy())  # NaN equals NaN here
        np.testing.assert_array_equal(dx, x_t.grad.numpy())
        assert np.isnan(y).any()


def test_nan_fast_matches_naive(rng):
    # NaN and +-inf sprinkled densely, several per window, plus ties
    x = rng.integers(-2, 3, size=(2, 3, 8, 10)).astype(np.float64)
    x[rng.random(x.shape) < 0.2] = np.nan
    x[rng.random(x.shape) < 0.1] = np.inf
    x[rng.random(x.shape) < 0.1] = -np.inf
    y, cache = maxpool2d_forward(x)
    y_naive, cache_naive = maxpool2d_forward_naive(x)
    np.testing.assert_array_equal(y, y_naive)
    np.testing.assert_array_equal(cache[0], cache_naive[0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_upstream_reaches_only_the_winner(rng, bad):
    """A NaN or inf in dy goes to its window's winner; the three losers get exactly 0
    (the fast path's dy * mask would give NaN there: inf * 0 and NaN * 0 are NaN)."""
    x = rng.standard_normal((2, 3, 6, 8))
    y, cache = maxpool2d_forward(x)
    dy = rng.standard_normal(y.shape)
    dy[0, 1, 2, 3] = bad
    dx = maxpool2d_backward(dy, cache)
    np.testing.assert_array_equal(dx, maxpool2d_backward_naive(dy, cache))
    window = dx[0, 1, 4:6, 6:8]
    assert np.sum(window == 0) == 3
    assert np.sum(~np.isfinite(window)) == 1


@pytest.mark.parametrize("pairs_per_slab", [1, 3])
def test_slabs_of_row_pairs_match_naive(rng, monkeypatch, pairs_per_slab):
    """The fast path pools (and unpools) in slabs of row pairs; slabs of 1 or 3 pairs (3
    does not divide the 2 * 4 maps' 4 pairs each, so slabs straddle maps) change nothing:
    same y, arg-max and dx as the naive loops, ties, NaN and inf included."""
    x = rng.integers(0, 3, size=(2, 4, 8, 10)).astype(np.float64)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[rng.random(x.shape) < 0.05] = np.inf
    row_pair_bytes = 2 * 10 * x.itemsize  # two full-size rows of W = 10
    monkeypatch.setattr(maxpool2d, "_SLAB_BYTES", pairs_per_slab * row_pair_bytes)
    assert len(maxpool2d._slabs(2 * 4 * 4, 10, x.itemsize)) == -(-32 // pairs_per_slab)
    y, cache = maxpool2d_forward(x)
    y_naive, cache_naive = maxpool2d_forward_naive(x)
    np.testing.assert_array_equal(y, y_naive)
    np.testing.assert_array_equal(cache[0], cache_naive[0])
    dy = rng.standard_normal(y.shape)
    dy[1, 2, 3, 4] = np.inf  # non-finite upstream: the slow branch, slab by slab
    np.testing.assert_array_equal(maxpool2d_backward(dy, cache),
                                  maxpool2d_backward_naive(dy, cache_naive))
