"""Backends: the same op functions on NumPy (CPU), CuPy + our CUDA C kernels, or Numba CUDA.

    ops = get_backend("numpy")      # or "cupy", or "numba"
    y, cache = ops.conv2d_forward(x, w, b, pad=0)

Every backend module exposes the same names with the same signatures as `minimal_unet.ops`
(forward/backward of conv2d, relu, maxpool2d, upconv2d, crop_and_concat, dropout, and
softmax_cross_entropy), plus the few array helpers a network step needs:

    asarray(numpy_array) -> device array     asnumpy(device_array) -> numpy array
    zeros_like(a)                            add(a, b) -> a + b (new array)
    sgd_momentum_update(param, grad, velocity, lr, momentum)   # in place, see optim.py

The choice is made once, explicitly, by name. A backend whose package or GPU is missing
raises `BackendUnavailableError` saying what is missing; there is never a silent fallback
to NumPy.
"""

import importlib

BACKENDS = ("numpy", "cupy", "numba")


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here (package or GPU missing)."""


def get_backend(name):
    """Return the backend module called `name` ("numpy", "cupy" or "numba")."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(BACKENDS)}")
    module = importlib.import_module(f"minimal_unet.backends.{name}_backend")
    module.ensure_available()  # raises BackendUnavailableError naming what is missing
    return module
