"""The emulator catches the bugs only a GPU (or compute-sanitizer) would show.

Each test plants one bug in a copy of a shipped kernel (or launches it wrongly) and asserts
that the emulator stops with a message naming the kernel, the line or argument, and the
threads, instead of passing, hanging, or damaging memory silently:
- a __syncthreads() inside `if (t < half)` (divergent barrier: a GPU hangs or misbehaves);
- threads waiting at two different barriers;
- a missing barrier after `partial[t] = sum` in bias_grad.cu (a shared-memory race that
  gives the right answer here whenever N*S is small);
- reads of shared memory never written, and shared indices out of range;
- an off-by-one `if (i > total)` in relu.cu (one element past the end: a fault, run in a
  child process because it ends the process) and a write before an array's start;
- launches a GPU rejects: zero or too large grids, too many threads, too much shared memory.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minimal_unet.backends import cupy_backend, emu
from minimal_unet.backends.sources import cuda_source_path

pytestmark = pytest.mark.skipif(emu.shutil.which("g++") is None, reason="the emulator needs g++")


def planted(file, old, new, dtype=np.float64):
    """kernels/cuda/<file>.cu with `old` replaced by `new` (exactly once), as an EmuModule."""
    source = cupy_backend.kernel_source(file, dtype)
    assert source.count(old) == 1, f"{old!r} is not in {file}.cu exactly once"
    return emu.EmuModule(f"planted_{file}", dtype, kernel_text=source.replace(old, new))


def line_of(file, text):
    """1-based line of the first line of kernels/cuda/<file>.cu that contains `text`."""
    lines = cuda_source_path(file).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def run_bias_grad(module, N=1, F=2, S=10):
    """Launch bias_grad of `module` as the backend does; return dy and db."""
    dy, db = np.random.default_rng(0).standard_normal((N, F, S)), np.zeros(F)
    module.get_function("bias_grad")((F,), (256,), (dy, db, *cupy_backend._i32(N, F, S)))
    return dy, db


# ---------------------------------------------------------------- barriers
def test_shipped_bias_grad_passes_every_check():
    dy, db = run_bias_grad(emu.load_module("bias_grad", "float64"), N=3, F=2, S=300)
    np.testing.assert_allclose(db, dy.sum(axis=(0, 2)), rtol=1e-12)


def test_barrier_inside_a_branch_is_reported_not_hung():
    line = line_of("bias_grad", "if (t < half) partial[t] += partial[t + half];")
    module = planted("bias_grad",
                     "if (t < half) partial[t] += partial[t + half];\n        __syncthreads();",
                     "if (t < half) { partial[t] += partial[t + half];\n"
                     "        __syncthreads(); }")
    with pytest.raises(emu.EmuKernelError) as error:
        run_bias_grad(module)
    message = str(error.value)
    assert "kernel bias_grad" in message and "divergent barrier" in message
    assert f"line {line + 1}" in message  # the planted barrier's own line
    assert "thread (" in message and "block (0,0,0)" in message


def test_threads_at_two_different_barriers_are_reported():
    module = planted("bias_grad", "    partial[t] = sum;\n    __syncthreads();",
                     "    partial[t] = sum;\n    if (t % 2) __syncthreads();\n"
                     "    else __syncthreads();")
    first = line_of("bias_grad", "partial[t] = sum;") + 1
    with pytest.raises(emu.EmuKernelError, match=r"bias_grad.*different barriers") as error:
        run_bias_grad(module)
    assert f"line {first}," in str(error.value) or str(error.value).endswith(f"line {first}")
    assert f"line {first + 1}" in str(error.value)


# ---------------------------------------------------------------- shared memory
def test_missing_barrier_is_reported_even_when_the_sum_is_right():
    # N*S = 10 terms: the tree's upper half holds zeros, so the result would be right.
    # Thread t reads partial[t + 128] in the epoch thread t + 128 writes it: a race if the
    # write came first, a read of a never-written element if it did not; either is reported.
    module = planted("bias_grad", "    partial[t] = sum;\n    __syncthreads();",
                     "    partial[t] = sum;")
    for _ in range(3):
        with pytest.raises(emu.EmuKernelError) as error:
            run_bias_grad(module)
        message = str(error.value)
        assert "kernel bias_grad" in message
        assert ("data race on __shared__ partial[" in message
                or ("reads __shared__ partial[" in message
                    and "missing __syncthreads()" in message))


def test_reading_unwritten_shared_memory_is_reported():
    module = planted("bias_grad", "    partial[t] = sum;\n", "    if (t > 0) partial[t] = sum;\n")
    with pytest.raises(emu.EmuKernelError, match=r"reads __shared__ partial\[0\], never written"):
        run_bias_grad(module)


def test_shared_index_out_of_range_is_reported():
    module = planted("bias_grad", "partial[t] += partial[t + half];",
                     "partial[t] += partial[t + 2 * half + 1];")
    with pytest.raises(emu.EmuKernelError, match=r"indexes __shared__ partial out of range: "
                                                 r"index \d+ of dimension 0 \(size 256\)"):
        run_bias_grad(module)


# ---------------------------------------------------------------- global memory
CHILD = """
import sys
import numpy as np
from minimal_unet.backends import cupy_backend, emu
source = cupy_backend.kernel_source("relu", np.{dtype})
module = emu.EmuModule("planted_relu", np.{dtype},
                       kernel_text=source.replace("if (i >= total) return;",
                                                  "if (i > total) return;", 1))
