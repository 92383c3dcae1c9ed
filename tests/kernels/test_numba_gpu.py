"""The numba backend on a real GPU: what the contract's parity test
(tests/kernels/test_backend_contract.py, which runs on this GPU too) does not cover.

The same comparisons as tests/cudasim (which run the same kernels in Numba's simulator on
tiny shapes), here with the GPU launch shapes: one thread per element, 16x16 matmul tiles,
256-thread reductions. Skips, with the reason, when there is no CUDA GPU
(numba.cuda.is_available() is False) or when the simulator is on (NUMBA_ENABLE_CUDASIM=1:
then tests/cudasim is the place). numba is imported lazily, inside the fixture, because this
file runs in the main pytest process.
Tolerances: relative to max(1, the largest reference value), float64 1e-12, float32 1e-5.
"""

import numpy as np
import pytest

from minimal_unet import ops, optim

DTYPES = [np.float32, np.float64]
pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def nb():
    """The numba backend on a real GPU, or a skip saying why not."""
    numba = pytest.importorskip("numba", reason="numba (the gpu extra) is not installed")
    if numba.config.ENABLE_CUDASIM:
        pytest.skip("NUMBA_ENABLE_CUDASIM=1: the simulator is on; these tests need a real GPU "
                    "(tests/cudasim covers the simulator)")
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("no CUDA GPU: numba.cuda.is_available() is False")
    from minimal_unet.backends import get_backend

    return get_backend("numba")


def assert_close(actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert np.isfinite(actual).all()
    rtol = 1e-12 if expected.dtype == np.float64 else 1e-5
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy(nb, dtype):
    rng = np.random.default_rng(4)
    logits = rand(rng, (2, 3, 70, 66), dtype) * 4  # 9240 pixels: 37 partial sums
    target = rng.integers(0, 3, size=(2, 70, 66)).astype(np.int32)
    weight = (rng.random((2, 70, 66)) * 3).astype(dtype)
    loss_ref, d_ref = ops.softmax_cross_entropy(logits, target, weight)
    loss, d = nb.softmax_cross_entropy(nb.asarray(logits), nb.asarray(target),
                                       nb.asarray(weight))
    assert isinstance(loss, np.generic) and loss.dtype == dtype
    assert_close(loss, loss_ref)
    assert_close(nb.asnumpy(d), d_ref)
    again, _ = nb.softmax_cross_entropy(nb.asarray(logits), nb.asarray(target),
                                        nb.asarray(weight))
    assert loss.tobytes() == again.tobytes()  # deterministic reduction
    with pytest.raises(ValueError, match="target: expected class indices"):
        nb.softmax_cross_entropy(nb.asarray(logits), nb.asarray(target + 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_equals_its_numpy_twin(nb, dtype):
    from minimal_unet.backends.sources import load_numba_module

    dropout = load_numba_module("dropout")
    rng = np.random.default_rng(5)
    x = rand(rng, (2, 16, 30, 30), dtype)
    y, (keep, scale) = nb.dropout_forward(nb.asarray(x), 0.5, np.random.default_rng(7))
    seed = np.random.default_rng(7).integers(0, 2**64, dtype=np.uint64)
    y_twin, keep_twin = dropout.dropout_forward_numpy(x, seed, 0.5)
    np.testing.assert_array_equal(nb.asnumpy(keep), keep_twin)
    np.testing.assert_array_equal(nb.asnumpy(y), y_twin)
    dy = rand(rng, x.shape, dtype)
    dx_twin = np.multiply(dy, keep_twin)
    dx_twin *= scale
    np.testing.assert_array_equal(nb.asnumpy(nb.dropout_backward(nb.asarray(dy), (keep, scale))),
                                  dx_twin)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tiled_matmul_reductions_and_helpers(nb, dtype):
    from numba import cuda

    from minimal_unet.backends.sources import load_numba_module

    rng = np.random.default_rng(6)
    a, b = rand(rng, (70, 131), dtype), rand(rng, (131, 45), dtype)  # ragged for 16x16 tiles
    c = cuda.device_array((70, 45), dtype=dtype)
    matmul = load_numba_module("matmul").make_matmul_kernel(np.dtype(dtype), 16)
    matmul[20, (16, 16)](cuda.to_device(a), cuda.to_device(b), c, np.int32(0), np.int32(0),
                         np.int32(0))
    assert_close(c.copy_to_host(), a @ b)
    matmul[3, (16, 16)](cuda.to_device(a.T.copy()), cuda.to_device(b), c, np.int32(1),
                        np.int32(0), np.int32(1))  # c += a @ b, 3 blocks loop over 15 tiles
    assert_close(c.copy_to_host(), 2 * (a @ b))

    dy = rand(rng, (3, 5, 1000), dtype)
    db = cuda.device_array(5, dtype=dtype)
    load_numba_module("bias").make_bias_grad_kernel(np.dtype(dtype), 256)[5, 256](
        cuda.to_device(dy), db)
    assert_close(db.copy_to_host(), dy.sum(axis=(0, 2), dtype=np.float64).astype(dtype))

    p, g, v = rand(rng, (64, 33), dtype), rand(rng, (64, 33), dtype), rand(rng, (64, 33), dtype)
    p_dev, g_dev, v_dev = nb.asarray(p), nb.asarray(g), nb.asarray(v)
    optim.sgd_momentum_update(p, g, v, 0.003, 0.99)
    nb.sgd_momentum_update(p_dev, g_dev, v_dev, 0.003, 0.99)
    assert_close(nb.asnumpy(v_dev), v)
    assert_close(nb.asnumpy(p_dev), p)
    assert_close(nb.asnumpy(nb.add(p_dev, v_dev)), p + v)
    assert not nb.asnumpy(nb.zeros_like(p_dev)).any()


def test_unet_step_equals_numpy(nb):
    from minimal_unet import sizes
    from minimal_unet.model import UNet, UNetConfig
    from minimal_unet.optim import SGD

    config = UNetConfig(in_channels=1, n_classes=2, depth=2, base_channels=8)
    size = sizes.nearest_legal_input_size(config, 60)
    out_h, out_w = sizes.output_size(config, (size, size))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, size, size))
    target = rng.integers(0, 2, size=(1, out_h, out_w))
    weight = rng.random((1, out_h, out_w)) + 0.5
    ref = UNet(config, seed=3, dtype=np.float64, backend="numpy")
    net = UNet(config, seed=3, dtype=np.float64, backend="numba")
    loss_ref, grads_ref = ref.loss_and_grads(x, target, weight)
    loss, grads = net.loss_and_grads(nb.asarray(x), nb.asarray(target), nb.asarray(weight))
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-10)
    sgd_ref = SGD(ref.params, lr=0.01, momentum=0.99, backend="numpy")
    sgd = SGD(net.params, lr=0.01, momentum=0.99, backend="numba")
    sgd_ref.step(grads_ref)
    sgd.step(grads)
    for name in ref.params:
        expected = grads_ref[name]
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(nb.asnumpy(grads[name]), expected, rtol=1e-10,
                                   atol=1e-10 * scale)
        np.testing.assert_allclose(nb.asnumpy(net.params[name]), ref.params[name], rtol=1e-10,
                                   atol=1e-10)
