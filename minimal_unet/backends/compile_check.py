"""Compile every CUDA C file of kernels/cuda/ without a GPU, as a user's GPU would (CI's check).

    ptx = nvrtc_compile("relu", np.float32)                   # NVRTC, as cupy.RawModule does
    ptx = nvrtc_compile_with(library, "relu", np.float64)     # any libnvrtc.so (12 or 13)
    path = nvcc_compile("relu", np.float32, out_dir)          # nvcc -arch=sm_90 --ptx

Each compiles the source exactly as the CuPy backend does (`cupy_backend.kernel_source`:
`#define real_t ...` in front, `#line` so that a message names the .cu file's own line)
and raises CompileError with the compiler's log when it fails. NVRTC comes from the
nvidia-cuda-nvrtc wheels (the gpu-ci extra installs the CUDA 12 and 13 ones); nvcc where
it is on PATH. tests/kernels/test_cuda_compile.py runs them on every .cu file and dtype;
docs/gpu.md ("Compile checks") says why both NVRTC versions.
"""

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from minimal_unet.backends.cupy_backend import NVRTC_OPTIONS, kernel_source


class CompileError(RuntimeError):
    """A kernel file did not compile (or its compiler is missing); the message holds the log."""


# The options cupy.RawModule adds to ours, besides the GPU's virtual architecture (-arch=...).
CUPY_NVRTC_OPTIONS = ("-ftz=true", "--device-as-default-execution-space")


def nvrtc_compile(file, dtype, source_text=None):
    """Compile kernels/cuda/<file>.cu for `dtype` with NVRTC as CuPy does; return the PTX.

    Uses the NVRTC of the nvidia-cuda-nvrtc wheel (through cuda.bindings), needs no GPU;
    compiles for an H100 (compute_90). `source_text` replaces the prefixed source. Raises
    CompileError with NVRTC's log.
    """
    from cuda.bindings import nvrtc

    source = kernel_source(file, dtype) if source_text is None else source_text
    options = [o.encode() for o in (*NVRTC_OPTIONS, *CUPY_NVRTC_OPTIONS, "-arch=compute_90")]
    _, program = nvrtc.nvrtcCreateProgram(source.encode(), f"{file}.cu".encode(), 0, [], [])
    try:
        (status,) = nvrtc.nvrtcCompileProgram(program, len(options), options)
        _, log_size = nvrtc.nvrtcGetProgramLogSize(program)
        log = b" " * log_size
        nvrtc.nvrtcGetProgramLog(program, log)
        if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            log_text = log.decode(errors="replace").rstrip("\x00")
            raise CompileError(f"NVRTC failed on {file}.cu ({status.name}):\n{log_text}")
        _, ptx_size = nvrtc.nvrtcGetPTXSize(program)
        ptx = b" " * ptx_size
        nvrtc.nvrtcGetPTX(program, ptx)
        return ptx.decode().rstrip("\x00")
    finally:
        nvrtc.nvrtcDestroyProgram(program)


def nvrtc_libraries():
    """{CUDA major version: path} of every libnvrtc.so.<major> from the NVIDIA wheels here.

    nvidia-cuda-nvrtc (CUDA 13) installs nvidia/cu13/lib/libnvrtc.so.13 and
    nvidia-cuda-nvrtc-cu12 installs nvidia/cuda_nvrtc/lib/libnvrtc.so.12 (both in the gpu
    extras), so CI compiles every kernel with both compilers a user's GPU may bring.
    """
    import site
    import sys

    found = {}
    roots = [Path(p) for p in (*site.getsitepackages(), *sys.path) if p]
    for root in roots:
        for library in sorted((root / "nvidia").glob("*/lib/libnvrtc.so.1[0-9]")):
            found.setdefault(int(library.name.rsplit(".", 1)[1]), library)
    return found


def nvrtc_compile_with(library, file, dtype, arch="compute_75", source_text=None):
    """Compile kernels/cuda/<file>.cu for `dtype` with the NVRTC at `library` (a path to a
    libnvrtc.so of any CUDA version, through its C API); return the PTX.

    The options are ours plus those cupy.RawModule adds, for virtual architecture `arch`.
    Raises CompileError with NVRTC's log.
    """
    nvrtc = ctypes.CDLL(str(library))
    source = kernel_source(file, dtype) if source_text is None else source_text
    options = [o.encode() for o in (*NVRTC_OPTIONS, *CUPY_NVRTC_OPTIONS, f"-arch={arch}")]
    program = ctypes.c_void_p()
    status = nvrtc.nvrtcCreateProgram(ctypes.byref(program), source.encode(),
                                      f"{file}.cu".encode(), 0, None, None)
    if status != 0:
        raise CompileError(f"NVRTC ({library}) could not create a program: status {status}")
    try:
        option_array = (ctypes.c_char_p * len(options))(*options)
        status = nvrtc.nvrtcCompileProgram(program, len(options), option_array)
        size = ctypes.c_size_t()
        nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetProgramLog(program, log)
        if status != 0:
            raise CompileError(f"NVRTC ({library.name}) failed on {file}.cu (status "
                               f"{status}):\n{log.value.decode(errors='replace')}")
        nvrtc.nvrtcGetPTXSize(program, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetPTX(program, ptx)
        return ptx.value.decode()
    finally:
        nvrtc.nvrtcDestroyProgram(ctypes.byref(program))


def nvcc_compile(file, dtype, out_dir, source_text=None):
    """Compile kernels/cuda/<file>.cu for `dtype` with `nvcc -arch=sm_90 --ptx`; return the path.

    Raises CompileError with nvcc's messages (or when nvcc is not on PATH).
    """
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        raise CompileError("nvcc is not on PATH")
    source = kernel_source(file, dtype) if source_text is None else source_text
    unit = Path(out_dir) / f"{file}_{np.dtype(dtype).name}.cu"
    unit.write_text(source)
    ptx = unit.with_suffix(".ptx")
    command = [nvcc, "-arch=sm_90", "--ptx", "-std=c++14", str(unit), "-o", str(ptx)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompileError(f"nvcc failed on {file}.cu:\n{result.stderr}")
    return ptx
