"""The CuPy backend on a real GPU: what the contract's parity test
(tests/kernels/test_backend_contract.py, which runs on this GPU too) does not cover.

Skips (with the reason) when cupy is missing or no CUDA device answers. Each op runs
forward and backward on device arrays and is compared on the host with minimal_unet.ops;
then a whole U-Net's loss and gradients with backend="cupy" against backend="numpy".
The last tests run benchmarks/gpu.py's CPU-side paths (dry run, the no-GPU message).
Tolerances: relative to the largest reference value, float64 1e-11, float32 1e-4 (cuBLAS
and the reference sum in different orders; TF32 is not enabled by CuPy by default).
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minimal_unet import ops, optim
from minimal_unet.backends import BackendUnavailableError, cupy_backend

try:
    cupy_backend.ensure_available()
    GPU_MISSING = None
except BackendUnavailableError as error:
    GPU_MISSING = str(error)

needs_gpu = pytest.mark.skipif(GPU_MISSING is not None, reason=f"no GPU: {GPU_MISSING}")
REPO = Path(__file__).resolve().parents[2]

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-4, np.float64: 1e-11}


def assert_close(device_array, expected, dtype):
    actual = cupy_backend.asnumpy(device_array)
    assert actual.dtype == dtype and actual.shape == expected.shape
    assert np.isfinite(actual).all()
    scale = max(float(np.max(np.abs(expected))), 1e-30)
    error = float(np.max(np.abs(actual.astype(np.float64) - expected))) / scale
    assert error < TOL[dtype], f"relative error {error:.3g}"


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def dev(a):
    return cupy_backend.asarray(a)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_is_right_and_deterministic(dtype):
    rng = np.random.default_rng(3)
    logits = rand(rng, (2, 3, 100, 90), dtype) * 4
    logits[0, :, 0, :3] = [[1e4, -1e4, 0]] * 3
    target = rng.integers(0, 3, size=(2, 100, 90))
    weight = rng.uniform(0.1, 3, size=(2, 100, 90)).astype(dtype)
    loss, dlogits = cupy_backend.softmax_cross_entropy(dev(logits), dev(target), dev(weight))
    loss_ref, dlogits_ref = ops.softmax_cross_entropy(logits, target, weight)
    assert loss.shape == () and loss.dtype == dtype
    assert_close(loss, np.asarray(loss_ref), dtype)
    assert_close(dlogits, dlogits_ref, dtype)
    again, _ = cupy_backend.softmax_cross_entropy(dev(logits), dev(target), dev(weight))
    assert cupy_backend.asnumpy(again).tobytes() == cupy_backend.asnumpy(loss).tobytes()


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_and_sgd(dtype):
    rng = np.random.default_rng(4)
    x, p = rand(rng, (2, 16, 30, 30), dtype), 0.5
    y, mask = cupy_backend.dropout_forward(dev(x), p, np.random.default_rng(7))
    seed = np.random.default_rng(7).integers(0, 2**64, dtype=np.uint64)
    keep = cupy_backend.dropout_keep_mask(seed, x.shape, p)
    np.testing.assert_array_equal(cupy_backend.asnumpy(y), np.where(keep, x * dtype(2), 0))
    param, grad, velocity = (rand(rng, (64, 32, 3, 3), dtype) for _ in range(3))
    param_d, velocity_d = dev(param), dev(velocity)
    cupy_backend.sgd_momentum_update(param_d, dev(grad), velocity_d, 0.01, 0.99)
    optim.sgd_momentum_update(param, grad, velocity, 0.01, 0.99)
    assert_close(param_d, param, dtype)
    assert_close(velocity_d, velocity, dtype)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_whole_unet_gradients_match_numpy(dtype):
    from minimal_unet.model import UNet, UNetConfig

    config = UNetConfig(in_channels=1, n_classes=2, depth=3, base_channels=8)
    x = rand(np.random.default_rng(5), (1, 1, 124, 124), dtype)  # 124 -> 36 x 36 logits
    target = np.random.default_rng(6).integers(0, 2, size=(1, 36, 36))
    net_ref = UNet(config, seed=3, dtype=dtype, backend="numpy")
    loss_ref, grads_ref = net_ref.loss_and_grads(x, target)
    net = UNet(config, seed=3, dtype=dtype, backend="cupy")
    loss, grads = net.loss_and_grads(dev(x), dev(target))
    assert_close(loss, np.asarray(loss_ref), dtype)
    assert list(grads) == list(grads_ref)
    for name, grad_ref in grads_ref.items():
        assert_close(grads[name], grad_ref, dtype)


# ---------------------------------------------------------------- benchmarks/gpu.py, no GPU
def _benchmark(*args):
    command = [sys.executable, str(REPO / "benchmarks" / "gpu.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO)


def test_benchmark_dry_run_plans_the_paper_step():
    result = _benchmark("--dry-run")
    assert result.returncode == 0, result.stderr
    assert "902.6 GFLOP" in result.stdout  # peers.md: the paper step is 902.6 GFLOP
    assert _benchmark("--dry-run", "--repeats", "0").returncode == 2  # argparse error


@pytest.mark.skipif(GPU_MISSING is None, reason="a GPU is present")
def test_benchmark_without_gpu_says_so():
    result = _benchmark("--skip-tests")
    assert result.returncode == 1
    assert "needs a CUDA GPU" in result.stderr
