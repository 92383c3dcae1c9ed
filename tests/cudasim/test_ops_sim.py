"""Every op of the numba backend, forward and backward, against the NumPy reference ops.

Runs in the Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1): tiny shapes, since each
simulated GPU thread is a Python thread. float64 must agree to 1e-12, float32 to 1e-5.
"""

import numpy as np
import pytest

from minimal_unet import ops

DTYPES = [np.float64, np.float32]


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize(
    "dtype, x_shape, w_shape, pad",
    [
        (np.float64, (2, 2, 5, 6), (3, 2, 3, 3), 0),
        (np.float64, (1, 3, 4, 5), (2, 3, 3, 3), 1),  # zero padding
        (np.float64, (2, 3, 4, 4), (2, 3, 1, 1), 0),  # the 1x1 head
        (np.float32, (2, 2, 5, 6), (3, 2, 3, 3), 1),
    ],
)
def test_conv2d_matches_numpy(nb, assert_close, dtype, x_shape, w_shape, pad):
    rng = np.random.default_rng(1)
    x, w, b = rand(rng, x_shape, dtype), rand(rng, w_shape, dtype), rand(rng, w_shape[0], dtype)
    y_ref, cache_ref = ops.conv2d_forward(x, w, b, pad=pad)
    y, cache = nb.conv2d_forward(nb.asarray(x), nb.asarray(w), nb.asarray(b), pad=pad)
    assert_close(nb.asnumpy(y), y_ref)

    dy = rand(rng, y_ref.shape, dtype)
    dx_ref, dw_ref, db_ref = ops.conv2d_backward(dy, cache_ref)
    dx, dw, db = nb.conv2d_backward(nb.asarray(dy), cache)
    assert_close(nb.asnumpy(dx), dx_ref)
    assert_close(nb.asnumpy(dw), dw_ref)
    assert_close(nb.asnumpy(db), db_ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_matches_numpy(nb, assert_close, dtype):
    rng = np.random.default_rng(2)
    x = rand(rng, (2, 3, 4, 5), dtype)
    y_ref, cache_ref = ops.relu_forward(x)
    y, cache = nb.relu_forward(nb.asarray(x))
    assert_close(nb.asnumpy(y), y_ref)
    dy = rand(rng, x.shape, dtype)
    assert_close(nb.asnumpy(nb.relu_backward(nb.asarray(dy), cache)),
                 ops.relu_backward(dy, cache_ref))


@pytest.mark.parametrize("dtype", DTYPES)
def test_maxpool2d_matches_numpy(nb, assert_close, dtype):
    rng = np.random.default_rng(3)
    x = rand(rng, (2, 3, 4, 6), dtype)
    y_ref, (argmax_ref, shape_ref) = ops.maxpool2d_forward(x)
    y, (argmax, shape) = nb.maxpool2d_forward(nb.asarray(x))
    assert_close(nb.asnumpy(y), y_ref)
    assert argmax.dtype == np.int32
    np.testing.assert_array_equal(nb.asnumpy(argmax), argmax_ref)
    assert tuple(shape) == tuple(shape_ref)
    dy = rand(rng, y_ref.shape, dtype)
    assert_close(nb.asnumpy(nb.maxpool2d_backward(nb.asarray(dy), (argmax, shape))),
                 ops.maxpool2d_backward(dy, (argmax_ref, shape_ref)))


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
def test_upconv2d_matches_numpy(nb, assert_close, dtype):
    rng = np.random.default_rng(4)
    x, w, b = rand(rng, (2, 3, 3, 2), dtype), rand(rng, (3, 2, 2, 2), dtype), rand(rng, 2, dtype)
    y_ref, cache_ref = ops.upconv2d_forward(x, w, b)
    y, cache = nb.upconv2d_forward(nb.asarray(x), nb.asarray(w), nb.asarray(b))
    assert_close(nb.asnumpy(y), y_ref)
    dy = rand(rng, y_ref.shape, dtype)
    for got, want in zip(nb.upconv2d_backward(nb.asarray(dy), cache),
                         ops.upconv2d_backward(dy, cache_ref)):
        assert_close(nb.asnumpy(got), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("skip_hw, up_hw", [((8, 6), (4, 4)), ((4, 4), (4, 4))])
def test_crop_and_concat_matches_numpy(nb, assert_close, dtype, skip_hw, up_hw):
    rng = np.random.default_rng(5)
    skip, up = rand(rng, (2, 2, *skip_hw), dtype), rand(rng, (2, 3, *up_hw), dtype)
    y_ref, cache_ref = ops.crop_and_concat_forward(skip, up)
    y, cache = nb.crop_and_concat_forward(nb.asarray(skip), nb.asarray(up))
    assert_close(nb.asnumpy(y), y_ref)
    dy = rand(rng, y_ref.shape, dtype)
    dskip_ref, dup_ref = ops.crop_and_concat_backward(dy, cache_ref)
    dskip, dup = nb.crop_and_concat_backward(nb.asarray(dy), cache)
    assert_close(nb.asnumpy(dskip), dskip_ref)
    assert_close(nb.asnumpy(dup), dup_ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_cross_entropy_matches_numpy(nb, assert_close, dtype, weighted):
    rng = np.random.default_rng(6)
    logits = rand(rng, (2, 3, 4, 5), dtype) * 3
    target = rng.integers(0, 3, size=(2, 4, 5))
    weight = (rng.random((2, 4, 5)) + 0.1).astype(dtype) if weighted else None
    loss_ref, dlogits_ref = ops.softmax_cross_entropy(logits, target, weight)
    loss, dlogits = nb.softmax_cross_entropy(
        nb.asarray(logits), nb.asarray(target), None if weight is None else nb.asarray(weight))
    assert isinstance(loss, np.generic) and loss.dtype == dtype  # a host scalar
    assert_close(loss, loss_ref)
    assert_close(nb.asnumpy(dlogits), dlogits_ref)


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
