"""Graded: UNet._block_backward and UNet.backward (directional finite differences of the
network's own forward pass, which is not part of the exercise)."""

import numpy as np
import pytest
from _oracles import rel_err, student

MODEL = "minimal_unet.model"
H = 1e-6


def _tiny_net(depth=2):
    UNet, UNetConfig = student(MODEL, "UNet"), student(MODEL, "UNetConfig")
    config = UNetConfig(in_channels=1, n_classes=2, depth=depth, base_channels=2)
    return UNet(config, seed=3, dtype=np.float64)


def _directional(loss, array, rng):
    """(d loss / d array) . v by a centred difference along a random v; returns (value, v)."""
    v = rng.standard_normal(array.shape)
    original = array.copy()
    array[...] = original + H * v
    plus = loss()
    array[...] = original - H * v
    minus = loss()
    array[...] = original
    return (plus - minus) / (2 * H), v


def _agree(numerical, grad, v):
    projected = float(np.sum(grad * v))
    return abs(numerical - projected) / max(abs(numerical) + abs(projected), 1e-300)


@pytest.mark.exercise("UNet._block_backward")
def test_block_backward_matches_finite_differences(rng):
    net = _tiny_net(depth=1)
    x = rng.standard_normal((1, 1, 10, 9))
    caches = {}
    out = net._block_forward("enc0", x, caches, None)
    d_out = rng.standard_normal(out.shape)
    grads = {}
    dx = net._block_backward("enc0", d_out, caches["enc0"], grads, None)

    def loss():
        return float(np.sum(net._block_forward("enc0", x, None, None) * d_out))

    assert sorted(grads) == sorted(f"enc0.conv{k}.{p}" for k in (1, 2) for p in ("weight", "bias"))
    for name, g in grads.items():
        numerical, v = _directional(loss, net.params[name], rng)
        assert _agree(numerical, g, v) < 1e-6, name
    numerical, v = _directional(loss, x, rng)
    assert _agree(numerical, dx, v) < 1e-6


@pytest.mark.exercise("UNet.backward")
def test_backward_every_parameter_and_input(rng):
    net = _tiny_net(depth=2)
    x = rng.standard_normal((1, 1, 44, 44))  # the smallest legal valid-padding tile, depth 2
    for name, p in net.params.items():  # biases away from zero: every term exercised
        if name.endswith(".bias"):
            p[...] = 0.1 * rng.standard_normal(p.shape)
    logits = net.forward(x)
    dlogits = rng.standard_normal(logits.shape)
    grads, dx = net.backward(dlogits, return_dx=True)

    def loss():
        return float(np.sum(net.forward(x) * dlogits))

    assert list(grads) == list(net.params)
    for name, g in grads.items():
        assert g.shape == net.params[name].shape, name
        numerical, v = _directional(loss, net.params[name], rng)
        assert _agree(numerical, g, v) < 1e-6, name
    numerical, v = _directional(loss, x, rng)
    assert _agree(numerical, dx, v) < 1e-6


def _torch_unet(torch, params, x, depth):
    """The same U-Net written with torch.nn.functional, for autograd to differentiate."""
    F = torch.nn.functional

    def block(name, h):
        h = F.relu(F.conv2d(h, params[f"{name}.conv1.weight"], params[f"{name}.conv1.bias"]))
        return F.relu(F.conv2d(h, params[f"{name}.conv2.weight"], params[f"{name}.conv2.bias"]))

    skips, h = [], x
    for i in range(depth):
        h = block(f"enc{i}", h)
        skips.append(h)
        h = F.max_pool2d(h, 2)
    h = block("bottom", h)
    for i in reversed(range(depth)):
        up = F.conv_transpose2d(h, params[f"dec{i}.up.weight"], params[f"dec{i}.up.bias"],
                                stride=2)
        top = (skips[i].shape[2] - up.shape[2]) // 2
        left = (skips[i].shape[3] - up.shape[3]) // 2
        crop = skips[i][:, :, top:top + up.shape[2], left:left + up.shape[3]]
        h = block(f"dec{i}", torch.cat([crop, up], dim=1))
    return F.conv2d(h, params["head.weight"], params["head.bias"])


@pytest.mark.exercise("UNet.backward")
def test_backward_matches_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    net = _tiny_net(depth=2)
    x = rng.standard_normal((2, 1, 44, 44))
    dlogits = rng.standard_normal(net.forward(x).shape)
    grads = net.backward(dlogits)
    t_params = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    logits = _torch_unet(torch, t_params, torch.from_numpy(x), depth=2)
    logits.backward(torch.from_numpy(dlogits))
    for name, t in t_params.items():
        assert rel_err(grads[name], t.grad.numpy()) < 1e-10, name
