"""Graded: softmax_cross_entropy_naive (hand values, finite differences, scipy, torch)."""

import numpy as np
import pytest
from _oracles import finite_difference, rel_err, softmax_ce_ref, student

CE = "minimal_unet.ops.softmax_ce"


def _loss_fn():
    return student(CE, "softmax_cross_entropy_naive")


@pytest.mark.exercise("softmax_cross_entropy_naive")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hand_values(dtype):
    # Two classes with equal logits: p = 1/2 everywhere, loss = log 2,
    # dL/dz = (p - onehot) / M with M = 2 pixels.
    logits = np.zeros((1, 2, 1, 2), dtype=dtype)
    target = np.array([[[0, 1]]])
    loss, dlogits = _loss_fn()(logits, target)
    assert isinstance(loss, np.generic) and loss.dtype == dtype
    assert dlogits.dtype == dtype
    np.testing.assert_allclose(loss, np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(dlogits[0, :, 0, :], [[-0.25, 0.25], [0.25, -0.25]], rtol=1e-6)


@pytest.mark.exercise("softmax_cross_entropy_naive")
def test_large_logits_stay_finite():
    # exp(1e4) overflows: only a max-shifted log-sum-exp gets these right.
    logits = np.array([[[[1e4, 0.0]], [[-1e4, 0.0]]]])  # (1, 2, 1, 2): pixels (1e4,-1e4), (0,0)
    loss, dlogits = _loss_fn()(logits, np.array([[[1, 0]]]))
    # pixel 0: -log p_1 = 2e4; pixel 1: log 2; mean over 2 pixels.
    np.testing.assert_allclose(loss, (2e4 + np.log(2.0)) / 2, rtol=1e-12)
    assert np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(dlogits[0, :, 0, 0], [0.5, -0.5], atol=1e-12)


@pytest.mark.exercise("softmax_cross_entropy_naive")
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_matches_logsumexp_and_gradient_finite_differences(rng, weighted):
    logits = rng.standard_normal((2, 3, 2, 3)) * 3
    target = rng.integers(0, 3, size=(2, 2, 3))
    weight = rng.random((2, 2, 3)) + 0.5 if weighted else None
    loss, dlogits = _loss_fn()(logits, target, weight)
    assert abs(float(loss) - softmax_ce_ref(logits, target, weight)) < 1e-12
    numerical = finite_difference(lambda: softmax_ce_ref(logits, target, weight), logits)
    assert rel_err(dlogits, numerical) < 1e-7


@pytest.mark.exercise("softmax_cross_entropy_naive")
def test_matches_torch(rng):
    torch = pytest.importorskip("torch")
    logits, target = rng.standard_normal((1, 4, 3, 2)), rng.integers(0, 4, size=(1, 3, 2))
    loss, dlogits = _loss_fn()(logits, target)
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(target))
    t_loss.backward()
    assert abs(float(loss) - t_loss.item()) < 1e-12
    assert rel_err(dlogits, t_logits.grad.numpy()) < 1e-12
