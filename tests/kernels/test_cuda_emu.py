"""The CUDA C kernels in the emulator: what the contract's parity test does not cover.

(Parity of every op with NumPy on every backend: tests/kernels/test_backend_contract.py.)

The CuPy backend's own launchers are run here, unchanged, with two substitutions made by
the `backend` fixture: its array module `cp` is NumPy and its kernel loader is the
emulator's (g++ + kernels/emu/cuda_emu.h instead of NVRTC + a GPU). So this file checks the
kernels *and* the launch code (grids, argument order, shapes, scalar types: the emulator
rejects an argument whose type does not match the kernel's parameter) without a GPU.
Oracles: minimal_unet.ops (the NumPy reference), minimal_unet.optim, and for dropout the
NumPy twin of the hash generator. float64 within 1e-12, float32 within 1e-5 (relative).
"""

import shutil

import numpy as np
import pytest

from minimal_unet import ops
from minimal_unet.backends import cupy_backend, emu

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    emu.compile_all()  # all files, two g++ at a time (cached by source hash afterwards)


@pytest.fixture
def backend(monkeypatch):
    """cupy_backend with NumPy arrays and emulated kernels."""
    monkeypatch.setattr(cupy_backend, "cp", np)
    monkeypatch.setattr(cupy_backend, "_get_kernel", emu.get_kernel)
    return cupy_backend


def assert_close(actual, expected, dtype):
    assert actual.dtype == expected.dtype == dtype
    assert actual.shape == expected.shape
    scale = max(float(np.max(np.abs(expected))), 1e-30)
    error = float(np.max(np.abs(actual.astype(np.float64) - expected))) / scale
    assert error < TOL[dtype], f"relative error {error:.3g}"


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- conv2d
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, k, pad", [((1, 2, 19, 18), 3, 1), ((2, 3, 9, 20), 5, 0),
                                           ((1, 1, 4, 4), 1, 0)])
