"""Fixtures for the Numba CUDA simulator tests (NUMBA_ENABLE_CUDASIM=1, set by `make test`).

The simulator is chosen when numba is first imported, so these tests run in a pytest process
of their own:  NUMBA_ENABLE_CUDASIM=1 .venv/bin/python -m pytest tests/cudasim
Without that variable every test here skips with the reason, instead of touching a GPU.

Helpers shared by the test files are fixtures (tests run with --import-mode=importlib, so
a conftest is not importable as a module).
"""

import sys

import numpy as np
import pytest

# The simulator runs every GPU thread as a Python thread and polls them from the main
# thread; a shorter GIL switch interval lets the threads reach cuda.syncthreads() sooner.
# Only the speed of these tests changes, not what the kernels compute.
sys.setswitchinterval(0.001)


@pytest.fixture(scope="session")
def nb():
    """The numba backend module, running in the simulator (or a skip saying how to run)."""
    numba = pytest.importorskip("numba", reason="numba (the gpu extra) is not installed")
    if not numba.config.ENABLE_CUDASIM:
        pytest.skip("the simulator is off: run NUMBA_ENABLE_CUDASIM=1 python -m pytest "
                    "tests/cudasim (make test does)")
    from minimal_unet.backends import get_backend, simcheck

    simcheck.install()  # divergent barriers and out-of-range indices fail (see simcheck)
    return get_backend("numba")


@pytest.fixture(scope="session")
def kernel():
    """load_numba_module: kernels/numba/<name>.py as a module."""
    from minimal_unet.backends.sources import load_numba_module

    return load_numba_module


@pytest.fixture(scope="session")
def assert_close():
    """assert_close(actual, expected): dtype-aware comparison with the NumPy reference.

    float64: relative error < 1e-12, float32: < 1e-5, both relative to max(1, max |expected|)
    so that entries near 0 do not demand more than the arithmetic can give. The dtypes must
    match exactly (output dtype follows input dtype).
    """

    def check(actual, expected):
        actual = np.asarray(actual)
        expected = np.asarray(expected)
        assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
        assert actual.shape == expected.shape, (actual.shape, expected.shape)
        rtol = 1e-12 if expected.dtype == np.float64 else 1e-5
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)

    return check
