"""One backend contract (minimal_unet.backends.contract), checked on every backend.

Parity with the NumPy reference over (backend, op, dtype) at shapes that fill several
blocks, with odd sizes and long reductions: "cupy-emu" runs the CuPy backend's launchers
with NumPy arrays and the CUDA C kernels in the emulator (every check of cuda_emu.h on);
"cupy" and "numba" need a real GPU and skip without one. The Numba simulator runs the same
checks in its own process: tests/cudasim/test_contract_sim.py.
"""

import importlib
import shutil

import numpy as np
import pytest

from minimal_unet import ops as ref
from minimal_unet.backends import BackendUnavailableError, contract, cupy_backend, emu

DTYPES = [np.float32, np.float64]
BACKENDS = ["cupy-emu", "cupy", "numba"]


@pytest.fixture
def backend(request, monkeypatch):
    name = request.param
    if name == "cupy-emu":
        if shutil.which("g++") is None:
            pytest.skip("the emulator needs g++")
        monkeypatch.setattr(cupy_backend, "cp", np)
        monkeypatch.setattr(cupy_backend, "_get_kernel", emu.get_kernel)
        return cupy_backend
    if name == "numba":
        numba = pytest.importorskip("numba", reason="numba (the gpu extra) is not installed")
        if numba.config.ENABLE_CUDASIM:
            pytest.skip("the simulator is on: tests/cudasim covers it")
    from minimal_unet.backends import get_backend

    try:
        return get_backend(name)
    except BackendUnavailableError as error:
        pytest.skip(f"no GPU backend {name}: {error}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", contract.PARITY_OPS)
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_parity_with_numpy(backend, op, dtype):
    contract.check_parity(backend, op, dtype, size="blocks")


@pytest.mark.parametrize("module", ["numpy_backend", "cupy_backend", "numba_backend"])
def test_every_backend_exports_the_contract_names(module):
    # The modules import without a GPU (their packages are optional until ensure_available).
    backend = importlib.import_module(f"minimal_unet.backends.{module}")
    assert contract.missing_names(backend) == []


def test_numpy_reference_caches_have_the_documented_layouts():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 4, 4))
    layouts = {
        "conv2d": ref.conv2d_forward(x, np.ones((3, 2, 3, 3)), np.ones(3), pad=1)[1],
        "relu": ref.relu_forward(x)[1],
        "maxpool2d": ref.maxpool2d_forward(x)[1],
        "upconv2d": ref.upconv2d_forward(x, np.ones((2, 3, 2, 2)), np.ones(3))[1],
        "crop_and_concat": ref.crop_and_concat_forward(np.ones((1, 1, 6, 6)), x)[1],
        "dropout": ref.dropout_forward(x, 0.5, rng)[1],
    }
    assert set(layouts) == set(contract.CACHE_LAYOUTS)
    d = {op: contract.describe(cache, np.asarray) for op, cache in layouts.items()}
    assert d["conv2d"] == (("array", "float64", (1, 2, 4, 4)), ("array", "float64", (3, 2, 3, 3)),
                           ("array", "float64", (3,)), ("int", 1))
    assert d["relu"] == (("array", "float64", (1, 2, 4, 4)),)
    assert d["maxpool2d"] == (("array", "uint8", (1, 2, 2, 2)), ("shape", (1, 2, 4, 4)))
    assert d["upconv2d"][2] == ("array", "float64", (3,))
    assert d["crop_and_concat"] == (("shape", (1, 1, 6, 6)), ("int", 1), ("int", 1))
    assert d["dropout"] == (("array", "bool", (1, 2, 4, 4)), ("float", 2.0))


def test_errors_share_the_reference_wording(monkeypatch):
    monkeypatch.setattr(cupy_backend, "cp", np)
    monkeypatch.setattr(cupy_backend, "_get_kernel", emu.get_kernel)
    logits, target = np.zeros((1, 2, 2, 2)), np.array([[[0, 1], [2, 0]]])
    for backend in (ref, cupy_backend):
        with pytest.raises(ValueError) as error:
            backend.softmax_cross_entropy(logits, target)
        assert str(error.value) == contract.message("bad_target", K=2, value=2, where=(0, 1, 0))
        with pytest.raises(ValueError) as error:
            backend.maxpool2d_forward(np.zeros((1, 1, 3, 4)))
        assert str(error.value) == contract.message("odd_pool", H=3, W=4, shape=(1, 1, 3, 4))


def test_the_parity_check_fails_on_a_wrong_backend(monkeypatch):
    # The oracle must be able to fail: a backend whose ReLU drops NaN, or whose cache has
    # another layout, is caught.
    monkeypatch.setattr(cupy_backend, "cp", np)
    monkeypatch.setattr(cupy_backend, "_get_kernel", emu.get_kernel)
    monkeypatch.setattr(cupy_backend, "relu_forward",
                        lambda x: (np.maximum(np.nan_to_num(x), 0), (np.maximum(x, 0),)))
    with pytest.raises(AssertionError, match="relu forward"):
        contract.check_parity(cupy_backend, "relu", np.float64)
    monkeypatch.setattr(cupy_backend, "relu_forward", lambda x: (np.maximum(x, 0),) * 2)
    with pytest.raises(AssertionError, match="relu cache: expected layout"):
        contract.check_parity(cupy_backend, "relu", np.float64)
