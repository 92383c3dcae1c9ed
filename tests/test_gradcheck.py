"""The gradient checker itself: known derivatives, rel_error by hand, wrong gradients caught,
inputs restored, float32 warned about, bad arguments refused."""

import numpy as np
import pytest

from minimal_unet.gradcheck import (
    check_gradients,
    directional_check,
    format_report,
    numerical_gradient,
    rel_error,
)


@pytest.fixture
def rng():
    return np.random.default_rng(1505_04597)


def test_numerical_gradient_of_sum_of_squares_is_2x(rng):
    x = rng.standard_normal((3, 4))
    grad = numerical_gradient(lambda x: np.sum(x**2), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    assert rel_error(grad, 2 * x) < 1e-8


def test_numerical_gradient_of_a_matmul_with_upstream_gradient(rng):
    # y = A @ B, L = sum(y * dy): dL/dA = dy @ B^T and dL/dB = A^T @ dy
    A = rng.standard_normal((3, 4))
    B = rng.standard_normal((4, 5))
    dy = rng.standard_normal((3, 5))
    grad_A = numerical_gradient(lambda A: A @ B, A, dy=dy)
    grad_B = numerical_gradient(lambda B: A @ B, B, dy=dy)
    assert rel_error(grad_A, dy @ B.T) < 1e-8
    assert rel_error(grad_B, A.T @ dy) < 1e-8


def test_numerical_gradient_restores_x_exactly(rng):
    x = rng.standard_normal((2, 3, 4))
    x_before = x.copy()
    numerical_gradient(lambda x: np.sum(np.sin(x)), x)
    np.testing.assert_array_equal(x, x_before)  # bit for bit


def test_numerical_gradient_restores_x_when_f_raises(rng):
    x = rng.standard_normal(5)
    x_before = x.copy()

    def f(x):
        if x[0] != x_before[0]:
            raise RuntimeError("boom")
        return np.sum(x)

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, x_before)


def test_numerical_gradient_sees_each_perturbation(rng):
    # f reads x through the closure as a student's layer would: the perturbation must be in
    # place, so f(x) and the caller's array are the same object
    x = rng.standard_normal(4)
    seen = []
    numerical_gradient(lambda z: seen.append(z is x) or np.sum(z), x)
    assert seen and all(seen)


def test_vector_output_without_dy_is_a_value_error(rng):
    with pytest.raises(ValueError, match=r"expected a scalar output when dy is None, got .*\(3,\)"):
        numerical_gradient(lambda x: 2 * x, rng.standard_normal(3))


def test_output_shape_not_matching_dy_is_a_value_error(rng):
    with pytest.raises(ValueError, match=r"expected an output of dy's shape \(2,\), got \(3,\)"):
        numerical_gradient(lambda x: 2 * x, rng.standard_normal(3), dy=np.ones(2))


def test_float32_input_warns(rng):
    x = rng.standard_normal(3).astype(np.float32)
    with pytest.warns(UserWarning, match=r"float32 .*\(expected float64\)"):
        numerical_gradient(lambda x: np.sum(x**2), x, h=1e-2)


def test_integer_input_is_a_type_error():
    with pytest.raises(TypeError, match=r"expected a float64 array to perturb, got dtype int64"):
        numerical_gradient(lambda x: np.sum(x), np.arange(3))


def test_rel_error_by_hand():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 2.1, rel=1e-12)
    # the largest difference (1) over the largest |a| + |b| (20), not elementwise (which is 1)
    assert rel_error(np.array([0.0, 10.0]), np.array([1.0, 10.0])) == pytest.approx(0.05)
    assert rel_error(np.array([-3.0]), np.array([3.0])) == pytest.approx(1.0)
    assert rel_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    assert isinstance(rel_error(np.ones(2), np.ones(2)), float)


def test_rel_error_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        rel_error(np.ones(2), np.ones(3))


def _layer(x, w):
    """A small layer with a known backward: y = tanh(x @ w)."""
    return np.tanh(x @ w)


def _layer_backward(x, w, dy):
    dz = dy * (1 - np.tanh(x @ w) ** 2)
    return dz @ w.T, x.T @ dz  # dx, dw


def test_check_gradients_reports_each_input(rng):
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    dy = rng.standard_normal((3, 2))
    dx, dw = _layer_backward(x, w, dy)
    errors = check_gradients(_layer, {"x": x, "w": w}, {"x": dx, "w": dw}, dy=dy)
    assert set(errors) == {"x", "w"}
    assert errors["x"] < 1e-8 and errors["w"] < 1e-8

    # a bug in dw only: only w's error is large
    errors = check_gradients(_layer, {"x": x, "w": w}, {"x": dx, "w": 1.01 * dw}, dy=dy)
    assert errors["x"] < 1e-8 and errors["w"] > 1e-3


def test_check_gradients_refuses_unknown_names_and_wrong_shapes(rng):
    x = rng.standard_normal(3)
    with pytest.raises(ValueError, match=r"unknown names \['y'\]"):
        check_gradients(lambda x: np.sum(x), {"x": x}, {"y": np.ones(3)})
    expected = r"analytic\['x'\]: expected the input's shape \(3,\), got \(2,\)"
    with pytest.raises(ValueError, match=expected):
        check_gradients(lambda x: np.sum(x), {"x": x}, {"x": np.ones(2)})


def test_directional_check_passes_right_and_catches_wrong_gradient(rng):
    x, w = rng.standard_normal((5, 6)), rng.standard_normal((6, 3))
    dy = rng.standard_normal((5, 3))
    dx, dw = _layer_backward(x, w, dy)
    x_before, w_before = x.copy(), w.copy()

    right = directional_check(_layer, {"x": x, "w": w}, {"x": dx, "w": dw}, rng, dy=dy)
    assert set(right) == {"x", "w"}
    assert right["x"] < 1e-7 and right["w"] < 1e-7

    wrong_dx = dx.copy()
    wrong_dx[2, 3] += 0.5  # one wrong entry
    wrong = directional_check(_layer, {"x": x, "w": w}, {"x": wrong_dx, "w": dw}, rng, dy=dy)
    assert wrong["x"] > 1e-3 and wrong["w"] < 1e-7
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(w, w_before)


def test_directional_check_on_a_scalar_function(rng):
    x = rng.standard_normal((4, 4))
    errors = directional_check(lambda x: np.sum(x**3), {"x": x}, {"x": 3 * x**2}, rng)
    assert errors["x"] < 1e-7
    errors = directional_check(lambda x: np.sum(x**3), {"x": x}, {"x": 2 * x**2}, rng)
    assert errors["x"] > 1e-2


def test_format_report_lists_every_input_with_verdict():
    report = format_report({"x": 3e-10, "weight": 0.02}, tol=1e-7)
    lines = report.splitlines()
    assert len(lines) == 3  # header + one row per input
    assert "rel. error" in lines[0]
    assert lines[1].split() == ["x", "3.00e-10", "ok"]
    assert lines[2].split() == ["weight", "2.00e-02", "FAIL"]
