"""Run the CUDA C kernels of kernels/cuda/ on the CPU: g++, kernels/emu/cuda_emu.h and ctypes.

    kernel = get_kernel("relu", "relu_forward", np.float64)      # compiles once, then cached
    kernel((blocks,), (256,), (x, y, np.int32(x.size)))          # same call as a cupy.RawKernel

How it works (the C++ side is explained at the top of kernels/emu/cuda_emu.h):
1. `translation_unit(file, dtype)` writes a C++ file that includes cuda_emu.h, then the
   kernel source as the CuPy backend compiles it (`#define real_t ...` in front, `#line`
   so that errors and gdb point into the .cu file; each `__shared__ T a[N][M];` rewritten
   into a checked `EmuShared<T, N, M>`, on the same line), then for every `__global__`
   kernel an exported wrapper
       extern "C" int launch_<kernel>(dim3 grid, dim3 block, size_t shared_bytes,
                                      void** args, const EmuArray* arrays, int n_arrays)
   that checks the launch limits and runs every GPU thread of the grid (emu_launch).
2. `compile_library` builds it with g++ into a shared library, cached under
   $MINIMAL_UNET_EMU_CACHE (default: <tempdir>/minimal_unet_emu) by a hash of the sources.
3. `EmuKernel.__call__` checks each argument against the kernel's parameter list (read from
   the source: a pointer wants a C-contiguous NumPy array of the right dtype, `int` wants
   np.int32, `real_t` the array dtype's scalar, ...), copies every array between guard
   pages (GuardedArrays), packs pointers to the values into a `void*[]`, calls the wrapper
   through ctypes, copies the arrays back, and raises EmuKernelError with the emulator's
   message when a check failed (launch limits, divergent barriers, shared-memory races,
   ranges and uninitialised reads, writes before an array's start; see cuda_emu.h).

Debugging one thread: the libraries are built with -O0 -g, so gdb can stop in a kernel:
`gdb --args python script.py`, then `break relu_forward if threadIdx.x == 3`, `run`.
A file whose kernels call __syncthreads() runs each block's threads as POSIX threads;
every other file runs them as a plain loop in the calling thread.
"""

import ctypes
import functools
import hashlib
import mmap
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from minimal_unet.backends.cupy_backend import C_TYPES, kernel_source
from minimal_unet.backends.sources import kernels_root

# -O0 -g: quick to build, and every local is visible in gdb (the test shapes are tiny).
CXX_FLAGS = ("-std=c++20", "-shared", "-fPIC", "-pthread", "-O0", "-g")
_KERNEL = re.compile(r"__global__\s+void\s+(\w+)\s*\(([^)]*)\)", re.S)


class EmuCompileError(RuntimeError):
    """g++ rejected a kernel file; the message holds the compiler's output."""


class EmuKernelError(RuntimeError):
    """A launch broke a rule a GPU enforces (or breaks silently on): an invalid launch, a
    divergent barrier, a data race or an out-of-range index in shared memory, a write
    before an array's start. The message names the kernel and the threads."""


class Dim3(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint), ("y", ctypes.c_uint), ("z", ctypes.c_uint)]


class EmuArray(ctypes.Structure):
    """Where one array argument lies (cuda_emu.h's EmuArray): named by the fault handler."""

    _fields_ = [("start", ctypes.c_size_t), ("end", ctypes.c_size_t), ("argument", ctypes.c_int)]


def header_path():
    return kernels_root() / "emu" / "cuda_emu.h"


def kernel_signatures(source):
    """{kernel name: [parameter type, ...]} of every __global__ kernel in `source`.

    A type is the declaration without `const`, `__restrict__` and the name: "real_t*", "int".
    """
    kernels = {}
    for name, params in _KERNEL.findall(source):
        types = []
        for param in params.split(","):
            words = param.replace("*", " * ").replace("const", " ").replace("__restrict__", " ")
            words = words.split()[:-1]  # drop the parameter name
            types.append(" ".join(w for w in words if w != "*") + "*" * words.count("*"))
        kernels[name] = types
    return kernels


