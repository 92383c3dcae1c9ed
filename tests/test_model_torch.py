"""The U-Net against PyTorch: same weights, same logits, same gradients (float64).

The reference network (tests/conftest.py) is built from torch.nn layers and differentiated
by autograd, so it shares no code with minimal_unet. Weights move by name both ways.
"""

import numpy as np
import pytest

from minimal_unet.model import UNet, UNetConfig
from minimal_unet.ops import softmax_cross_entropy
from minimal_unet.optim import SGD

torch = pytest.importorskip("torch", reason="PyTorch (the oracle extra) is not installed")
F = torch.nn.functional


def rel(a, b):
    """max |a - b| / max |b|."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def to_torch(net):
    return {k: torch.from_numpy(v) for k, v in net.state_dict().items()}


CASES = [  # config, (N, H, W), weighted
    (UNetConfig(depth=1, base_channels=2, n_classes=2), (2, 18, 20), False),
    (UNetConfig(depth=2, base_channels=3, n_classes=3, in_channels=2), (2, 44, 52), True),
    (UNetConfig(depth=3, base_channels=4, n_classes=3), (3, 92, 100), True),
    (UNetConfig(depth=2, base_channels=4, n_classes=2, padding="same"), (2, 12, 20), True),
    (UNetConfig(depth=3, base_channels=2, n_classes=3, padding="same", in_channels=3),
     (2, 16, 8), False),
    (UNetConfig(depth=4, base_channels=2, n_classes=2), (1, 188, 204), True),
]


@pytest.mark.parametrize("cfg, nhw, weighted", CASES)
def test_logits_and_every_gradient_match_pytorch(cfg, nhw, weighted, torch_unet):
    net = UNet(cfg, seed=1, dtype=np.float64)
    rng = np.random.default_rng(2)
    for name, p in net.params.items():
        if name.endswith(".bias"):
            p[...] = rng.uniform(-0.1, 0.1, p.shape)  # non-zero biases are compared too
    N, H, W = nhw
    x = rng.standard_normal((N, cfg.in_channels, H, W))

    ref = torch_unet(cfg)
    ref.load_state_dict(to_torch(net))
    x_t = torch.from_numpy(x.copy()).requires_grad_(True)
    logits_t = ref(x_t)

    logits = net.forward(x)
    assert logits.shape == tuple(logits_t.shape)
    assert rel(logits, logits_t.detach().numpy()) < 1e-9

    target = rng.integers(0, cfg.n_classes, (N,) + logits.shape[2:])
    weight = rng.uniform(0.2, 3.0, target.shape) if weighted else None
    loss, dlogits = softmax_cross_entropy(logits, target, weight)
    grads, dx = net.backward(dlogits, return_dx=True)

    per_pixel = F.cross_entropy(logits_t, torch.from_numpy(target), reduction="none")
    loss_t = (per_pixel * torch.from_numpy(weight)).mean() if weighted else per_pixel.mean()
    loss_t.backward()
    assert abs(float(loss) - loss_t.item()) < 1e-12 * abs(loss_t.item())
    assert rel(dx, x_t.grad.numpy()) < 1e-9
    torch_grads = {k: p.grad.numpy() for k, p in ref.named_parameters()}
    assert list(torch_grads) == list(grads)
    for name, g in grads.items():
        assert g.shape == torch_grads[name].shape, name
        assert rel(g, torch_grads[name]) < 1e-9, name


def test_float32_net_matches_pytorch_float32(torch_unet):
    cfg = UNetConfig(depth=2, base_channels=4, n_classes=2)
    net = UNet(cfg, seed=0, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((2, 1, 44, 48)).astype(np.float32)
    ref = torch_unet(cfg, dtype=torch.float32)
    ref.load_state_dict(to_torch(net))
    logits = net.forward(x)
    assert logits.dtype == np.float32
    assert rel(logits, ref(torch.from_numpy(x)).detach().numpy()) < 1e-5


def test_state_dict_round_trip_through_pytorch(torch_unet):
    cfg = UNetConfig(depth=2, base_channels=3, n_classes=3, padding="same")
    ref = torch_unet(cfg)  # PyTorch's own random init
    net = UNet(cfg, seed=0, dtype=np.float64)
    net.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 12))
    assert rel(net.forward(x), ref(torch.from_numpy(x)).detach().numpy()) < 1e-12

    back = torch_unet(cfg)
    back.load_state_dict(to_torch(net))
    for k, v in back.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ref.state_dict()[k].numpy())


def test_sgd_training_matches_pytorch(torch_unet):
    cfg = UNetConfig(depth=2, base_channels=2, n_classes=2, padding="same")
    net = UNet(cfg, seed=3, dtype=np.float64)
    ref = torch_unet(cfg)
    ref.load_state_dict(to_torch(net))
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 1, 8, 8))
    target = rng.integers(0, 2, (2, 8, 8))
    opt = SGD(net.params, lr=0.05, momentum=0.99)
    opt_t = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.99)
    for _ in range(4):
        loss, grads = net.loss_and_grads(x, target)
        opt.step(grads)
        opt_t.zero_grad()
        loss_t = F.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(target))
        loss_t.backward()
        opt_t.step()
        assert abs(float(loss) - loss_t.item()) < 1e-10 * loss_t.item()
    for k, v in ref.state_dict().items():
        assert rel(net.params[k], v.numpy()) < 1e-9, k
