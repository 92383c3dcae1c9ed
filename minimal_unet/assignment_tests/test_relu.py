"""Graded: relu_forward_naive, relu_backward_naive (hand values, finite differences)."""

import numpy as np
import pytest
from _oracles import finite_difference, rel_err, student

RELU = "minimal_unet.ops.relu"


@pytest.mark.exercise("relu_forward_naive")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_hand_values(dtype):
    x = np.array([-2.0, -0.5, 0.25, 3.0], dtype=dtype).reshape(1, 1, 2, 2)
    y, cache = student(RELU, "relu_forward_naive")(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.ravel(), np.array([0.0, 0.0, 0.25, 3.0], dtype=dtype))
    np.testing.assert_array_equal(cache[0], y)  # the contract: cache = (y,)


@pytest.mark.exercise("relu_forward_naive")
def test_forward_random_leaves_input_alone(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    before = x.copy()
    y, _ = student(RELU, "relu_forward_naive")(x)
    np.testing.assert_array_equal(y, np.where(x > 0, x, 0.0))
    np.testing.assert_array_equal(x, before)


@pytest.mark.exercise("relu_backward_naive")
def test_backward_hand_values():
    y = np.array([0.0, 0.0, 0.25, 3.0]).reshape(1, 1, 2, 2)
    dy = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    dx = student(RELU, "relu_backward_naive")(dy, (y,))
    np.testing.assert_array_equal(dx.ravel(), [0.0, 0.0, 3.0, 4.0])


@pytest.mark.exercise("relu_backward_naive")
def test_backward_matches_finite_differences(rng):
    x = rng.standard_normal((2, 2, 3, 3))
    x[np.abs(x) < 0.1] = 0.5  # away from the kink at 0
    dy = rng.standard_normal(x.shape)
    dx = student(RELU, "relu_backward_naive")(dy, (np.maximum(x, 0.0),))
    numerical = finite_difference(lambda: np.sum(np.maximum(x, 0.0) * dy), x)
    assert rel_err(dx, numerical) < 1e-7
