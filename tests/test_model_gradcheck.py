"""Whole-network gradient check: the hand-written backward against finite differences.

float64, centred differences. Small nets get a full finite difference of every parameter
element and every input pixel; larger ones a directional check of every tensor along
several random directions. Loss: softmax cross-entropy over random targets, with and
without a per-pixel weight map. Batch 2 throughout.

Kinks. With its ReLU on/off pattern and its max-pool choices fixed, the net is linear in
any one parameter tensor and in its input, so the loss is smooth there and a large step h
is exact up to rounding. A finite difference is only meaningful if x + h v and x - h v keep
the pattern of x: every evaluation compares the pattern (read from the forward caches)
with the one at x; where a step crosses a kink, h shrinks, then new directions are drawn.
"""

import numpy as np
import pytest

from minimal_unet.gradcheck import check_gradients, directional_check
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.ops import softmax_cross_entropy

TOL = 1e-6


def pattern(net):
    """The piecewise-linear state of the last forward: ReLU on/off masks, pool arg-maxes."""
    state = []
    for name, cache in net._caches.items():  # block caches: (conv1, relu1, conv2, relu2)
        if name.endswith(".pool"):
            state.append(cache[0])  # arg-max index per window
        elif name.startswith(("enc", "dec", "bottom")) and len(cache) == 4:
            state += [cache[1][0] > 0, cache[3][0] > 0]  # relu caches hold y
    return state


def make_case(cfg, hw, weighted, seed=0):
    """Net, inputs {"x": ..., **params} and the loss function f(**inputs) -> float."""
    net = UNet(cfg, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 100)
    for name, p in net.params.items():
        if name.endswith(".bias"):  # non-zero biases, so their gradients are tested too
            p[...] = rng.uniform(-0.1, 0.1, p.shape)
    x = rng.standard_normal((2, cfg.in_channels) + hw)
    out_shape = net.forward(x, train=False).shape
    target = rng.integers(0, cfg.n_classes, (out_shape[0],) + out_shape[2:])
    weight = rng.uniform(0.2, 3.0, target.shape) if weighted else None
    rng_state = net.rng.bit_generator.state  # dropout draws the same mask in every call
    net.forward(x, train=True)
    base_pattern = pattern(net)

    def f(**inputs):
        net.rng.bit_generator.state = rng_state
        logits = net.forward(inputs["x"], train=True)
        loss, _ = softmax_cross_entropy(logits, target, weight)
        f.crossed = f.crossed or not all(
            np.array_equal(a, b) for a, b in zip(pattern(net), base_pattern))
        return float(loss)

    f.crossed = False

    def analytic():
        net.rng.bit_generator.state = rng_state
        logits = net.forward(x, train=True)
        _, dlogits = softmax_cross_entropy(logits, target, weight)
        grads, dx = net.backward(dlogits, return_dx=True)
        return {"x": dx, **grads}

    return net, {"x": x, **net.params}, f, analytic()


FULL = [  # (config, input H x W, weighted): every element by finite differences
    (UNetConfig(depth=1, base_channels=2, n_classes=2, padding="valid"), (18, 20), False),
    (UNetConfig(depth=1, base_channels=2, n_classes=3, padding="valid"), (20, 18), True),
    (UNetConfig(in_channels=2, depth=1, base_channels=3, n_classes=3, padding="same"),
     (6, 4), True),
    (UNetConfig(depth=2, base_channels=2, n_classes=2, padding="same"), (8, 4), False),
]


@pytest.mark.parametrize("cfg, hw, weighted", FULL)
def test_full_finite_differences_small_nets(cfg, hw, weighted):
    _, inputs, f, grads = make_case(cfg, hw, weighted)
    for name, grad in grads.items():
        assert np.abs(grad).max() > 0, f"{name}: zero gradient, the check would be vacuous"
    errors = check_gradients(f, inputs, grads, h=1e-5)
    assert not f.crossed, "a finite-difference step crossed a kink: change the seed"
    assert set(errors) == set(inputs)
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOL, f"{worst}: rel. error {errors[worst]:.2e}"


DIRECTIONAL = [
    (UNetConfig(depth=2, base_channels=3, n_classes=3, padding="valid"), (44, 48), True),
    (UNetConfig(depth=2, base_channels=4, n_classes=2, padding="same"), (8, 12), False),
    (UNetConfig(in_channels=3, depth=3, base_channels=2, n_classes=2, padding="valid"),
     (92, 100), True),
    (UNetConfig(depth=3, base_channels=2, n_classes=3, padding="same"), (16, 8), False),
    (UNetConfig(depth=2, base_channels=4, n_classes=2, padding="same", dropout=0.4),
     (8, 8), True),
]


@pytest.mark.parametrize("cfg, hw, weighted", DIRECTIONAL)
def test_directional_finite_differences(cfg, hw, weighted):
    _, inputs, f, grads = make_case(cfg, hw, weighted)
    for name, grad in grads.items():
        assert np.abs(grad).max() > 0, f"{name}: zero gradient, the check would be vacuous"
    rng = np.random.default_rng(42)
    for name in inputs:
        for direction in range(3):
            error = None
            # a smaller step, then fresh directions, where a step crossed a kink
            for h in (1e-5, 1e-6, 1e-7) * 4:
                f.crossed = False
                error = directional_check(f, inputs, {name: grads[name]}, rng, h=h)[name]
                if not f.crossed:
                    break
            assert not f.crossed, f"{name}: every step crossed a kink"
            assert error < TOL, f"{name}, direction {direction}, h {h}: {error:.2e}"


def test_a_wrong_gradient_is_caught():
    # The check can fail: a gradient with one element off is flagged.
    cfg = UNetConfig(depth=1, base_channels=2, padding="same")
    _, inputs, f, grads = make_case(cfg, (4, 4), weighted=False)
    grads["dec0.conv1.weight"] = grads["dec0.conv1.weight"].copy()
    grads["dec0.conv1.weight"][0, 1, 2, 0] += 1e-3
    errors = check_gradients(f, inputs, {"dec0.conv1.weight": grads["dec0.conv1.weight"]},
                             h=1e-5)
    assert errors["dec0.conv1.weight"] > 1e-4
