"""Graded: conv2d_forward_naive, conv2d_backward_naive (hand values, finite differences, torch)."""

import numpy as np
import pytest
from _oracles import conv2d_ref, finite_difference, rel_err, student

CONV = "minimal_unet.ops.conv2d"


@pytest.mark.exercise("conv2d_forward_naive")
def test_forward_hand_values():
    # d2l.ai's example: a 3x3 input and a 2x2 kernel, checkable by hand.
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    w = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32).reshape(1, 1, 2, 2)
    y, cache = student(CONV, "conv2d_forward_naive")(x, w, np.array([1.0], np.float32))
    assert y.dtype == np.float32 and y.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(y[0, 0], [[20.0, 26.0], [38.0, 44.0]])  # 19 25 37 43, + 1
    assert cache[3] == 0  # the contract: cache = (x, w, b, pad)


@pytest.mark.exercise("conv2d_forward_naive")
def test_forward_padding_hand_value():
    # With pad = 1 a 1x1 input sees only the kernel's centre.
    x = np.full((1, 1, 1, 1), 2.0)
    w = np.arange(9.0).reshape(1, 1, 3, 3)
    y, _ = student(CONV, "conv2d_forward_naive")(x, w, np.zeros(1), pad=1)
    np.testing.assert_array_equal(y, [[[[8.0]]]])  # 2 * w[1, 1] = 2 * 4


@pytest.mark.exercise("conv2d_forward_naive")
@pytest.mark.parametrize("pad", [0, 1])
def test_forward_matches_reference(rng, pad):
    x, w, b = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 3, 3)), rng.random(2)
    y, _ = student(CONV, "conv2d_forward_naive")(x, w, b, pad=pad)
    assert rel_err(y, conv2d_ref(x, w, b, pad)) < 1e-12


@pytest.mark.exercise("conv2d_forward_naive")
def test_forward_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.random(3)
    y, _ = student(CONV, "conv2d_forward_naive")(x, w, b, pad=1)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                          torch.from_numpy(b), padding=1).numpy()
    assert rel_err(y, expected) < 1e-12


@pytest.mark.exercise("conv2d_backward_naive")
@pytest.mark.parametrize("pad", [0, 1])
def test_backward_matches_finite_differences(rng, pad):
    x, w, b = rng.standard_normal((2, 2, 4, 5)), rng.standard_normal((3, 2, 3, 3)), rng.random(3)
    dy = rng.standard_normal(conv2d_ref(x, w, b, pad).shape)
    dx, dw, db = student(CONV, "conv2d_backward_naive")(dy, (x, w, b, pad))

    def loss():
        return np.sum(conv2d_ref(x, w, b, pad) * dy)

    assert rel_err(dx, finite_difference(loss, x)) < 1e-7
    assert rel_err(dw, finite_difference(loss, w)) < 1e-7
    assert rel_err(db, finite_difference(loss, b)) < 1e-7


@pytest.mark.exercise("conv2d_backward_naive")
def test_backward_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((2, 2, 3, 3)), rng.random(2)
    dy = rng.standard_normal((1, 2, 5, 4))
    dx, dw, db = student(CONV, "conv2d_backward_naive")(dy, (x, w, b, 1))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch.nn.functional.conv2d(tx, tw, tb, padding=1).backward(torch.from_numpy(dy))
    for mine, theirs in ((dx, tx), (dw, tw), (db, tb)):
        assert rel_err(mine, theirs.grad.numpy()) < 1e-12
