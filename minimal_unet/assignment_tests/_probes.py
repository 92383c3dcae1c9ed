"""What the sandbox child runs for the graded tests: calls into the student's package.

Loaded by file path inside the child (minimal_unet.assignment._child), never by the
grader. Each probe imports the student's function when it is called and returns arrays
and plain values only; the grader (the parent process) judges them.
"""

import importlib

import numpy as np


def _student(target):
    """'minimal_unet.ops.relu:relu_forward_naive' -> the student's object."""
    module, _, qualname = target.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def call(target, *args, **kwargs):
    """The student's function on the given arguments: (result, the arguments afterwards)."""
    result = _student(target)(*args, **kwargs)
    return result, list(args)


def numerical_gradient_cube(x, h=1e-6):
    """numerical_gradient of sum(x^3); (grad, x afterwards)."""
    grad = _student("minimal_unet.gradcheck:numerical_gradient")(
        lambda v: np.sum(v**3), x, h=h)
    return grad, x


def numerical_gradient_linear(A, x, dy):
    """numerical_gradient of A @ x contracted with dy."""
    return _student("minimal_unet.gradcheck:numerical_gradient")(lambda v: A @ v, x, dy=dy)


def _net(params, config):
    UNet = _student("minimal_unet.model:UNet")
    UNetConfig = _student("minimal_unet.model:UNetConfig")
    net = UNet(UNetConfig(**config), seed=0, dtype=np.float64)
    for name, value in params.items():
        net.params[name][...] = value
    return net


def block_backward(params, config, name, x, d_out):
    """The student's UNet._block_backward after the (kept) _block_forward: (grads, dx)."""
    net = _net(params, config)
    caches = {}
    net._block_forward(name, x, caches, None)
    grads = {}
    dx = net._block_backward(name, d_out, caches[name], grads, None)
    return grads, dx


def unet_backward(params, config, x, dlogits):
    """The student's UNet.backward after the (kept) forward: (grads, dx)."""
    net = _net(params, config)
    net.forward(x)
    grads, dx = net.backward(dlogits, return_dx=True)
    return dict(grads), dx