_SHARED = re.compile(r"__shared__\s+((?:unsigned\s+)?\w+)\s+(\w+)\s*((?:\[[^\]]+\])+)\s*;")


def checked_shared_memory(source):
    """`source` with every `__shared__ T name[A][B];` made a checked EmuShared<T, A, B> array.

    Returns (text, {kernel: C expression of its static shared bytes}). The rewrite keeps
    every line where it was, so #line still points into the .cu file.
    """
    starts = [(m.start(), m.group(1)) for m in _KERNEL.finditer(source)]
    sizes = {name: [] for _, name in starts}

    def rewrite(match):
        ctype, name, dims_text = match.groups()
        dims = re.findall(r"\[([^\]]+)\]", dims_text)
        owners = [kernel for start, kernel in starts if start < match.start()]
        if owners:
            sizes[owners[-1]].append(f"sizeof({ctype}{dims_text})")
        dims_list = ", ".join(f"(std::size_t)({d})" for d in dims)
        return f'static EmuShared<{ctype}, {dims_list}> {name}("{name}");'

    text = _SHARED.sub(rewrite, source)
    return text, {kernel: " + ".join(terms) or "0" for kernel, terms in sizes.items()}


def translation_unit(file, dtype, kernel_text=None):
    """The C++ text compiled for kernels/cuda/<file>.cu in `dtype` (see module docstring).

    `kernel_text` replaces the prefixed kernel source (tests plant bugs in a copy this way).
    """
    source = kernel_source(file, dtype) if kernel_text is None else kernel_text
    threaded = "__syncthreads" in source
    source, shared_bytes = checked_shared_memory(source)
    lines = [f'#include "{header_path()}"', source, "",
             'extern "C" const char* emu_error_message() { return emu_error; }']
    for kernel in kernel_signatures(source):
        lines.append(
            f'extern "C" int launch_{kernel}(dim3 grid, dim3 block, std::size_t shared_bytes, '
            f"void** args, const EmuArray* arrays, int array_count) {{ return emu_launch("
            f'"{kernel}", {kernel}, grid, block, {shared_bytes[kernel]}, shared_bytes, args, '
            f"arrays, array_count, {'true' if threaded else 'false'}); }}"
        )
    return "\n".join(lines) + "\n"


def cache_dir():
    default = Path(tempfile.gettempdir()) / "minimal_unet_emu"
    return Path(os.environ.get("MINIMAL_UNET_EMU_CACHE", default))