def test_direct_conv_with_shared_memory_matches_numpy(backend, dtype, shape, k, pad):
    # 19 x 18 outputs span 2 x 2 tiles of 16 x 16: edge tiles, padding, barriers per channel.
    rng = np.random.default_rng(2)
    C = shape[1]
    x, w, b = rand(rng, shape, dtype), rand(rng, (3, C, k, k), dtype), rand(rng, (3,), dtype)
    y, _ = backend.conv2d_forward_direct(x, w, b, pad=pad)
    y_ref, _ = ops.conv2d_forward(x, w, b, pad=pad)
    assert_close(y, y_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_without_dx(backend, dtype):
    # need_dx=False skips dcols and col2im: dx None, dw and db as with dx
    from minimal_unet.backends import contract

    contract.check_parity(backend, "conv2d", dtype, size="tiny")


def test_conv2d_bad_inputs(backend):
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(TypeError, match="float32 or float64"):
        backend.conv2d_forward(x.astype(np.int64), np.zeros((1, 2, 3, 3)), np.zeros(1))
    with pytest.raises(ValueError, match="C-contiguous"):
        backend.conv2d_forward(x.transpose(0, 1, 3, 2), np.zeros((1, 2, 3, 3)), np.zeros(1))
    with pytest.raises(ValueError, match=r"w \(F, 2, kH, kW\)"):
        backend.conv2d_forward(x, np.zeros((1, 3, 3, 3)), np.zeros(1))
    with pytest.raises(ValueError, match="direct"):
        backend.conv2d_forward_direct(np.zeros((1, 1, 9, 9)), np.zeros((1, 1, 7, 7)), np.zeros(1))


# ---------------------------------------------------------------- relu, maxpool
def test_maxpool_tie_goes_to_first_in_window_order(backend):
    x = np.array([[[[1.0, 5.0], [5.0, 5.0]]]])  # TR, BL, BR tie: TR (index 1) must win
    y, (argmax, _) = backend.maxpool2d_forward(x)
    assert argmax.dtype == np.uint8 and argmax[0, 0, 0, 0] == 1
    dx = backend.maxpool2d_backward(np.array([[[[7.0]]]]), (argmax, x.shape))
    np.testing.assert_array_equal(dx, [[[[0.0, 7.0], [0.0, 0.0]]]])
    with pytest.raises(ValueError, match="even"):
        backend.maxpool2d_forward(np.zeros((1, 1, 3, 4)))


# ---------------------------------------------------------------- up-convolution, crop+concat
def test_crop_and_concat_bad_sizes(backend):
    up = np.zeros((1, 2, 4, 4))
    with pytest.raises(ValueError, match="even size difference"):
        backend.crop_and_concat_forward(np.zeros((1, 3, 7, 8)), up)  # odd difference
    with pytest.raises(ValueError, match="at least as large"):
        backend.crop_and_concat_forward(np.zeros((1, 3, 2, 2)), up)  # smaller skip


# ---------------------------------------------------------------- loss
def test_softmax_cross_entropy_bad_target_is_a_value_error(backend):
    logits = np.zeros((1, 2, 2, 2))
    with pytest.raises(ValueError, match=r"got value 2 at index \(0, 1, 0\)"):
        backend.softmax_cross_entropy(logits, np.array([[[0, 1], [2, 0]]]))
    with pytest.raises(TypeError, match="integer"):
        backend.softmax_cross_entropy(logits, np.zeros((1, 2, 2)))
    # The kernel itself still writes NaN for a bad label (a second line of defence).
    pixels = emu.get_kernel("softmax_ce", "softmax_ce_pixels", np.float64)
    loss, dlogits = np.zeros(4), np.zeros((1, 2, 4))
    pixels((1,), (256,), (logits, np.array([0, 1, 2, 0], np.int32), np.zeros(1), np.int32(0),
                          loss, dlogits, np.int32(1), np.int32(2), np.int32(4)))
    assert np.isnan(loss[2]) and np.isnan(dlogits[0, :, 2]).all()
    assert np.isfinite(loss[[0, 1, 3]]).all()


# ---------------------------------------------------------------- dropout, sgd
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_matches_its_numpy_twin(backend, dtype):
    rng = np.random.default_rng(8)
    x, p = rand(rng, (2, 3, 10, 12), dtype), 0.3
    y, mask = backend.dropout_forward(x, p, np.random.default_rng(99))
    seed = np.random.default_rng(99).integers(0, 2**64, dtype=np.uint64)  # the same draw
    keep = cupy_backend.dropout_keep_mask(seed, x.shape, p)
    scale = dtype(1 / (1 - p))
    np.testing.assert_array_equal(y, np.where(keep, x * scale, 0).astype(dtype))
    dy = rand(rng, x.shape, dtype)
    np.testing.assert_array_equal(backend.dropout_backward(dy, mask),
                                  np.where(keep, dy * scale, 0).astype(dtype))
    y_eval, cache = backend.dropout_forward(x, p, None, train=False)
    np.testing.assert_array_equal(y_eval, x)
    np.testing.assert_array_equal(backend.dropout_backward(dy, cache), dy)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        backend.dropout_forward(x, 1.0, rng)


def test_dropout_hash_keeps_the_right_fraction():
    # 200 000 draws: the kept fraction is within 5 standard deviations of 1 - p.
    for p in (0.1, 0.5, 0.9):
        keep = cupy_backend.dropout_keep_mask(np.uint64(12345), (200_000,), p)
        assert abs(keep.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / 200_000)
    a = cupy_backend.dropout_keep_mask(np.uint64(1), (1000,), 0.5)
    b = cupy_backend.dropout_keep_mask(np.uint64(2), (1000,), 0.5)
    assert 0.4 < (a == b).mean() < 0.6  # different seeds, unrelated masks


def test_dropout_mask_is_the_numba_kernels_mask():
    # Two twins written separately (kernels/numba/dropout.py): one seed, one mask.
    from minimal_unet.backends.sources import load_numba_module

    numba_dropout = load_numba_module("dropout")
    seed = np.uint64(0xDEADBEEF12345678)
    keep = cupy_backend.dropout_keep_mask(seed, (5000,), 0.3)
    mask = numba_dropout.dropout_mask_numpy(seed, 5000, 0.3, np.float64)
    np.testing.assert_array_equal(mask > 0, keep)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_momentum_rejects_mixed_dtypes(backend, dtype):
    rng = np.random.default_rng(9)
    param, grad, velocity = (rand(rng, (3, 4, 5), dtype) for _ in range(3))
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises(TypeError, match="like param"):
        backend.sgd_momentum_update(param, grad.astype(other), velocity, 0.01, 0.9)


# ---------------------------------------------------------------- the emulator itself
def test_emulator_rejects_arguments_that_do_not_match_the_kernel():
    relu = emu.get_kernel("relu", "relu_forward", np.float64)
    x = np.ones(4)
    with pytest.raises(TypeError, match="argument 2 .int.: expected a np.int32"):
        relu((1,), (4,), (x, x.copy(), 4))  # a Python int: its width is unknown
    with pytest.raises(TypeError, match="float64 ndarray, got float32"):
        relu((1,), (4,), (x.astype(np.float32), x, np.int32(4)))
    with pytest.raises(TypeError, match="expected 3 arguments"):
        relu((1,), (4,), (x, x))


def test_emulator_reports_compile_errors():
    broken = emu.translation_unit("relu", np.float64).replace("y[i] =", "y[i] = = ")
    with pytest.raises(emu.EmuCompileError, match="relu.cu"):
        emu.compile_library("relu", np.float64, source_text=broken)


def test_emulator_shared_memory_barriers_and_atomics():
    # Each block reverses its 64 values through shared memory (wrong without the barrier)
    # and every thread adds 1 to a counter with atomicAdd (wrong without atomicity).
    text = """extern "C" __global__ void reverse(const double* x, double* y, int* count,
                                    double* total)
{
    __shared__ double tile[64];
    int t = threadIdx.x, base = blockIdx.x * 64;
    tile[t] = x[base + t];
    __syncthreads();
    y[base + t] = tile[63 - t];
    atomicAdd(count, 1);
    atomicAdd(total, 0.5);
}
"""
    reverse = emu.EmuModule("reverse_test", np.float64, kernel_text=text).get_function("reverse")
    x, y = np.arange(192.0), np.zeros(192)
    count, total = np.zeros(1, np.int32), np.zeros(1)
    reverse((3,), (64,), (x, y, count, total))
    np.testing.assert_array_equal(y, np.concatenate([x[63::-1], x[127:63:-1], x[191:127:-1]]))
    assert count[0] == 192 and total[0] == 96.0


# ---------------------------------------------------------------- a whole U-Net
@pytest.mark.parametrize("dtype", DTYPES)
def test_whole_unet_gradients_through_emulated_kernels(backend, monkeypatch, dtype):
    from minimal_unet.model import UNet, UNetConfig

    monkeypatch.setattr(cupy_backend, "ensure_available", lambda: None)
    config = UNetConfig(in_channels=1, n_classes=2, depth=2, base_channels=2)
    x = rand(np.random.default_rng(10), (1, 1, 44, 44), dtype)  # 44 -> 4x4 logits
    target = np.random.default_rng(11).integers(0, 2, size=(1, 4, 4))
    results = []
    for name in ("numpy", "cupy"):
        net = UNet(config, seed=3, dtype=dtype, backend=name)
        results.append(net.loss_and_grads(x, target))
    (loss_ref, grads_ref), (loss, grads) = results
    assert_close(np.asarray(loss), np.asarray(loss_ref), dtype)
    assert list(grads) == list(grads_ref)
    for name in grads_ref:
        assert_close(grads[name], grads_ref[name], dtype)


# ---------------------------------------------------------------- NaN (as PyTorch)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_semantics_of_relu_and_maxpool(backend, dtype):
    # ReLU(NaN) = NaN; a pooling window holding a NaN gives NaN and routes the gradient to
    # its first NaN in window order TL, TR, BL, BR; otherwise the first maximum wins ties.
    nan = np.nan
    x = np.array([[[[nan, 1.0, 1.0, 5.0, 1.0, 2.0, 4.0, 4.0],
                    [2.0, 3.0, nan, nan, 3.0, nan, 4.0, 4.0]]]], dtype=dtype)
    y, (argmax, shape) = backend.maxpool2d_forward(x)
    np.testing.assert_array_equal(y, np.array([[[[nan, nan, nan, 4.0]]]], dtype=dtype))
    np.testing.assert_array_equal(argmax, [[[[0, 2, 3, 0]]]])
    dx = backend.maxpool2d_backward(np.full((1, 1, 1, 4), 7.0, dtype=dtype), (argmax, shape))
    expected = np.zeros_like(x)
    expected[0, 0, 0, 0] = expected[0, 0, 1, 2] = expected[0, 0, 1, 5] = expected[0, 0, 0, 6] = 7
    np.testing.assert_array_equal(dx, expected)
    r, _ = backend.relu_forward(np.array([nan, -1.0, 2.0, -0.0], dtype=dtype))
    np.testing.assert_array_equal(r, np.array([nan, 0.0, 2.0, 0.0], dtype=dtype))


# ---------------------------------------------------------------- shapes that fill blocks
@pytest.mark.parametrize("dtype", DTYPES)
def test_multi_block_launches_and_long_reductions(backend, dtype):
    # 2*3*21*19 = 2394 elements: 10 blocks of 256, the last one partial (odd sizes).
    # bias_grad: N*S = 2*19*17 = 646 terms per 256-thread block, so every thread adds
    # 2-3 terms and the whole tree is used; 19 x 17 outputs span 2 x 2 direct-conv tiles.
    rng = np.random.default_rng(12)
    x = rand(rng, (2, 3, 21, 19), dtype)
    w, b = rand(rng, (5, 3, 3, 3), dtype), rand(rng, (5,), dtype)
    y, cache = backend.conv2d_forward(x, w, b, pad=0)
    y_ref, cache_ref = ops.conv2d_forward(x, w, b, pad=0)
    assert_close(y, y_ref, dtype)
    assert_close(backend.conv2d_forward_direct(x, w, b, pad=0)[0], y_ref, dtype)
    dy = rand(rng, y.shape, dtype)
    for grad, grad_ref in zip(backend.conv2d_backward(dy, cache),
                              ops.conv2d_backward(dy, cache_ref), strict=True):
        assert_close(grad, grad_ref, dtype)
    r, r_cache = backend.relu_forward(x)
    assert_close(r, ops.relu_forward(x)[0], dtype)
    assert_close(backend.relu_backward(x, r_cache), ops.relu_backward(x, (r,)), dtype)
    p, _ = backend.maxpool2d_forward(x[:, :, :20, :18].copy())
    assert_close(p, ops.maxpool2d_forward(x[:, :, :20, :18].copy())[0], dtype)
