"""Every kernels/cuda/*.cu compiles for float and double, with NVRTC (as CuPy does) and nvcc.

No GPU needed: NVRTC comes from the nvidia-cuda-nvrtc wheel through cuda.bindings, with the
options cupy.RawModule passes for an H100 (compute_90); nvcc (-arch=sm_90 --ptx) runs where
it is on PATH. The files are found by globbing, so a new .cu is covered automatically.
A planted syntax error must make both helpers raise, naming the file and the right line.
"""

import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from minimal_unet.backends import compile_check, cupy_backend, emu
from minimal_unet.backends.sources import cuda_source_path

CUDA_FILES = [path.stem for path in emu.cuda_files()]
DTYPES = [np.float32, np.float64]
needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on PATH")


def _nvrtc_available():
    try:
        from cuda.bindings import nvrtc

        return nvrtc.nvrtcVersion()[0] == nvrtc.nvrtcResult.NVRTC_SUCCESS
    except Exception:  # the wheel or its shared library is missing
        return False


needs_nvrtc = pytest.mark.skipif(not _nvrtc_available(), reason="NVRTC (cuda-bindings) missing")


def _broken_relu_source():
    """relu.cu with a syntax error planted in relu_forward's last statement."""
    source = cupy_backend.kernel_source("relu", np.float32)
    assert source.count("y[i] = (v > real_t(0)") == 1
    line = next(i for i, text in enumerate(cuda_source_path("relu").read_text().splitlines(), 1)
                if "y[i] = (v > real_t(0)" in text)
    return source.replace("y[i] = (v > real_t(0)", "y[i] = = (v > real_t(0)"), line


def test_kernel_files_are_found():
    assert {"im2col", "conv2d_direct", "relu", "maxpool2d", "upconv2d", "crop_concat",
            "softmax_ce", "dropout", "sgd_momentum", "bias_grad"} <= set(CUDA_FILES)


@needs_nvrtc
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("file", CUDA_FILES)
def test_nvrtc_compiles(file, dtype):
    ptx = compile_check.nvrtc_compile(file, dtype)
    assert ".target sm_90" in ptx  # compiled for an H100, as CuPy does there
    kernels = emu.kernel_signatures(cupy_backend.kernel_source(file, dtype))
    assert kernels, f"{file}.cu declares no __global__ kernel"
    for kernel in kernels:  # extern "C": the PTX entry has the plain name
        assert f".entry {kernel}(" in ptx
    assert (".f64" in ptx) == (dtype == np.float64 or file == "dropout")  # real_t took effect


@needs_nvcc
@pytest.mark.parametrize("file", CUDA_FILES)
def test_nvcc_compiles(file, tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:  # float and double side by side
        ptx_paths = list(pool.map(lambda dtype: compile_check.nvcc_compile(file, dtype, tmp_path),
                                  DTYPES))
    for path in ptx_paths:
        assert ".entry" in path.read_text()


@needs_nvrtc
def test_nvrtc_helper_raises_on_a_syntax_error_at_the_right_line():
    source, line = _broken_relu_source()
    with pytest.raises(compile_check.CompileError, match=rf"relu\.cu\({line}\): error"):
        compile_check.nvrtc_compile("relu", np.float32, source_text=source)


@needs_nvcc
def test_nvcc_helper_raises_on_a_syntax_error_at_the_right_line(tmp_path):
    source, line = _broken_relu_source()
    with pytest.raises(compile_check.CompileError, match=rf"relu\.cu\({line}\): error"):
        compile_check.nvcc_compile("relu", np.float32, tmp_path, source_text=source)


def test_nvcc_helper_says_when_nvcc_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_check.shutil, "which", lambda name: None)
    with pytest.raises(compile_check.CompileError, match="nvcc is not on PATH"):
        compile_check.nvcc_compile("relu", np.float32, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written before the check


def test_kernel_source_rejects_other_dtypes():
    with pytest.raises(TypeError, match="float32 or float64, got int32"):
        cupy_backend.kernel_source("relu", np.int32)


# ---------------------------------------------------------------- NVRTC 12 and NVRTC 13
# A GPU with a CUDA 12 driver runs the cuda12 extra (cupy-cuda12x, NVRTC 12); one with a
# CUDA 13 driver the gpu extra (NVRTC 13). Both compilers are installed by `make test`
# (the gpu extra lists both wheels), and every kernel must compile with each, for the
# oldest architecture CUDA 13 supports (compute_75) through their C API.
NVRTC_LIBRARIES = compile_check.nvrtc_libraries()


@needs_nvrtc
def test_both_nvrtc_major_versions_are_installed():
    assert {12, 13} <= set(NVRTC_LIBRARIES), f"found {NVRTC_LIBRARIES}"


@pytest.mark.skipif(not NVRTC_LIBRARIES, reason="no NVRTC wheel installed")
@pytest.mark.parametrize("major", sorted(NVRTC_LIBRARIES))
@pytest.mark.parametrize("file", CUDA_FILES)
def test_every_kernel_compiles_with_each_nvrtc(major, file):
    for dtype in DTYPES:
        ptx = compile_check.nvrtc_compile_with(NVRTC_LIBRARIES[major], file, dtype,
                                               arch="compute_75")
        assert f"release {major}." in ptx and ".target sm_75" in ptx
        for kernel in emu.kernel_signatures(cupy_backend.kernel_source(file, dtype)):
            assert f".entry {kernel}(" in ptx


@pytest.mark.skipif(not NVRTC_LIBRARIES, reason="no NVRTC wheel installed")
def test_nvrtc_c_api_helper_reports_errors_at_the_right_line():
    source, line = _broken_relu_source()
    for library in NVRTC_LIBRARIES.values():
        with pytest.raises(compile_check.CompileError, match=rf"relu\.cu\({line}\): error"):
            compile_check.nvrtc_compile_with(library, "relu", np.float32, source_text=source)
