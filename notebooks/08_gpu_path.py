# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. The GPU path, without a GPU
#
# **What this notebook teaches.** How a layer becomes a GPU kernel, and how to read,
# run and debug one on a machine with no GPU at all:
#
# * the Numba CUDA max-pool kernel of `kernels/numba/`, run in Numba's **CUDA simulator**
#   (every GPU thread becomes a Python thread), compared with the NumPy layer;
# * how threads map to array elements, and one thread stepped through line by line with
#   its local variables (what `pdb` shows you, and how to get there);
# * the matching **CUDA C** kernel of `kernels/cuda/`, read, then compiled with g++ and run
#   on the CPU by the library's emulation harness (`minimal_unet.backends.emu`), and
#   compared with NumPy again;
# * why a missing GPU is an error, never a silent fallback.
#
# **What to know first.** Notebook 2 (max-pooling and its arg-max); a first idea of what
# a CUDA thread, block and grid are helps.
#
# **Runs in** about 10 seconds on a laptop CPU (longer the first time: g++ compiles the
# CUDA C file once and caches it).
#
# **What needs a GPU.** Nothing in this notebook: every cell runs on any CPU (Colab's free
# CPU runtime included), the Numba kernels in Numba's CUDA simulator and the CUDA C kernel
# through g++ (present on Linux, macOS with the command-line tools, and Colab). What only
# an NVIDIA GPU can run is the *real* launch: `get_backend("cupy")` (the CUDA C kernels
# compiled by NVRTC), `get_backend("numba")` without the simulator, `benchmarks/gpu.py`
# and the tests marked `gpu`; the last cell shows the clear error you get instead. The
# GPU guide (`docs/gpu.md`) says how to run those on a GPU machine.

# %%
# Setup: does nothing when minimal_unet is importable (a checkout installed with
# `make test` or `pip install -e ".[notebooks]"`). In a fresh kernel (Colab, a laptop
# without the checkout) it installs the package with its `gpu` extra (numba and
# numba-cuda, for the CUDA simulator). minimal_unet is not on PyPI: MINIMAL_UNET_SOURCE says where it comes from, either a wheel (`make dist` builds
# dist/minimal_unet-*.whl; upload it next to this notebook) or the project's git URL
# ("git+https://<host>/<owner>/minimal_unet.git").
import importlib.util
from pathlib import Path

MINIMAL_UNET_SOURCE = "minimal_unet-*.whl"
EXTRAS = "[gpu]"  # numba, numba-cuda (and CuPy, used only on a real GPU)
NEEDED = ["minimal_unet", "numba"]

if any(importlib.util.find_spec(name) is None for name in NEEDED):
    if "://" in MINIMAL_UNET_SOURCE:
        requirement = f"minimal-unet{EXTRAS} @ {MINIMAL_UNET_SOURCE}"
    else:
        wheels = sorted(Path.cwd().glob(MINIMAL_UNET_SOURCE))
        if not wheels:
            raise FileNotFoundError(
                f"minimal_unet is not installed and no {MINIMAL_UNET_SOURCE} is in "
                f"{Path.cwd()}: upload the wheel here, or set MINIMAL_UNET_SOURCE to a git URL")
        requirement = f"{wheels[-1]}{EXTRAS}"
    from IPython import get_ipython

    print(f"installing {requirement}")
    get_ipython().run_line_magic("pip", f'install --quiet "{requirement}"')  # i.e. %pip install
    importlib.invalidate_caches()

# %%
# The simulator is chosen when numba is first imported, so this comes before any import.
# (The notebook runs in its own kernel process: nothing else is affected.)
import os

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

# %%
import inspect
import threading

import numpy as np
from numba import config as numba_config
from numba import cuda

from minimal_unet.backends import BackendUnavailableError, emu, get_backend
from minimal_unet.backends.sources import load_numba_module, read_cuda_source
from minimal_unet.ops import maxpool2d_backward, maxpool2d_forward, relu_forward

np.set_printoptions(precision=3, suppress=True)
print("CUDA simulator on:", bool(numba_config.ENABLE_CUDASIM))
assert numba_config.ENABLE_CUDASIM

# %% [markdown]
# ## The Numba kernel
#
# `kernels/numba/maxpool2d.py` holds two `@cuda.jit` kernels. Each file opens with what it
# computes, how threads map to indices, the launch shape and the reference it must
# match:

# %%
maxpool_kernels = load_numba_module("maxpool2d")  # kernels/numba/maxpool2d.py, as a module
print(inspect.getsource(maxpool_kernels))

# %% [markdown]
# ## Launching it
#
# A launch names the grid: `kernel[blocks, threads_per_block](arguments)`. Arguments are
# device arrays (`cuda.to_device` copies host to device, `copy_to_host` copies back; in the
# simulator "the device" is just more host memory). We launch 2 blocks of 4 threads, 8
# threads in all, on 12 output pixels: with the grid-stride loop, thread `g` handles
# output elements `g` and `g + 8`.