x = np.ones({size}, np.{dtype})
module.get_function("relu_forward")((1,), (256,), (x, np.empty_like(x), np.int32(x.size)))
print("no fault")
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_off_by_one_past_the_end_faults_and_names_the_kernel(dtype):
    # 100 elements, 256 threads: thread 100 touches x[100] and y[100], one past the end.
    script = textwrap.dedent(CHILD.format(dtype=dtype, size=100))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode != 0 and "no fault" not in result.stdout
    assert "kernel relu_forward" in result.stderr
    assert "thread (100,0,0)" in result.stderr
    assert "past its end (out of range)" in result.stderr


def test_write_before_the_start_is_reported():
    module = planted("relu", "    y[i] = (v > real_t(0)", "    y[i - 1] = (v > real_t(0)")
    x = np.ones(8)
    with pytest.raises(emu.EmuKernelError, match=r"relu_forward: wrote argument 1 up to 8 bytes "
                                                 r"before its start"):
        module.get_function("relu_forward")((1,), (8,), (x, np.empty_like(x), np.int32(8)))


def test_arrays_come_back_unchanged_in_place():
    relu = emu.get_kernel("relu", "relu_forward", np.float64)
    x = np.array([-1.0, 2.0, -3.0])
    y = np.full(3, 7.0)
    relu((1,), (4,), (x, y, np.int32(3)))
    np.testing.assert_array_equal(y, [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(x, [-1.0, 2.0, -3.0])


# ---------------------------------------------------------------- launch limits
@pytest.mark.parametrize("grid, block, expected", [
    ((0,), (256,), r"grid \(0,1,1\) has a zero dimension"),
    ((1, 1, 65536), (256,), r"grid \(1,1,65536\): x <= 2\^31 - 1, y and z <= 65535"),
    ((1, 70000), (256,), r"y and z <= 65535"),
    ((1,), (1025,), r"block \(1025,1,1\): at most 1024 threads"),
    ((1,), (1, 1, 65), r"z <= 64"),
    ((1,), (64, 32), r"at most 1024 threads"),
])
def test_invalid_launches_are_rejected(grid, block, expected):
    relu = emu.get_kernel("relu", "relu_forward", np.float64)
    x = np.ones(4)
    expected = r"kernel relu_forward: invalid launch: .*" + expected
    with pytest.raises(emu.EmuKernelError, match=expected):
        relu(grid, block, (x, np.empty_like(x), np.int32(4)))


def test_too_much_static_shared_memory_is_rejected():
    text = """extern "C" __global__ void big(double* y)
{
    __shared__ double tile[64][100];  // 51 200 bytes > 48 KiB
    tile[threadIdx.x][0] = 1;
    __syncthreads();
    y[threadIdx.x] = tile[threadIdx.x][0];
}
"""
    big = emu.EmuModule("big_shared_test", np.float64, kernel_text=text).get_function("big")
    with pytest.raises(emu.EmuKernelError, match=r"51200 bytes of __shared__ memory"):
        big((1,), (4,), (np.zeros(4),))


def test_direct_conv_launcher_refuses_a_grid_z_above_65535(monkeypatch):
    monkeypatch.setattr(cupy_backend, "cp", np)
    monkeypatch.setattr(cupy_backend, "_get_kernel", emu.get_kernel)
    x = np.zeros((65536, 1, 1, 1), np.float32)  # N*F = 65536 blocks in z
    with pytest.raises(ValueError, match=r"N\*F <= 65535"):
        cupy_backend.conv2d_forward_direct(x, np.zeros((1, 1, 1, 1), np.float32),
                                           np.zeros(1, np.float32))


# ---------------------------------------------------------------- the int32 guards, computed
def test_one_dimensional_launch_guard_keeps_every_thread_index_in_int32(monkeypatch):
    # `int idx = blockIdx.x * blockDim.x + threadIdx.x` must not wrap for any thread of the
    # last block: blocks * 256 - 1 <= 2^31 - 1. Checked on the sizes, nothing allocated.
    launched = []
    monkeypatch.setattr(cupy_backend, "_get_kernel",
                        lambda *_: lambda grid, block, args: launched.append((grid, block)))
    limit = cupy_backend.MAX_1D_ELEMENTS
    cupy_backend._launch_1d("relu", "relu_forward", np.float32, limit, ())
    (grid, block), = launched
    assert block == (256,) and grid == (2**23 - 1,)  # the last thread's index: 2^31 - 257
    assert grid[0] * block[0] - 1 <= 2**31 - 1
    with pytest.raises(ValueError, match=r"relu_forward: expected at most 2\*\*31 - 256 "
                                         r"elements, got 2147483393"):
        cupy_backend._launch_1d("relu", "relu_forward", np.float32, limit + 1, ())
    cupy_backend._launch_1d("relu", "relu_forward", np.float32, 0, ())  # zero: no launch
    assert len(launched) == 1


def test_zero_size_grids_are_never_launched(monkeypatch):
    monkeypatch.setattr(cupy_backend, "cp", np)
    monkeypatch.setattr(cupy_backend, "_get_kernel", emu.get_kernel)  # rejects a 0 grid
    db = cupy_backend._bias_grad(np.zeros((2, 0, 3, 3)))  # F = 0
    assert db.shape == (0,)
    y, _ = cupy_backend.conv2d_forward_direct(np.zeros((0, 1, 4, 4)), np.zeros((2, 1, 3, 3)),
                                              np.zeros(2))
    assert y.shape == (0, 2, 2, 2)
    loss, dlogits = cupy_backend.softmax_cross_entropy(np.zeros((0, 2, 3, 3)),
                                                       np.zeros((0, 3, 3), np.int64))
    assert np.isnan(loss) and dlogits.shape == (0, 2, 3, 3)
