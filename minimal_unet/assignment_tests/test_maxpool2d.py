"""Graded: maxpool2d_forward_naive, maxpool2d_backward_naive (hand values, finite differences)."""

import numpy as np
import pytest
from _oracles import finite_difference, maxpool2d_ref, rel_err, student

POOL = "minimal_unet.ops.maxpool2d"
X_HAND = np.array([[1, 2, 6, 5],
                   [3, 4, 7, 8],
                   [9, 0, 0, 0],
                   [0, 0, 0, 0]], dtype=np.float64).reshape(1, 1, 4, 4)


@pytest.mark.exercise("maxpool2d_forward_naive")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_hand_values(dtype):
    y, (argmax, x_shape) = student(POOL, "maxpool2d_forward_naive")(X_HAND.astype(dtype))
    assert y.dtype == dtype and tuple(x_shape) == (1, 1, 4, 4)
    np.testing.assert_array_equal(y[0, 0], [[4, 8], [9, 0]])
    # window positions: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right;
    # the all-zero window is a tie: the first maximum (position 0) wins.
    assert argmax.dtype == np.uint8
    np.testing.assert_array_equal(argmax[0, 0], [[3, 3], [0, 0]])


@pytest.mark.exercise("maxpool2d_forward_naive")
def test_forward_matches_reference(rng):
    x = rng.standard_normal((2, 3, 6, 4))
    y, (argmax, _) = student(POOL, "maxpool2d_forward_naive")(x)
    np.testing.assert_array_equal(y, maxpool2d_ref(x))
    assert argmax.shape == (2, 3, 3, 2)


@pytest.mark.exercise("maxpool2d_backward_naive")
def test_backward_hand_values():
    argmax = np.array([[3, 1], [0, 2]], dtype=np.uint8).reshape(1, 1, 2, 2)
    dy = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
    dx = student(POOL, "maxpool2d_backward_naive")(dy, (argmax, (1, 1, 4, 4)))
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 0, 20],
                                             [0, 10, 0, 0],
                                             [30, 0, 0, 0],
                                             [0, 0, 40, 0]])


@pytest.mark.exercise("maxpool2d_backward_naive")
def test_backward_matches_finite_differences(rng):
    x = rng.permutation(2 * 2 * 4 * 6).astype(np.float64).reshape(2, 2, 4, 6) / 7.0  # distinct
    windows = np.stack([x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2],
                        x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]])  # (4, N, C, oH, oW)
    argmax = windows.argmax(axis=0).astype(np.uint8)
    dy = rng.standard_normal((2, 2, 2, 3))
    dx = student(POOL, "maxpool2d_backward_naive")(dy, (argmax, x.shape))
    numerical = finite_difference(lambda: np.sum(maxpool2d_ref(x) * dy), x)
    assert rel_err(dx, numerical) < 1e-7
