"""The simulator checks of minimal_unet.backends.simcheck, proven on planted bugs.

Numba's own simulator releases a barrier once every *live* thread waits, NumPy wraps
negative indices, and a race in shared memory often gives the right answer; all three let
kernels pass that fail on a GPU. Each test plants one bug in a
copy of a shipped kernel file (or a tiny kernel here) and asserts the named failure.
Runs in the Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
"""

import importlib.util
import sys

import numpy as np
import pytest

pytest.importorskip("numba", reason="numba (the gpu extra) is not installed")
from numba import cuda, float64  # noqa: E402  (module globals: the simulator swaps `cuda`)


def planted_module(tmp_path, name, old, new):
    """kernels/numba/<name>.py with `old` replaced by `new` (exactly once), imported."""
    from minimal_unet.backends.sources import kernels_root

    source = (kernels_root() / "numba" / f"{name}.py").read_text()
    assert source.count(old) == 1, f"{old!r} is not in {name}.py exactly once"
    path = tmp_path / f"planted_{name}.py"
    path.write_text(source.replace(old, new))
    spec = importlib.util.spec_from_file_location(f"planted_{name}_{id(path)}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module, path


def line_of(path, text):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_shipped_bias_grad_passes_with_the_checks_on(nb, kernel):
    dy = np.random.default_rng(0).standard_normal((2, 3, 40))
    db = cuda.device_array(3)
    kernel("bias").make_bias_grad_kernel(np.dtype(np.float64), 16)[3, 16](cuda.to_device(dy), db)
    np.testing.assert_allclose(db.copy_to_host(), dy.sum(axis=(0, 2)), rtol=1e-12)


def test_barrier_inside_a_branch_fails_naming_kernel_line_and_threads(nb, tmp_path):
    from minimal_unet.backends.simcheck import SimulatorCheckError

    old = ("            if t < half:\n                partial[t] += partial[t + half]\n"
           "            cuda.syncthreads()\n")
    new = ("            if t < half:\n                partial[t] += partial[t + half]\n"
           "                cuda.syncthreads()\n")
    module, path = planted_module(tmp_path, "bias", old, new)
    line = line_of(path, "                cuda.syncthreads()")
    dy = cuda.to_device(np.ones((1, 2, 5)))
    with pytest.raises(SimulatorCheckError) as error:
        module.make_bias_grad_kernel(np.dtype(np.float64), 8)[2, 8](dy, cuda.device_array(2))
    message = str(error.value)
    assert "kernel bias_grad" in message and "divergent barrier" in message
    assert f"on line {line}" in message and "left the kernel" in message
    assert "block (0,0,0)" in message


def test_threads_at_different_barriers_fail(nb):
    from minimal_unet.backends.simcheck import SimulatorCheckError

    @cuda.jit
    def two_barriers(out):
        t = cuda.threadIdx.x
        if t % 2:
            cuda.syncthreads()
        else:
            cuda.syncthreads()
        out[t] = t

    with pytest.raises(SimulatorCheckError, match=r"two_barriers: block \(0,0,0\): threads wait "
                                                  r"at different barriers: thread \(0,0,0\)"):
        two_barriers[1, 4](cuda.device_array(4))


def test_negative_index_read_fails_instead_of_wrapping(nb):
    @cuda.jit
    def shift(x, y):
        i = cuda.grid(1)
        if i < y.size:
            y[i] = x[i - 1]  # thread 0 reads x[-1]: the last element in NumPy, garbage on a GPU

    with pytest.raises(IndexError, match=r"kernel shift .*index -1 out of range for axis 0 "
                                         r"of size 4"):
        shift[1, 4](cuda.to_device(np.arange(4.0)), cuda.device_array(4))


def test_off_by_one_past_the_end_fails_in_a_shipped_kernel_copy(nb, tmp_path):
    module, _ = planted_module(
        tmp_path, "relu", "    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):",
        "    for i in range(cuda.grid(1), x.size + 1, cuda.gridsize(1)):")
    x = cuda.to_device(np.ones(6))
    with pytest.raises(IndexError, match=r"relu_forward .*index 6 out of range .*size 6"):
        module.relu_forward[1, 8](x, cuda.device_array(6))


def test_shared_memory_index_out_of_range_fails(nb):
    @cuda.jit
    def reverse(x, y):
        tile = cuda.shared.array(4, float64)
        t = cuda.threadIdx.x
        tile[t] = x[t]
        cuda.syncthreads()
        y[t] = tile[3 - t - 1]  # thread 3 reads tile[-1]

    with pytest.raises(IndexError, match=r"kernel reverse .*index -1 out of range .*size 4"):
        reverse[1, 4](cuda.to_device(np.arange(4.0)), cuda.device_array(4))


def test_nan_semantics_of_relu_and_maxpool(nb):
    nan = np.nan
    x = np.array([[[[nan, 1.0, 1.0, 5.0, 1.0, 2.0, 4.0, 4.0],
                    [2.0, 3.0, nan, nan, 3.0, nan, 4.0, 4.0]]]])
    y, (argmax, _) = nb.maxpool2d_forward(nb.asarray(x))
    y, argmax = nb.asnumpy(y), nb.asnumpy(argmax)
    np.testing.assert_array_equal(y, [[[[nan, nan, nan, 4.0]]]])
    np.testing.assert_array_equal(argmax, [[[[0, 2, 3, 0]]]])  # first NaN; tie: first max
    dx = nb.asnumpy(nb.maxpool2d_backward(nb.asarray(np.full((1, 1, 1, 4), 7.0)),
                                          (nb.asarray(argmax), x.shape)))
    assert dx[0, 0, 0, 0] == 7 and dx[0, 0, 1, 2] == 7 and dx[0, 0, 1, 5] == 7
    assert dx[0, 0, 0, 6] == 7 and np.count_nonzero(dx) == 4
    r, _ = nb.relu_forward(nb.asarray(np.array([nan, -1.0, 2.0, -0.0])))
    np.testing.assert_array_equal(nb.asnumpy(r), [nan, 0.0, 2.0, 0.0])


def test_missing_barrier_in_a_shipped_kernel_copy_is_reported(nb, tmp_path):
    # bias.py without the barrier after `partial[t] = total`: thread t reads partial[t + half]
    # in the interval thread t + half writes it (a race, or a read before any write).
    from minimal_unet.backends.simcheck import SimulatorCheckError

    module, path = planted_module(tmp_path, "bias",
                                  "        partial[t] = total\n        cuda.syncthreads()\n",
                                  "        partial[t] = total\n")
    dy = cuda.to_device(np.ones((1, 2, 5)))
    for _ in range(3):
        with pytest.raises(SimulatorCheckError) as error:
            module.make_bias_grad_kernel(np.dtype(np.float64), 8)[2, 8](dy, cuda.device_array(2))
        message = str(error.value)
        assert "kernel bias_grad (planted_bias.py:" in message
        assert "data race on shared element" in message or "never written" in message


def test_reading_shared_memory_nobody_wrote_is_reported(nb):
    from minimal_unet.backends.simcheck import SimulatorCheckError

    @cuda.jit
    def stale(y):
        tile = cuda.shared.array(4, float64)
        t = cuda.threadIdx.x
        if t > 0:
            tile[t] = t
        cuda.syncthreads()
        y[t] = tile[0]  # nobody wrote tile[0]

    with pytest.raises(SimulatorCheckError, match=r"kernel stale .*reads shared element \(0,\), "
                                                  r"never written in this block"):
        stale[1, 4](cuda.device_array(4))


def test_two_threads_writing_one_shared_element_is_a_race(nb):
    from minimal_unet.backends.simcheck import SimulatorCheckError

    @cuda.jit
    def clash(y):
        tile = cuda.shared.array(2, float64)
        t = cuda.threadIdx.x
        tile[0] = t  # every thread writes element 0 in the same interval
        cuda.syncthreads()
        y[t] = tile[1 - 1]

    with pytest.raises(SimulatorCheckError, match=r"data race on shared element \(0,\): thread "
                                                  r"\d writes it, thread \d wrote it"):
        clash[1, 4](cuda.device_array(4))
