"""Graded: upconv2d_forward_naive, upconv2d_backward_naive (hand values, finite differences,
torch's conv_transpose2d)."""

import numpy as np
import pytest
from _oracles import finite_difference, rel_err, student, upconv2d_ref

UP = "minimal_unet.ops.upconv2d"


@pytest.mark.exercise("upconv2d_forward_naive")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_hand_values(dtype):
    # One input pixel of value 2 paints the 2x2 block 2 * w + b.
    x = np.full((1, 1, 1, 1), 2.0, dtype=dtype)
    w = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=dtype).reshape(1, 1, 2, 2)
    y, cache = student(UP, "upconv2d_forward_naive")(x, w, np.array([0.5], dtype=dtype))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y[0, 0], [[2.5, 4.5], [6.5, 8.5]])
    assert len(cache) == 3  # the contract: cache = (x, w, b)


@pytest.mark.exercise("upconv2d_forward_naive")
def test_forward_matches_reference(rng):
    x, w, b = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal((3, 2, 2, 2)), rng.random(2)
    y, _ = student(UP, "upconv2d_forward_naive")(x, w, b)
    assert y.shape == (2, 2, 6, 4)
    assert rel_err(y, upconv2d_ref(x, w, b)) < 1e-12


@pytest.mark.exercise("upconv2d_forward_naive")
def test_forward_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((1, 3, 2, 3)), rng.standard_normal((3, 4, 2, 2)), rng.random(4)
    y, _ = student(UP, "upconv2d_forward_naive")(x, w, b)
    expected = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=2).numpy()
    assert rel_err(y, expected) < 1e-12


@pytest.mark.exercise("upconv2d_backward_naive")
def test_backward_matches_finite_differences(rng):
    x, w, b = rng.standard_normal((2, 3, 2, 3)), rng.standard_normal((3, 2, 2, 2)), rng.random(2)
    dy = rng.standard_normal((2, 2, 4, 6))
    dx, dw, db = student(UP, "upconv2d_backward_naive")(dy, (x, w, b))

    def loss():
        return np.sum(upconv2d_ref(x, w, b) * dy)

    assert rel_err(dx, finite_difference(loss, x)) < 1e-7
    assert rel_err(dw, finite_difference(loss, w)) < 1e-7
    assert rel_err(db, finite_difference(loss, b)) < 1e-7


@pytest.mark.exercise("upconv2d_backward_naive")
def test_backward_hand_values():
    # One input pixel: dL/dx = sum(w * dy block), dL/dw = x * dy block, dL/db = sum(dy).
    x = np.full((1, 1, 1, 1), 2.0)
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    dy = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(1, 1, 2, 2)
    dx, dw, db = student(UP, "upconv2d_backward_naive")(dy, (x, w, np.zeros(1)))
    np.testing.assert_array_equal(dx.ravel(), [1.0 - 4.0])
    np.testing.assert_array_equal(dw.ravel(), [2.0, 0.0, 0.0, -2.0])
    np.testing.assert_array_equal(db, [0.0])