# %%
rng = np.random.default_rng(0)
x = rng.standard_normal((1, 2, 4, 6))  # (N, C, H, W), distinct values: no ties
y_device = cuda.device_array((1, 2, 2, 3), dtype=np.float64)  # (N, C, H/2, W/2)
argmax_device = cuda.device_array((1, 2, 2, 3), dtype=np.uint8)
maxpool_kernels.maxpool2d_forward[2, 4](cuda.to_device(x), y_device, argmax_device)

y_reference, (argmax_reference, _) = maxpool2d_forward(x)  # the NumPy layer
print("kernel y:\n", y_device.copy_to_host()[0], "\nkernel argmax:\n",
      argmax_device.copy_to_host()[0])
assert np.array_equal(y_device.copy_to_host(), y_reference)
assert np.array_equal(argmax_device.copy_to_host(), argmax_reference)  # uint8, as the NumPy cache

# %% [markdown]
# The backward kernel is a *gather*: one thread per input element reads the one output
# gradient of its window and keeps it only if it was the window's winner. No two threads
# write the same place, so no atomics are needed and the result is deterministic.

# %%
dy = rng.standard_normal((1, 2, 2, 3))
dx_device = cuda.device_array(x.shape, dtype=np.float64)
maxpool_kernels.maxpool2d_backward[2, 4](cuda.to_device(dy), argmax_device, dx_device)
dx_reference = maxpool2d_backward(dy, maxpool2d_forward(x)[1])
print(dx_device.copy_to_host()[0, 0])
assert np.array_equal(dx_device.copy_to_host(), dx_reference)

# %% [markdown]
# ## Which thread does what
#
# The kernel turns the flat output index `idx` into `(n, c, i, j)` with `%` and `//`, in
# C order (the last axis varies fastest). With 8 threads, and `idx = g, g + 8, ...` for
# thread `g = blockIdx.x * blockDim.x + threadIdx.x`:

# %%
N, C, oH, oW = y_reference.shape
total_threads = 2 * 4
print(" block thread   g  idx -> (n, c, i, j)   window of x")
for idx in range(N * C * oH * oW):
    g = idx % total_threads  # the thread whose grid-stride loop reaches idx
    block, thread = divmod(g, 4)
    j, i = idx % oW, (idx // oW) % oH
    c, n = (idx // (oW * oH)) % C, idx // (oW * oH * C)
    print(f"{block:>6}{thread:>7}{g:>4}{idx:>5}    ({n}, {c}, {i}, {j})     "
          f"rows {2 * i}-{2 * i + 1}, cols {2 * j}-{2 * j + 1}")

# %% [markdown]
# ## One thread, step by step
#
# In the simulator every GPU thread is a Python thread running the kernel's own source
# lines, so Python's debugging hooks see them. Here a trace function (the mechanism
# `pdb` is built on) records the local variables of the thread that handles `idx = 7`
# before every line it runs; printed below is each line with the variables it changed:
# what you would see typing `next` and `p n, c, i, j, best, best_k` in `pdb`.

# %%
def step_through(kernel_source_name, wanted_idx):
    """Trace function for threading.settrace: records (line, locals) of the simulated
    thread whose loop variable idx == wanted_idx, inside the function kernel_source_name."""
    steps = []

    def on_call(frame, event, arg):
        if frame.f_code.co_name != kernel_source_name:
            return None

        def on_line(frame, event, arg):
            local = frame.f_locals
            if local.get("idx") == wanted_idx:
                fake_cuda = frame.f_globals["cuda"]  # the simulator's stand-in module
                steps.append((frame.f_lineno, {
                    "blockIdx.x": fake_cuda.blockIdx.x, "threadIdx.x": fake_cuda.threadIdx.x,
                    **{k: v for k, v in local.items() if np.isscalar(v)}}))
            return on_line

        return on_line

    return on_call, steps


tracer, steps = step_through("maxpool2d_forward", wanted_idx=7)
threading.settrace(tracer)  # applies to threads started from now on: the simulated ones
try:
    maxpool_kernels.maxpool2d_forward[2, 4](cuda.to_device(x), y_device, argmax_device)
finally:
    threading.settrace(None)

source_lines, first_line = inspect.getsourcelines(maxpool_kernels.maxpool2d_forward.py_func)


def readable(value):
    return round(float(value), 4) if isinstance(value, np.floating) else value


start = steps[0][1]
print("thread", {k: readable(v) for k, v in start.items()})
for (line_number, before), (_, after) in zip(steps, steps[1:]):
    changed = {k: readable(v) for k, v in after.items() if before.get(k) is not v}
    code = source_lines[line_number - first_line].split("#")[0].strip()
    print(f"line {line_number:>3}  {code:<50} -> {changed if changed else ''}")
assert steps and all(local["blockIdx.x"] == 1 and local["threadIdx.x"] == 3
                     for _, local in steps)
n, c, i, j = 0, 1, 0, 1  # idx 7 in the table above
last = steps[-1][1]
assert (last["n"], last["c"], last["i"], last["j"]) == (n, c, i, j)
assert last["best"] == x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max()

# %% [markdown]
# **Doing the same in pdb.** Put the launch in a script and run it under the simulator
# and the debugger (break at the first line after the indices are computed, only in the
# thread that handles `idx == 7`):

# %%
kernel_file = inspect.getsourcefile(maxpool_kernels.maxpool2d_forward.py_func)
after_indices = first_line + next(k for k, line in enumerate(source_lines)
                                  if "best = x[" in line)
print(f"""NUMBA_ENABLE_CUDASIM=1 python -m pdb my_launch.py
(Pdb) break {kernel_file}:{after_indices}, idx == 7
(Pdb) continue
(Pdb) p cuda.blockIdx.x, cuda.threadIdx.x, idx, (n, c, i, j)
(Pdb) next                      # one kernel line at a time; 'p best, best_k' as you go""")

# %% [markdown]
# ## The backend: the same ops, on device arrays
#
# `get_backend("numba")` wraps these kernels in launchers with the signatures of
# `minimal_unet.ops` (checks, output allocation, launch shapes). In the simulator it runs
# here; on a machine with an NVIDIA GPU and without the simulator it runs there,
# unchanged.

# %%
ops = get_backend("numba")
x_small = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
y_relu, _ = ops.relu_forward(ops.asarray(x_small))
y_pool, _ = ops.maxpool2d_forward(ops.asarray(x_small))
print("relu max |difference| vs NumPy:",
      np.abs(ops.asnumpy(y_relu) - relu_forward(x_small)[0]).max())
assert np.array_equal(ops.asnumpy(y_relu), relu_forward(x_small)[0])
assert np.array_equal(ops.asnumpy(y_pool), maxpool2d_forward(x_small)[0])
assert ops.asnumpy(y_pool).dtype == np.float32

# %% [markdown]
# ## The CUDA C kernel
#
# The CuPy backend runs CUDA C kernels from `kernels/cuda/`, one file per layer, read at
# run time and compiled by NVRTC with `real_t` `#define`d as `float` or `double`. The
# max-pool file does the same as the Numba one, with one thread per element instead of a
# grid-stride loop, and `n` and `c` fused into one index `nc`:

# %%
print(read_cuda_source("maxpool2d"))

# %% [markdown]
# ## Running the CUDA C kernel on the CPU
#
# `minimal_unet.backends.emu` compiles the very same file with g++ against a small
# header that defines `blockIdx`, `threadIdx`, `__global__` and friends, and runs every
# thread of the grid in a loop. It is called like a CuPy `RawKernel`:
# `kernel(grid, block, arguments)`, with every scalar a fixed-width NumPy type that must
# match the C parameter (`int` wants `np.int32`).

# %%
x64 = rng.standard_normal((2, 3, 6, 8))  # (N, C, H, W) float64
N, C, H, W = x64.shape
y_emu = np.empty((N, C, H // 2, W // 2))
argmax_emu = np.empty((N, C, H // 2, W // 2), dtype=np.uint8)
threads = 256
blocks = (y_emu.size + threads - 1) // threads  # one thread per output element
forward_kernel = emu.get_kernel("maxpool2d", "maxpool2d_forward", np.float64)
forward_kernel((blocks,), (threads,), (x64, y_emu, argmax_emu, np.int32(N * C), np.int32(H),
                                       np.int32(W)))
y_ref, (argmax_ref, _) = maxpool2d_forward(x64)
print(f"{blocks} block(s) of {threads} threads for {y_emu.size} outputs;",
      "y equal to NumPy:", np.array_equal(y_emu, y_ref),
      "| argmax equal:", np.array_equal(argmax_emu, argmax_ref))
assert np.array_equal(y_emu, y_ref) and np.array_equal(argmax_emu, argmax_ref)

try:
    forward_kernel((blocks,), (threads,), (x64, y_emu, argmax_emu, N * C, H, W))
except TypeError as err:
    print("plain Python ints are refused:", err)

# %% [markdown]
# To stop inside a CUDA C thread, the emulated libraries are built with `-O0 -g`:
# `gdb --args python my_launch.py`, then `break maxpool2d_forward if threadIdx.x == 7`
# and `run`.
#
# ## No GPU is an error, not a silent fallback
#
# Asking for the CuPy backend on this machine fails with a message saying what is
# missing. A run that silently fell back to NumPy would report CPU timings as GPU ones.

# %%
try:
    get_backend("cupy")
    print("cupy backend available: this machine has a CUDA GPU")
except BackendUnavailableError as err:
    print("BackendUnavailableError:", err)

# %% [markdown]
# ## Summary
#
# * A kernel is the naive loop body with the loop replaced by a thread index; the header
#   of every kernel file says which index each thread takes.
# * The Numba simulator runs GPU threads as Python threads (pdb, prints, tracing); the
#   emulator runs the CUDA C source on the CPU (gdb). Both are checked against NumPy.
# * The backend is chosen once, by name, and a missing GPU is a clear error.
