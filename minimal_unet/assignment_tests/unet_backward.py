"""Graded: UNet._block_backward and UNet.backward.

The student's backward runs in the sandbox on parameters chosen here; the directional
finite differences use the GRADER's own UNet forward (the teacher's installed package),
so nothing the student changed in the copy's forward can make a wrong backward agree.
"""

import numpy as np

from minimal_unet.assignment_tests._harness import graded

TOL = 1e-6  # measured: a correct backward agrees to ~1e-9 (float64, h = 1e-6)
H = 1e-6


def _teacher_net(config, rng):
    from minimal_unet.model import UNet, UNetConfig

    net = UNet(UNetConfig(**config), seed=3, dtype=np.float64)
    for name, p in net.params.items():  # biases away from zero: every term exercised
        if name.endswith(".bias"):
            p[...] = 0.1 * rng.standard_normal(p.shape)
    return net


def _directional(loss, array, rng):
    v = rng.standard_normal(array.shape)
    original = array.copy()
    array[...] = original + H * v
    plus = loss()
    array[...] = original - H * v
    minus = loss()
    array[...] = original
    return (plus - minus) / (2 * H), v


def _agree(numerical, grad, v):
    projected = float(np.sum(np.asarray(grad, dtype=np.float64) * v))
    return abs(numerical - projected) / max(abs(numerical) + abs(projected), 1e-300)


def _check(loss, net, grads, names, x, dx, rng):
    assert sorted(grads) == sorted(names), \
        f"expected gradients for {sorted(names)}, got {sorted(grads)}"
    for name in names:
        g = grads[name]
        assert np.shape(g) == net.params[name].shape, \
            f"{name}: expected shape {net.params[name].shape}, got {np.shape(g)}"
        numerical, v = _directional(loss, net.params[name], rng)
        error = _agree(numerical, g, v)
        assert error < TOL, f"{name}: relative error {error:.1e} against finite differences"
    numerical, v = _directional(loss, x, rng)
    error = _agree(numerical, dx, v)
    assert error < TOL, f"dL/dx: relative error {error:.1e} against finite differences"


@graded("UNet._block_backward")
def block_backward_matches_finite_differences(box, rng):
    """One encoder block (conv, relu, conv, relu): every weight, bias and the input."""
    config = dict(in_channels=1, n_classes=2, depth=1, base_channels=2)
    net = _teacher_net(config, rng)
    x = rng.standard_normal((1, 1, 10, 9))
    out = net._block_forward("enc0", x, None, None)
    d_out = rng.standard_normal(out.shape)
    grads, dx = box.call("block_backward", dict(net.params), config, "enc0", x, d_out)

    def loss():
        return float(np.sum(net._block_forward("enc0", x, None, None) * d_out))

    names = [f"enc0.conv{k}.{p}" for k in (1, 2) for p in ("weight", "bias")]
    _check(loss, net, grads, names, x, dx, rng)


@graded("UNet.backward")
def backward_every_parameter_and_input(box, rng):
    """Depth 2, the smallest legal tile: every parameter's gradient and dL/dx."""
    config = dict(in_channels=1, n_classes=2, depth=2, base_channels=2)
    net = _teacher_net(config, rng)
    x = rng.standard_normal((1, 1, 44, 44))
    dlogits = rng.standard_normal(net.forward(x).shape)
    grads, dx = box.call("unet_backward", dict(net.params), config, x, dlogits)

    def loss():
        return float(np.sum(net.forward(x) * dlogits))

    _check(loss, net, grads, list(net.params), x, dx, rng)


@graded("UNet.backward", hidden=True)
def backward_batch_of_two(box, rng):
    """A batch of two: the gradients sum over the batch."""
    config = dict(in_channels=1, n_classes=2, depth=2, base_channels=2)
    net = _teacher_net(config, rng)
    x = rng.standard_normal((2, 1, 44, 44))
    dlogits = rng.standard_normal(net.forward(x).shape)
    grads, dx = box.call("unet_backward", dict(net.params), config, x, dlogits)

    def loss():
        return float(np.sum(net.forward(x) * dlogits))

    _check(loss, net, grads, list(net.params), x, dx, rng)
