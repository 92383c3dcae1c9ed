"""get_backend proves a GPU backend before returning it, and fails with one line that
names what is missing and which extra installs it.

No GPU here: the CuPy module is replaced by a fake that plays each failure a real machine
shows (no driver, an old driver, a GPU too old for CUDA 13, cuBLAS missing, NVRTC broken).
"""

from types import SimpleNamespace

import numpy as np
import pytest

from minimal_unet.backends import BackendUnavailableError, cupy_backend, get_backend


def fake_cupy(count=1, runtime=13000, driver=13000, cc="90", matmul_error=None,
              kernel_error=None):
    def get_count():
        if isinstance(count, Exception):
            raise count
        return count

    class Array(np.ndarray):
        def __matmul__(self, other):
            if matmul_error is not None:
                raise matmul_error
            return np.asarray(self) @ np.asarray(other)

    def get_kernel(*_):
        if kernel_error is not None:
            raise kernel_error
        from minimal_unet.backends import emu

        return emu.get_kernel(*_)

    runtime_api = SimpleNamespace(getDeviceCount=get_count, runtimeGetVersion=lambda: runtime,
                                  driverGetVersion=lambda: driver)
    return SimpleNamespace(
        cuda=SimpleNamespace(runtime=runtime_api,
                             Device=lambda i: SimpleNamespace(compute_capability=cc)),
        ones=lambda shape, dtype: np.ones(shape, dtype).view(Array),
        float32=np.float32, asarray=np.asarray, empty_like=np.empty_like,
        ndarray=np.ndarray, _get_kernel=get_kernel)


@pytest.fixture
def use(monkeypatch):
    def install(**kwargs):
        fake = fake_cupy(**kwargs)
        monkeypatch.setattr(cupy_backend, "cp", fake)
        monkeypatch.setattr(cupy_backend, "_get_kernel", fake._get_kernel)
        cupy_backend._prove.cache_clear()

    yield install
    cupy_backend._prove.cache_clear()


@pytest.mark.parametrize("kwargs, expected", [
    (dict(count=RuntimeError("cudaErrorInsufficientDriver:\n CUDA driver is older")),
     r"needs a CUDA GPU and its driver: cudaErrorInsufficientDriver: CUDA driver is older"),
    (dict(count=0), r"needs a CUDA GPU: none was found"),
    (dict(driver=12040), r"the driver supports CUDA 12.4 but this cupy is built for CUDA 13: "
                         r"update the driver, or pip install 'minimal-unet\[gpu\]'"),
    (dict(cc="61"), r"CUDA 13 needs compute capability >= 7.5, this GPU has 6.1: "
                    r"pip install 'minimal-unet\[cuda12\]'"),
    (dict(matmul_error=OSError("libcublasLt.so.13: cannot open shared object file")),
     r"cuBLAS does not work \(libcublasLt.so.13: cannot open shared object file\): the CUDA "
     r"libraries come with pip install 'minimal-unet\[gpu\]'"),
    (dict(kernel_error=RuntimeError("nvrtc: error: failed to load builtins")),
     r"our kernels do not compile or run \(nvrtc: error: failed to load builtins\): NVRTC "
     r"comes with pip install 'minimal-unet\[gpu\]'"),
])
def test_each_missing_piece_is_one_line_naming_the_extra(use, kwargs, expected):
    use(**kwargs)
    with pytest.raises(BackendUnavailableError, match=r"^cupy backend: " + expected) as error:
        get_backend("cupy")
    assert "\n" not in str(error.value)


def test_a_machine_that_works_is_proven_once(use):
    use()  # CUDA 13 driver, an H100's 9.0, cuBLAS and the (emulated) kernel work
    assert get_backend("cupy") is cupy_backend
    assert cupy_backend._prove.cache_info().hits == 0
    get_backend("cupy")
    assert cupy_backend._prove.cache_info().hits == 1


def test_a_cuda12_cupy_runs_on_older_gpus(use):
    use(runtime=12080, driver=12040, cc="61")  # minor-version compatibility within CUDA 12
    assert get_backend("cupy") is cupy_backend


def test_on_this_machine_the_real_error_is_one_line():
    pytest.importorskip("cupy", reason="cupy (the gpu extra) is not installed")
    cupy_backend._prove.cache_clear()
    try:
        get_backend("cupy")
    except BackendUnavailableError as error:
        assert str(error).startswith("cupy backend: ") and "\n" not in str(error)
    else:
        pytest.skip("a working GPU is present")


def test_numba_proof_failure_is_one_line_naming_the_extra(monkeypatch):
    pytest.importorskip("numba", reason="numba (the gpu extra) is not installed")
    from minimal_unet.backends import numba_backend

    def no_nvvm():
        raise RuntimeError("libNVVM cannot be found.\nDo `conda install cuda-nvcc`")

    fake_cuda = SimpleNamespace(is_available=lambda: True, get_current_device=no_nvvm)
    monkeypatch.setattr(numba_backend, "cuda", fake_cuda)
    monkeypatch.setattr(numba_backend, "SIMULATOR", False)
    numba_backend._prove.cache_clear()
    try:
        with pytest.raises(BackendUnavailableError) as error:
            numba_backend.ensure_available()
    finally:
        numba_backend._prove.cache_clear()
    message = str(error.value)
    assert message.startswith("numba backend: our kernels do not compile or run (libNVVM "
                              "cannot be found. Do `conda install cuda-nvcc`)")
    assert "'minimal-unet[gpu]'" in message and "'minimal-unet[cuda12]'" in message
    assert "\n" not in message
