"""ReLU: naive twin, finite differences, PyTorch, dtypes and bad inputs."""

import numpy as np
import pytest

from minimal_unet.gradcheck import check_gradients
from minimal_unet.ops.relu import (
    relu_backward,
    relu_backward_naive,
    relu_forward,
    relu_forward_naive,
)

# batch 1 and 3, odd and even channel counts, H != W
SHAPES = [(1, 3, 4, 6), (3, 2, 5, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fast_matches_naive(rng, shape):
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape)
    y, cache = relu_forward(x)
    y_naive, cache_naive = relu_forward_naive(x)
    assert np.max(np.abs(y - y_naive)) < 1e-12
    dx = relu_backward(dy, cache)
    dx_naive = relu_backward_naive(dy, cache_naive)
    assert np.max(np.abs(dx - dx_naive)) < 1e-12


def test_hand_example():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    y, cache = relu_forward(x)
    np.testing.assert_array_equal(y, [[0.0, 0.0, 0.0, 0.5, 3.0]])
    dx = relu_backward(np.array([[1.0, 2.0, 3.0, 4.0, 5.0]]), cache)
    # the derivative at exactly 0 is taken as 0, as in PyTorch
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 0.0, 4.0, 5.0]])


@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_matches_finite_differences(rng, away_from_zero, shape):
    x = away_from_zero(rng, shape)
    dy = rng.standard_normal(shape)
    _, cache = relu_forward(x)
    dx = relu_backward(dy, cache)
    errors = check_gradients(lambda x: relu_forward(x)[0], {"x": x}, {"x": dx}, dy=dy)
    assert errors["x"] < 1e-7


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_pytorch(rng, torch, shape):
    x = rng.standard_normal(shape)
    x[0, 0, 0, :2] = 0.0  # exactly at the kink: both must give gradient 0 there
    dy = rng.standard_normal(shape)
    y, cache = relu_forward(x)
    dx = relu_backward(dy, cache)

    x_t = torch.tensor(x, requires_grad=True)
    y_t = torch.relu(x_t)
    y_t.backward(torch.tensor(dy))
    assert np.max(np.abs(y - y_t.detach().numpy())) < 1e-10
    assert np.max(np.abs(dx - x_t.grad.numpy())) < 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(rng, dtype):
    x = rng.standard_normal((1, 2, 4, 3)).astype(dtype)
    y, cache = relu_forward(x)
    dx = relu_backward(np.ones_like(x), cache)
    assert y.dtype == dtype and dx.dtype == dtype
    assert y.shape == x.shape and dx.shape == x.shape


def test_float32_agrees_with_float64(rng):
    x = rng.standard_normal((3, 3, 4, 6))
    dy = rng.standard_normal(x.shape)
    y64, cache64 = relu_forward(x)
    y32, cache32 = relu_forward(x.astype(np.float32))
    dx64 = relu_backward(dy, cache64)
    dx32 = relu_backward(dy.astype(np.float32), cache32)
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-5, atol=1e-6)


def test_does_not_modify_input(rng):
    x = rng.standard_normal((1, 2, 3, 4))
    x_before = x.copy()
    relu_forward(x)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("forward", [relu_forward, relu_forward_naive])
def test_integer_input_is_a_type_error(forward):
    with pytest.raises(TypeError, match=r"expected dtype float32 or float64, got int64"):
        forward(np.ones((1, 1, 2, 2), dtype=np.int64))


def test_list_input_is_a_type_error():
    with pytest.raises(TypeError, match=r"expected a numpy.ndarray, got list"):
        relu_forward([[1.0, -1.0]])


@pytest.mark.parametrize("backward", [relu_backward, relu_backward_naive])
def test_upstream_shape_mismatch_is_a_value_error(rng, backward):
    _, cache = relu_forward(rng.standard_normal((1, 2, 3, 4)))
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2, 3, 4\), got \(1, 2, 4, 3\)"):
        backward(np.ones((1, 2, 4, 3)), cache)


def test_upstream_dtype_mismatch_is_a_type_error(rng):
    _, cache = relu_forward(rng.standard_normal((1, 2, 3, 4)))
    with pytest.raises(TypeError, match=r"dy=float32, y=float64"):
        relu_backward(np.ones((1, 2, 3, 4), dtype=np.float32), cache)
