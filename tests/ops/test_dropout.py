"""Inverted dropout: naive twin, the formula with its own mask (also in PyTorch), keep rate,
finite differences, the identity cases, dtypes and bad inputs."""

import numpy as np
import pytest

from minimal_unet.gradcheck import check_gradients
from minimal_unet.ops.dropout import (
    dropout_backward,
    dropout_backward_naive,
    dropout_forward,
    dropout_forward_naive,
)

SEED = 2015
# batch 1 and 3, odd and even channel counts, H != W
SHAPES = [(1, 3, 4, 6), (3, 2, 5, 3)]
BOTH = [
    pytest.param(dropout_forward, dropout_backward, id="fast"),
    pytest.param(dropout_forward_naive, dropout_backward_naive, id="naive"),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.25, 0.5])
def test_fast_matches_naive(rng, shape, p):
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape)
    y, cache = dropout_forward(x, p, np.random.default_rng(SEED))
    y_naive, cache_naive = dropout_forward_naive(x, p, np.random.default_rng(SEED))
    np.testing.assert_array_equal(cache[0], cache_naive[0])  # same draws, same mask
    assert np.max(np.abs(y - y_naive)) < 1e-12
    dx = dropout_backward(dy, cache)
    dx_naive = dropout_backward_naive(dy, cache_naive)
    assert np.max(np.abs(dx - dx_naive)) < 1e-12


@pytest.mark.parametrize(("forward", "backward"), BOTH)
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_formula_and_pytorch_with_the_given_mask(rng, torch, forward, backward, shape):
    p = 0.3
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape)
    y, cache = forward(x, p, np.random.default_rng(SEED))
    mask, scale = cache
    assert mask.dtype == bool and mask.shape == shape
    assert 0 < mask.sum() < mask.size  # some units kept, some dropped
    dx = backward(dy, cache)

    # y == x * mask / (1 - p), and its gradient, computed by PyTorch's autograd
    x_t = torch.tensor(x, requires_grad=True)
    y_t = x_t * torch.tensor(mask) / (1 - p)
    y_t.backward(torch.tensor(dy))
    assert np.max(np.abs(y - y_t.detach().numpy())) < 1e-10
    assert np.max(np.abs(dx - x_t.grad.numpy())) < 1e-10
    assert np.all(y[~mask] == 0) and np.all(dx[~mask] == 0)


def test_keeps_units_with_probability_one_minus_p():
    p = 0.3
    x = np.ones((4, 8, 50, 50))  # 80 000 units: the keep rate's std is ~0.0016
    y, (mask, scale) = dropout_forward(x, p, np.random.default_rng(SEED))
    assert abs(mask.mean() - (1 - p)) < 0.01
    assert scale == pytest.approx(1 / (1 - p))
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout preserves the expected value
    np.testing.assert_allclose(y[mask], 1 / (1 - p), rtol=1e-15)


def test_same_seed_same_mask_and_different_seed_different_mask(rng):
    x = rng.standard_normal((1, 4, 6, 6))
    _, (mask_a, _) = dropout_forward(x, 0.5, np.random.default_rng(1))
    _, (mask_b, _) = dropout_forward(x, 0.5, np.random.default_rng(1))
    _, (mask_c, _) = dropout_forward(x, 0.5, np.random.default_rng(2))
    np.testing.assert_array_equal(mask_a, mask_b)
    assert not np.array_equal(mask_a, mask_c)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_matches_finite_differences(rng, shape):
    p = 0.4
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape)
    _, cache = dropout_forward(x, p, np.random.default_rng(SEED))
    dx = dropout_backward(dy, cache)

    def f(x):  # a fresh generator with the same seed: the same mask at every call
        return dropout_forward(x, p, np.random.default_rng(SEED))[0]

    errors = check_gradients(f, {"x": x}, {"x": dx}, dy=dy)
    assert errors["x"] < 1e-7


@pytest.mark.parametrize(("forward", "backward"), BOTH)
@pytest.mark.parametrize(("p", "train"), [(0.5, False), (0.0, True), (0.0, False)])
def test_identity_when_not_training_or_p_zero(rng, forward, backward, p, train):
    x = rng.standard_normal((1, 3, 4, 6))
    dy = rng.standard_normal(x.shape)
    y, cache = forward(x, p, None, train=train)  # no generator needed: nothing is drawn
    assert cache == (None, 1.0)
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(y, x)
    np.testing.assert_array_equal(backward(dy, cache), dy)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(rng, forward, backward, dtype):
    x = rng.standard_normal((1, 2, 4, 3)).astype(dtype)
    y, cache = forward(x, 0.5, np.random.default_rng(SEED))
    dx = backward(np.ones_like(x), cache)
    assert y.dtype == dtype and dx.dtype == dtype


def test_float32_agrees_with_float64_and_draws_the_same_mask(rng):
    x = rng.standard_normal((3, 3, 4, 6))
    dy = rng.standard_normal(x.shape)
    y64, cache64 = dropout_forward(x, 0.5, np.random.default_rng(SEED))
    y32, cache32 = dropout_forward(x.astype(np.float32), 0.5, np.random.default_rng(SEED))
    np.testing.assert_array_equal(cache32[0], cache64[0])
    np.testing.assert_allclose(y32, y64, rtol=1e-6, atol=1e-7)
    dx64 = dropout_backward(dy, cache64)
    dx32 = dropout_backward(dy.astype(np.float32), cache32)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-6, atol=1e-7)


def test_does_not_modify_input(rng):
    x = rng.standard_normal((1, 2, 3, 4))
    x_before = x.copy()
    dropout_forward(x, 0.5, np.random.default_rng(SEED))
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
@pytest.mark.parametrize("p", [1.0, 1.5, -0.1])
def test_p_out_of_range_is_a_value_error(forward, backward, p):
    with pytest.raises(ValueError, match=rf"p: expected a drop probability in \[0, 1\), got {p}"):
        forward(np.ones((1, 1, 2, 2)), p, np.random.default_rng(SEED))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_p_not_a_number_is_a_type_error(forward, backward):
    with pytest.raises(TypeError, match=r"p: expected a real number in \[0, 1\), got str"):
        forward(np.ones((1, 1, 2, 2)), "0.5", np.random.default_rng(SEED))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_missing_generator_is_a_type_error(forward, backward):
    with pytest.raises(TypeError, match=r"rng: expected a numpy.random.Generator .* got NoneType"):
        forward(np.ones((1, 1, 2, 2)), 0.5, None)
    with pytest.raises(TypeError, match=r"got RandomState"):
        forward(np.ones((1, 1, 2, 2)), 0.5, np.random.RandomState(0))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_integer_input_is_a_type_error(forward, backward):
    with pytest.raises(TypeError, match=r"x: expected dtype float32 or float64, got int64"):
        forward(np.ones((1, 1, 2, 2), dtype=np.int64), 0.5, np.random.default_rng(SEED))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_upstream_shape_mismatch_is_a_value_error(forward, backward):
    _, cache = forward(np.ones((1, 2, 3, 4)), 0.5, np.random.default_rng(SEED))
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2, 3, 4\), got \(1, 2, 4, 3\)"):
        backward(np.ones((1, 2, 4, 3)), cache)
