"""A whole tiny U-Net training step on the numba backend equals the same step on NumPy.

Forward, weighted softmax cross-entropy, backward and one Caffe SGD update, with
UNet(config, seed, dtype, backend="numba") against backend="numpy" from the same seed:
depth 1, 2 base channels, the smallest legal input, float64, agreement to 1e-10.
Runs in the Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
"""

import numpy as np


def test_unet_step_on_numba_equals_numpy(nb):
    from minimal_unet import sizes
    from minimal_unet.model import UNet, UNetConfig
    from minimal_unet.optim import SGD

    config = UNetConfig(in_channels=1, n_classes=2, depth=1, base_channels=2)
    size = sizes.nearest_legal_input_size(config, 1)  # the smallest legal input
    out_h, out_w = sizes.output_size(config, (size, size))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, size, size))
    target = rng.integers(0, 2, size=(2, out_h, out_w))
    weight = rng.random((2, out_h, out_w)) + 0.5

    ref = UNet(config, seed=3, dtype=np.float64, backend="numpy")
    net = UNet(config, seed=3, dtype=np.float64, backend="numba")
    loss_ref, grads_ref = ref.loss_and_grads(x, target, weight)
    loss, grads = net.loss_and_grads(nb.asarray(x), nb.asarray(target), nb.asarray(weight))

    def close(actual, expected):
        expected = np.asarray(expected)
        scale = max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale)

    assert np.asarray(nb.asnumpy(loss)).dtype == np.float64
    close(nb.asnumpy(loss), loss_ref)
    assert list(grads) == list(grads_ref)
    for name in grads_ref:
        close(nb.asnumpy(grads[name]), grads_ref[name])
    assert any(np.abs(g).max() > 1e-6 for g in grads_ref.values())  # a real signal

    sgd_ref = SGD(ref.params, lr=0.05, momentum=0.9, backend="numpy")
    sgd = SGD(net.params, lr=0.05, momentum=0.9, backend="numba")
    sgd_ref.step(grads_ref)
    sgd.step(grads)
    for name in ref.params:
        close(nb.asnumpy(net.params[name]), ref.params[name])
        close(nb.asnumpy(sgd.velocity[name]), sgd_ref.velocity[name])


def test_train_makes_an_adam_that_steps_a_numba_net(nb):
    # `train --optimizer adam --backend numba` builds its optimiser with make_optimizer.
    from types import SimpleNamespace

    from minimal_unet.model import UNet, UNetConfig
    from minimal_unet.train import make_optimizer

    config = UNetConfig(in_channels=1, n_classes=2, depth=1, base_channels=2)
    net = UNet(config, seed=3, dtype=np.float64, backend="numba")
    ref = UNet(config, seed=3, dtype=np.float64, backend="numpy")
    cfg = SimpleNamespace(optimizer="adam", schedule="constant", lr=0.01, momentum=0.99,
                          steps=10, step_drop=0.1, step_every=5)
    opt, opt_ref = make_optimizer(net, cfg), make_optimizer(ref, cfg)
    rng = np.random.default_rng(1)
    grads = {k: rng.standard_normal(p.shape) for k, p in ref.params.items()}
    opt_ref.step(grads)
    opt.step({k: nb.asarray(g) for k, g in grads.items()})
    for name in ref.params:
        np.testing.assert_allclose(nb.asnumpy(net.params[name]), ref.params[name], rtol=1e-12,
                                   atol=1e-12)
