"""The numba backend's ops beyond the contract's parity test (tests/cudasim/test_contract_sim.py):
ties, extreme logits, determinism, dropout's identity, the array helpers.

Runs in the Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1): tiny shapes, since each
simulated GPU thread is a Python thread. float64 must agree to 1e-12, float32 to 1e-5.
"""

import numpy as np
import pytest

from minimal_unet import ops

DTYPES = [np.float64, np.float32]


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def test_maxpool2d_ties_pick_the_first_maximum_in_window_order(nb):
    # Windows (2x2, read TL, TR, BL, BR): constant -> 0; TR = BR max -> 1; BL = BR max -> 2.
    x = np.array([[[[5.0, 5.0, 1.0, 7.0, 0.0, 0.0],
                    [5.0, 5.0, 2.0, 7.0, 3.0, 3.0]]]])  # (1, 1, 2, 6)
    y, (argmax, _) = nb.maxpool2d_forward(nb.asarray(x))
    np.testing.assert_array_equal(nb.asnumpy(argmax), [[[[0, 1, 2]]]])
    np.testing.assert_array_equal(nb.asnumpy(y), [[[[5.0, 7.0, 3.0]]]])
    dx = nb.asnumpy(nb.maxpool2d_backward(nb.asarray(np.ones((1, 1, 1, 3))), (argmax, x.shape)))
    np.testing.assert_array_equal(dx, [[[[1, 0, 0, 1, 0, 0],
                                         [0, 0, 0, 0, 1, 0]]]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_is_finite_at_extreme_logits(nb, assert_close, dtype):
    logits = np.array([1e4, -1e4, 0.0, 1e4], dtype=dtype).reshape(1, 2, 1, 2)  # (N, K, H, W)
    target = np.array([[[1, 0]]])  # the worst class on both pixels
    loss_ref, dlogits_ref = ops.softmax_cross_entropy(logits, target)
    loss, dlogits = nb.softmax_cross_entropy(nb.asarray(logits), nb.asarray(target))
    assert np.isfinite(loss) and np.all(np.isfinite(nb.asnumpy(dlogits)))
    assert_close(loss, loss_ref)  # (2e4 + 1e4) / 2 pixels
    assert_close(nb.asnumpy(dlogits), dlogits_ref)


def test_loss_reduction_is_deterministic(nb):
    rng = np.random.default_rng(7)
    logits = nb.asarray(rng.standard_normal((1, 2, 9, 11)).astype(np.float32))
    target = nb.asarray(rng.integers(0, 2, size=(1, 9, 11)).astype(np.int32))
    first, _ = nb.softmax_cross_entropy(logits, target)
    second, _ = nb.softmax_cross_entropy(logits, target)
    assert first.tobytes() == second.tobytes()  # same bits: no float atomics


# The counter hash wraps modulo 2^64 on purpose; in the simulator it runs on NumPy uint64
# scalars, which warn about it (see kernels/numba/dropout.py).
@pytest.mark.filterwarnings("ignore:overflow encountered in scalar:RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_is_the_identity_when_off_and_inverted_when_on(nb, dtype):
    rng = np.random.default_rng(8)
    x = rand(rng, (2, 3, 4, 4), dtype)
    x_dev = nb.asarray(x)
    for p, train in ((0.5, False), (0.0, True)):
        y, cache = nb.dropout_forward(x_dev, p, np.random.default_rng(0), train=train)
        assert y is not x_dev  # a copy, as the NumPy op returns
        np.testing.assert_array_equal(nb.asnumpy(y), x)
        np.testing.assert_array_equal(nb.asnumpy(nb.dropout_backward(x_dev, cache)), x)

    p = 0.25
    y, cache = nb.dropout_forward(x_dev, p, np.random.default_rng(9), train=True)
    y = nb.asnumpy(y)
    assert y.dtype == dtype
    kept = y != 0
    scale = dtype(1 / (1 - p))
    np.testing.assert_array_equal(y[kept], x[kept] * scale)  # kept units scaled by 1/(1-p)
    assert 0 < kept.sum() < x.size  # some kept, some dropped (96 units, p = 0.25)
    dy = rand(rng, x.shape, dtype)
    dx = nb.asnumpy(nb.dropout_backward(nb.asarray(dy), cache))
    np.testing.assert_array_equal(dx, np.where(kept, dy * scale, 0))  # same mask as forward


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_zeros_like_and_sgd_match_numpy(nb, assert_close, dtype):
    from minimal_unet.optim import sgd_momentum_update

    rng = np.random.default_rng(10)
    a, b = rand(rng, (3, 2, 5), dtype), rand(rng, (3, 2, 5), dtype)
    assert_close(nb.asnumpy(nb.add(nb.asarray(a), nb.asarray(b))), a + b)
    zeros = nb.asnumpy(nb.zeros_like(nb.asarray(a)))
    assert zeros.dtype == dtype and zeros.shape == a.shape and not zeros.any()

    param, grad, velocity = rand(rng, (4, 7), dtype), rand(rng, (4, 7), dtype), rand(rng, (4, 7),
                                                                                      dtype)
    p_dev, g_dev, v_dev = nb.asarray(param), nb.asarray(grad), nb.asarray(velocity)
    sgd_momentum_update(param, grad, velocity, 0.01, 0.99)  # the NumPy reference, in place
    nb.sgd_momentum_update(p_dev, g_dev, v_dev, 0.01, 0.99)
    assert_close(nb.asnumpy(v_dev), velocity)
    assert_close(nb.asnumpy(p_dev), param)
    assert_close(nb.asnumpy(g_dev), grad)  # grad is not modified