def compile_library(file, dtype, source_text=None):
    """Compile kernels/cuda/<file>.cu for `dtype` into a shared library; return its path.

    `source_text` replaces the translation unit (used to test that errors are reported).
    Raises EmuCompileError with g++'s messages when the code does not compile.
    """
    compiler = shutil.which("g++")
    if compiler is None:
        raise EmuCompileError("the CUDA emulator needs g++ (with C++20) on PATH")
    text = translation_unit(file, dtype) if source_text is None else source_text
    key = hashlib.sha256("\0".join([text, header_path().read_text(), *CXX_FLAGS]).encode())
    library = cache_dir() / f"{file}_{np.dtype(dtype).name}_{key.hexdigest()[:20]}.so"
    if library.is_file():
        return library
    library.parent.mkdir(parents=True, exist_ok=True)
    unit = library.with_suffix(".cpp")
    unit.write_text(text)
    partial = library.with_suffix(f".{os.getpid()}.tmp")  # rename at the end: safe in parallel
    result = subprocess.run(
        [compiler, *CXX_FLAGS, str(unit), "-o", str(partial)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise EmuCompileError(f"g++ failed on {file}.cu ({unit}):\n{result.stderr}")
    os.replace(partial, library)
    return library


def compile_all(dtypes=(np.float32, np.float64)):
    """Compile every kernels/cuda/*.cu for every dtype, two g++ at a time; return the paths."""
    jobs = [(path.stem, dtype) for path in cuda_files() for dtype in dtypes]
    with ThreadPoolExecutor(max_workers=2) as pool:  # g++ runs outside the GIL
        return list(pool.map(lambda job: compile_library(*job), jobs))


def cuda_files():
    """Every kernels/cuda/*.cu, sorted."""
    return sorted((kernels_root() / "cuda").glob("*.cu"))


@functools.cache
def load_module(file, dtype_name):
    """The compiled library of kernels/cuda/<file>.cu for `dtype_name` (loaded once)."""
    return EmuModule(file, np.dtype(dtype_name))


def get_kernel(file, kernel, dtype):
    """Mirror of cupy_backend._get_kernel: the emulated kernel `kernel` of `file`.cu."""
    return load_module(file, np.dtype(dtype).name).get_function(kernel)


class EmuModule:
    """A compiled kernel file; `get_function(name)` as on a cupy.RawModule."""

    def __init__(self, file, dtype, kernel_text=None):
        """`kernel_text` replaces the kernel source (a copy with a planted bug, in tests)."""
        self.file, self.dtype = file, np.dtype(dtype)
        source = kernel_source(file, dtype) if kernel_text is None else kernel_text
        self.signatures = kernel_signatures(source)
        text = None if kernel_text is None else translation_unit(file, dtype, kernel_text)
        self.library = ctypes.CDLL(str(compile_library(file, dtype, source_text=text)))
        self.library.emu_error_message.restype = ctypes.c_char_p

    def get_function(self, kernel):
        if kernel not in self.signatures:
            raise KeyError(f"no kernel {kernel!r} in {self.file}.cu: has {list(self.signatures)}")
        launch = getattr(self.library, f"launch_{kernel}")
        launch.argtypes = [Dim3, Dim3, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p),
                           ctypes.POINTER(EmuArray), ctypes.c_int]
        launch.restype = ctypes.c_int
        return EmuKernel(kernel, self.signatures[kernel], self.dtype, launch,
                         self.library.emu_error_message)


class EmuKernel:
    """One emulated kernel, called like a cupy.RawKernel: kernel(grid, block, args)."""

    def __init__(self, name, param_types, dtype, launch, error_message):
        self.name, self.param_types, self.launch = name, param_types, launch
        self.error_message = error_message
        real = C_TYPES[dtype]
        # C parameter type -> (NumPy dtype the argument must have, ctypes type for scalars)
        self.expected = {
            "real_t*": (dtype, None), "int*": (np.dtype(np.int32), None),
            "float*": (np.dtype(np.float32), None), "double*": (np.dtype(np.float64), None),
            "bool*": (np.dtype(np.bool_), None), "unsigned char*": (np.dtype(np.uint8), None),
            "real_t": (dtype, ctypes.c_float if real == "float" else ctypes.c_double),
            "int": (np.dtype(np.int32), ctypes.c_int32),
            "double": (np.dtype(np.float64), ctypes.c_double),
            "float": (np.dtype(np.float32), ctypes.c_float),
            "unsigned long long": (np.dtype(np.uint64), ctypes.c_uint64),
        }

    def _pack(self, i, arg, ctype):
        """A ctypes object holding argument i, checked against its C parameter type."""
        if ctype not in self.expected:
            raise TypeError(f"{self.name}: the emulator does not know parameter type {ctype}")
        dtype, scalar_type = self.expected[ctype]
        where = f"{self.name} argument {i} ({ctype})"
        if scalar_type is None:  # a pointer: a NumPy array
            if not isinstance(arg, np.ndarray) or arg.dtype != dtype:
                given = getattr(arg, "dtype", type(arg).__name__)
                raise TypeError(f"{where}: expected a {dtype} ndarray, got {given}")
            if not arg.flags.c_contiguous:
                raise ValueError(f"{where}: expected a C-contiguous array")
            return ctypes.c_void_p(arg.ctypes.data)
        if not isinstance(arg, np.generic) or arg.dtype != dtype:
            given = getattr(arg, "dtype", type(arg).__name__)
            raise TypeError(f"{where}: expected a np.{dtype} scalar, got {given}")
        return scalar_type(arg.item())

    def __call__(self, grid, block, args, shared_mem=0):
        if len(args) != len(self.param_types):
            raise TypeError(
                f"{self.name}: expected {len(self.param_types)} arguments, got {len(args)}"
            )
        values = [self._pack(i, a, t) for i, (a, t) in enumerate(zip(args, self.param_types))]
        with GuardedArrays() as guarded:
            for i, arg in enumerate(args):
                if isinstance(arg, np.ndarray):
                    values[i] = ctypes.c_void_p(guarded.place(arg, i))
            pointers = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
            arrays = (EmuArray * max(1, len(guarded.placed)))(*guarded.placed)
            status = self.launch(Dim3(*_dim3(grid)), Dim3(*_dim3(block)), shared_mem, pointers,
                                 arrays, len(guarded.placed))
            guarded.check_and_copy_back(self.name)
        if status != 0:
            raise EmuKernelError(self.error_message().decode(errors="replace"))


# ---------------------------------------------------------------- guarded global memory
_PAGE = mmap.PAGESIZE
_CANARY = 0xA5
_PROT_NONE = 0
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


class GuardedArrays:
    """Copies of a launch's arrays, each between two inaccessible guard pages.

    An array's last byte ends where the next guard page begins, so reading or writing one
    element past the end faults at once (the emulator's fault handler names the kernel,
    the thread and the argument). The bytes between the front guard and the array start are
    filled with a canary: a write before the start is reported after the launch, a read
    further than that faults. Arrays passed twice share one copy (as on a GPU).
    """

    def __init__(self):
        self.maps, self.placed, self.copies = [], [], {}

    def __enter__(self):
        return self

    def place(self, array, argument):
        """The address of the guarded copy of `array` (argument number `argument`)."""
        key = (array.ctypes.data, array.nbytes)
        if key in self.copies:
            return self.copies[key][0]
        body = -(-array.nbytes // _PAGE) * _PAGE
        size = body + 2 * _PAGE
        prot_rw, flags = mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        base = _libc.mmap(None, size, prot_rw, flags, -1, 0)
        if base in (None, ctypes.c_void_p(-1).value):
            raise MemoryError(f"guarded copy of argument {argument}: mmap failed")
        self.maps.append((base, size))
        start = base + _PAGE + body - array.nbytes
        ctypes.memset(base + _PAGE, _CANARY, body - array.nbytes)
        ctypes.memmove(start, array.ctypes.data, array.nbytes)
        _libc.mprotect(base, _PAGE, _PROT_NONE)
        _libc.mprotect(base + _PAGE + body, _PAGE, _PROT_NONE)
        self.copies[key] = (start, array, base + _PAGE, argument)
        self.placed.append(EmuArray(start, start + array.nbytes, argument))
        return start

    def check_and_copy_back(self, kernel):
        for start, array, slack_start, argument in self.copies.values():
            slack = ctypes.string_at(slack_start, start - slack_start)
            damaged = [i for i, byte in enumerate(slack) if byte != _CANARY]
            if damaged:
                before = len(slack) - damaged[0]
                raise EmuKernelError(
                    f"cuda_emu: kernel {kernel}: wrote argument {argument} up to {before} bytes "
                    f"before its start (out of range)"
                )
            ctypes.memmove(array.ctypes.data, start, array.nbytes)

    def __exit__(self, *exc):
        for base, size in self.maps:
            _libc.munmap(base, size)
        return False


def _dim3(shape):
    shape = tuple(shape) if isinstance(shape, tuple | list) else (shape,)
    return (*shape, *(1,) * (3 - len(shape)))
