"""The optimisers and schedules, against hand-computed values and PyTorch's optimisers."""

import numpy as np
import pytest

from minimal_unet import optim


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_momentum_update_hand_values(dtype):
    param = np.array([1.0, 2.0], dtype=dtype)
    grad = np.array([0.5, -1.0], dtype=dtype)
    velocity = np.array([0.1, 0.0], dtype=dtype)
    grad_before = grad.copy()
    param_id, velocity_id = id(param), id(velocity)
    optim.sgd_momentum_update(param, grad, velocity, lr=0.1, momentum=0.9)
    # v = 0.9 * [0.1, 0] - 0.1 * [0.5, -1] = [0.04, 0.1];  p = [1.04, 2.1]
    np.testing.assert_allclose(velocity, [0.04, 0.1], rtol=1e-6)
    np.testing.assert_allclose(param, [1.04, 2.1], rtol=1e-6)
    assert param.dtype == dtype and velocity.dtype == dtype
    assert id(param) == param_id and id(velocity) == velocity_id  # in place
    np.testing.assert_array_equal(grad, grad_before)  # grad untouched


def test_sgd_momentum_update_large_and_non_contiguous_arrays():
    rng = np.random.default_rng(0)
    size = 3 * optim.CHUNK + 17  # several slices and a ragged end
    p0, g, v0 = (rng.standard_normal(size) for _ in range(3))
    param, velocity = p0.copy(), v0.copy()
    optim.sgd_momentum_update(param, g, velocity, lr=0.01, momentum=0.99)
    np.testing.assert_allclose(velocity, 0.99 * v0 - 0.01 * g, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(param, p0 + 0.99 * v0 - 0.01 * g, rtol=1e-13, atol=1e-15)

    p2 = rng.standard_normal((5, 7))
    g2 = rng.standard_normal((7, 5)).T  # non-contiguous views take the plain path
    v2 = rng.standard_normal((7, 5)).T
    expected_v = 0.5 * v2 - 0.2 * g2
    expected_p = p2 + expected_v
    optim.sgd_momentum_update(p2, g2, v2, lr=0.2, momentum=0.5)
    np.testing.assert_allclose(v2, expected_v, rtol=1e-14)
    np.testing.assert_allclose(p2, expected_p, rtol=1e-14)


def test_sgd_momentum_update_errors():
    a = np.zeros(3)
    with pytest.raises(ValueError, match=r"one shape.*grad \(4,\)"):
        optim.sgd_momentum_update(a, np.zeros(4), np.zeros(3), 0.1, 0.9)
    with pytest.raises(TypeError, match="one dtype"):
        optim.sgd_momentum_update(a, np.zeros(3, np.float32), np.zeros(3), 0.1, 0.9)
    with pytest.raises(TypeError, match="grad: expected a numpy.ndarray, got list"):
        optim.sgd_momentum_update(a, [0.0, 0.0, 0.0], np.zeros(3), 0.1, 0.9)
    with pytest.raises(TypeError, match="float32 or float64, got int64"):
        optim.sgd_momentum_update(np.zeros(3, np.int64), a, a, 0.1, 0.9)


def test_sgd_class_two_steps_by_hand():
    params = {"w": np.array([1.0]), "b": np.array([0.0, 0.0])}
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    grads = {"w": np.array([1.0]), "b": np.array([1.0, -2.0])}
    opt.step(grads)  # v = -0.1 g; p = p - 0.1 g
    np.testing.assert_allclose(params["w"], [0.9])
    np.testing.assert_allclose(params["b"], [-0.1, 0.2])
    opt.step(grads)  # v = 0.9 * (-0.1 g) - 0.1 g = -0.19 g
    np.testing.assert_allclose(params["w"], [0.9 - 0.19])
    np.testing.assert_allclose(opt.velocity["b"], [-0.19, 0.38])
    assert opt.step_count == 2


def test_sgd_with_a_schedule_uses_the_step_count():
    params = {"w": np.array([0.0])}
    opt = optim.SGD(params, lr=lambda step: 1.0 / (step + 1), momentum=0.0)
    for _ in range(3):
        opt.step({"w": np.array([1.0])})
    np.testing.assert_allclose(params["w"], [-(1.0 + 0.5 + 1.0 / 3.0)])
    assert opt.current_lr() == 0.25


def test_sgd_state_dict_resumes_identically():
    rng = np.random.default_rng(0)
    grads = [{"w": rng.standard_normal((3, 2))} for _ in range(4)]
    params_a = {"w": np.ones((3, 2))}
    opt_a = optim.SGD(params_a, lr=0.05, momentum=0.9)
    for g in grads:
        opt_a.step(g)

    params_b = {"w": np.ones((3, 2))}
    opt_b = optim.SGD(params_b, lr=0.05, momentum=0.9)
    for g in grads[:2]:
        opt_b.step(g)
    state = opt_b.state_dict()
    params_c = {"w": params_b["w"].copy()}
    opt_c = optim.SGD(params_c, lr=0.05, momentum=0.5)
    opt_c.load_state_dict(state)
    assert opt_c.step_count == 2 and opt_c.momentum == 0.9
    for g in grads[2:]:
        opt_c.step(g)
    np.testing.assert_array_equal(params_c["w"], params_a["w"])


def test_sgd_errors():
    params = {"w": np.zeros(2)}
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD(params, lr=0.1, momentum=1.0)
    with pytest.raises(TypeError, match="lr"):
        optim.SGD(params, lr="0.1")
    with pytest.raises(ValueError, match="lr >= 0"):
        optim.SGD(params, lr=-1.0)
    opt = optim.SGD(params, lr=0.1)
    with pytest.raises(ValueError, match=r"missing \['w'\].*unexpected \['v'\]"):
        opt.step({"v": np.zeros(2)})
    with pytest.raises(ValueError, match=r"velocity\['w'\]: expected shape \(2,\)"):
        opt.load_state_dict({"step": 0, "momentum": 0.9, "velocity": {"w": np.zeros(3)}})


def test_sgd_matches_torch_sgd_with_constant_lr():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(5)]
    params = {"w": p0.copy()}
    opt = optim.SGD(params, lr=0.03, momentum=0.99)
    tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    topt = torch.optim.SGD([tp], lr=0.03, momentum=0.99)
    for g in grads:
        opt.step({"w": g})
        tp.grad = torch.from_numpy(g.copy())
        topt.step()
    np.testing.assert_allclose(params["w"], tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_adam_first_step_by_hand():
    # t = 1: m_hat = g, v_hat = g^2, so p <- p - lr * g / (|g| + eps)
    params = {"w": np.array([1.0, 1.0, 1.0])}
    g = np.array([0.5, -2.0, 0.0])
    opt = optim.Adam(params, lr=0.1, eps=1e-8)
    opt.step({"w": g})
    np.testing.assert_allclose(params["w"], 1.0 - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(params["w"], [0.9, 1.1, 1.0], rtol=1e-7)


def test_adam_matches_torch_adam_and_resumes():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal(6)
    grads = [rng.standard_normal(6) for _ in range(4)]
    params = {"w": p0.copy()}
    opt = optim.Adam(params, lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    topt = torch.optim.Adam([tp], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    for i, g in enumerate(grads):
        if i == 2:  # round trip through the state dict mid-run
            state = opt.state_dict()
            opt = optim.Adam(params, lr=0.01, betas=(0.8, 0.99), eps=1e-6)
            opt.load_state_dict(state)
        opt.step({"w": g})
        tp.grad = torch.from_numpy(g.copy())
        topt.step()
    np.testing.assert_allclose(params["w"], tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_schedules_hand_values():
    assert optim.constant(123, 0.1) == 0.1
    assert [optim.step_decay(s, 1.0, drop=0.5, every=10) for s in (0, 9, 10, 25)] == [
        1.0, 1.0, 0.5, 0.25]
    assert optim.cosine(0, 1.0, 100) == 1.0
    assert optim.cosine(50, 1.0, 100) == pytest.approx(0.5)
    assert optim.cosine(100, 1.0, 100) == pytest.approx(0.0)
    assert optim.cosine(500, 1.0, 100, lr_min=0.1) == pytest.approx(0.1)
    assert optim.cosine(50, 1.0, 100, lr_min=0.2) == pytest.approx(0.6)
    assert optim.poly(0, 2.0, 10, power=1.0) == 2.0
    assert optim.poly(5, 2.0, 10, power=1.0) == pytest.approx(1.0)
    assert optim.poly(5, 1.0, 10, power=2.0) == pytest.approx(0.25)
    assert optim.poly(20, 1.0, 10) == 0.0


def test_schedule_errors():
    with pytest.raises(ValueError, match="every"):
        optim.step_decay(0, 1.0, every=0)
    with pytest.raises(ValueError, match="total_steps"):
        optim.cosine(0, 1.0, 0)
    with pytest.raises(ValueError, match="total_steps"):
        optim.poly(0, 1.0, 0)
