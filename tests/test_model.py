"""The U-Net model: config checks, init, input checks, traces, caches, save/load, training."""

import json
import os

import numpy as np
import pytest
from scipy.special import softmax

from minimal_unet import sizes
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.ops import softmax_cross_entropy
from minimal_unet.optim import SGD
from minimal_unet.trace import Trace

SMALL = UNetConfig(depth=2, base_channels=4, n_classes=3)  # valid: legal 44, 48, 52, ...


def small_batch(dtype=np.float64, shape=(2, 1, 44, 48), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ----- config ---------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, error, message", [
    ("in_channels", 0, ValueError, "in_channels: expected an int >= 1, got 0"),
    ("n_classes", 1, ValueError, "n_classes: expected an int >= 2, got 1"),
    ("depth", 0, ValueError, "depth: expected an int >= 1"),
    ("base_channels", 2.0, TypeError, "base_channels: expected an int, got 2.0"),
    ("depth", True, TypeError, "depth: expected an int, got True"),
    ("padding", "full", ValueError, "'valid' or 'same', got 'full'"),
    ("dropout", 1.0, ValueError, "0 <= p < 1, got 1.0"),
    ("dropout", "0.5", TypeError, "dropout: expected a number"),
])
def test_config_validation(field, value, error, message):
    with pytest.raises(error, match=message):
        UNetConfig(**{field: value})


def test_config_is_frozen_and_paper_by_default():
    cfg = UNetConfig()
    assert (cfg.in_channels, cfg.n_classes, cfg.depth, cfg.base_channels, cfg.padding,
            cfg.dropout) == (1, 2, 4, 64, "valid", 0.0)
    with pytest.raises(AttributeError):
        cfg.depth = 3


def test_constructor_errors():
    with pytest.raises(TypeError, match="float32 or float64, got float16"):
        UNet(SMALL, dtype=np.float16)
    with pytest.raises(TypeError, match="UNetConfig, got dict"):
        UNet({"depth": 2})
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        UNet(SMALL, backend="tpu")


# ----- parameters and init ----------------------------------------------------------------

def test_parameter_names_and_shapes_depth_2():
    net = UNet(UNetConfig(in_channels=2, depth=2, base_channels=4, n_classes=3))
    expected = [
        ("enc0.conv1.weight", (4, 2, 3, 3)), ("enc0.conv1.bias", (4,)),
        ("enc0.conv2.weight", (4, 4, 3, 3)), ("enc0.conv2.bias", (4,)),
        ("enc1.conv1.weight", (8, 4, 3, 3)), ("enc1.conv1.bias", (8,)),
        ("enc1.conv2.weight", (8, 8, 3, 3)), ("enc1.conv2.bias", (8,)),
        ("bottom.conv1.weight", (16, 8, 3, 3)), ("bottom.conv1.bias", (16,)),
        ("bottom.conv2.weight", (16, 16, 3, 3)), ("bottom.conv2.bias", (16,)),
        ("dec1.up.weight", (16, 8, 2, 2)), ("dec1.up.bias", (8,)),
        ("dec1.conv1.weight", (8, 16, 3, 3)), ("dec1.conv1.bias", (8,)),
        ("dec1.conv2.weight", (8, 8, 3, 3)), ("dec1.conv2.bias", (8,)),
        ("dec0.up.weight", (8, 4, 2, 2)), ("dec0.up.bias", (4,)),
        ("dec0.conv1.weight", (4, 8, 3, 3)), ("dec0.conv1.bias", (4,)),
        ("dec0.conv2.weight", (4, 4, 3, 3)), ("dec0.conv2.bias", (4,)),
        ("head.weight", (3, 4, 1, 1)), ("head.bias", (3,)),
    ]
    assert [(k, v.shape) for k, v in net.params.items()] == expected
    assert net.n_parameters() == sizes.n_parameters(net.config)


def test_init_is_seeded_and_dtype_independent():
    a64 = UNet(SMALL, seed=3, dtype=np.float64)
    b64 = UNet(SMALL, seed=3, dtype=np.float64)
    a32 = UNet(SMALL, seed=3, dtype=np.float32)
    other = UNet(SMALL, seed=4, dtype=np.float64)
    for name in a64.params:
        np.testing.assert_array_equal(a64.params[name], b64.params[name])
        np.testing.assert_array_equal(a32.params[name], a64.params[name].astype(np.float32))
        assert a32.params[name].dtype == np.float32 and a64.params[name].dtype == np.float64
    assert not np.array_equal(a64.params["enc0.conv1.weight"], other.params["enc0.conv1.weight"])


def test_init_is_he_gaussian_with_zero_biases():
    net = UNet(UNetConfig(depth=2, base_channels=16), seed=0, dtype=np.float64)
    for name, p in net.params.items():
        if name.endswith(".bias"):
            assert not p.any(), name
    cases = {"bottom.conv2.weight": 64 * 9,  # 36,864 samples
             "dec1.conv1.weight": 64 * 9,
             "dec1.up.weight": 64}  # up-conv: fan-in C_in (one input pixel per channel)
    for name, fan_in in cases.items():
        w = net.params[name]
        assert abs(w.std() / np.sqrt(2.0 / fan_in) - 1) < 0.03, name
        assert abs(w.mean()) < 0.03 * np.sqrt(2.0 / fan_in) * 10, name


# ----- forward: shapes and input checks --------------------------------------------------

@pytest.mark.parametrize("cfg, shape, out", [
    (SMALL, (2, 1, 44, 48), (2, 3, 4, 8)),
    (UNetConfig(depth=2, base_channels=2, padding="same"), (1, 1, 8, 12), (1, 2, 8, 12)),
])
def test_forward_output_shape_and_dtype(cfg, shape, out):
    for dtype in (np.float32, np.float64):
        net = UNet(cfg, dtype=dtype)
        logits = net.forward(small_batch(dtype, shape))
        assert logits.shape == out and logits.dtype == dtype


def test_forward_input_errors_come_before_any_op():
    net = UNet(SMALL, dtype=np.float32)
    cases = [
        (small_batch(np.float64), TypeError, "dtype float64 does not match the net's dtype "
                                             "float32"),
        (small_batch(np.float32, (1, 44, 48)), ValueError, r"\(N, C, H, W\), got shape"),
        (small_batch(np.float32, (1, 2, 44, 48)), ValueError, "expected 1 input channel"),
        (small_batch(np.float32, (1, 1, 46, 48)), ValueError, "H = 46 .*44 or 48"),
        (small_batch(np.float32, (1, 1, 44, 50)), ValueError, "W = 50 .*48 or 52"),
        ([[1.0]], TypeError, "expected an array"),
    ]
    for x, error, message in cases:
        trace = Trace()
        with pytest.raises(error, match=message):
            net.forward(x, trace=trace)
        assert len(trace) == 0  # nothing ran


def test_backward_needs_one_forward():
    net = UNet(SMALL, dtype=np.float64)
    with pytest.raises(RuntimeError, match="call net.forward"):
        net.backward(np.zeros((2, 3, 4, 8)))
    logits = net.forward(small_batch())
    net.backward(np.ones_like(logits))
    with pytest.raises(RuntimeError, match="one backward"):
        net.backward(np.ones_like(logits))


def test_backward_skips_the_images_gradient_unless_asked(monkeypatch):
    # A training step never needs dL/dx of the image: enc0.conv1's backward runs with
    # need_dx=False (every other conv with True), and the gradients keep their bits.
    net = UNet(SMALL, dtype=np.float64)
    x = small_batch()
    dlogits = np.random.default_rng(9).standard_normal(net.forward(x).shape)
    with_dx, dx = net.backward(dlogits, return_dx=True)
    assert dx.shape == x.shape and np.abs(dx).max() > 0
    calls = []
    real = net.ops.conv2d_backward

    def spy(dy, cache, need_dx=True):
        calls.append((cache[0].shape, need_dx))
        return real(dy, cache, need_dx=need_dx)

    monkeypatch.setattr(net.ops, "conv2d_backward", spy)
    net.forward(x)
    without = net.backward(dlogits)
    assert [need for _, need in calls].count(False) == 1
    assert calls[-1] == (x.shape, False)  # the last conv back is enc0.conv1, on the image
    for name in net.params:
        np.testing.assert_array_equal(without[name], with_dx[name])
    calls.clear()
    net.forward(x)
    net.backward(dlogits, trace=Trace())  # a trace records input.grad: dx is computed
    assert all(need for _, need in calls)


# ----- traces and caches -----------------------------------------------------------------

def test_trace_holds_the_very_arrays_the_computation_used():
    net = UNet(SMALL, dtype=np.float64)
    x = small_batch()
    tr = Trace()
    logits = net.forward(x, trace=tr)
    dlogits = np.random.default_rng(1).standard_normal(logits.shape)
    grads, dx = net.backward(dlogits, trace=tr, return_dx=True)

    assert tr["enc0.conv1.in"] is x
    assert tr["head.out"] is logits
    assert tr["head.grad_in"] is dlogits
    assert tr["input.grad"] is dx
    for block in ("enc0", "enc1", "bottom", "dec1", "dec0"):
        assert tr[f"{block}.relu1.out"] is tr[f"{block}.conv2.in"]  # no copy between layers
        assert tr[f"{block}.relu2.grad_in"].shape == tr[f"{block}.relu2.out"].shape
    for i in (0, 1):
        assert tr[f"dec{i}.concat.out"] is tr[f"dec{i}.conv1.in"]
        assert tr[f"enc{i}.grad"] is tr[f"enc{i}.relu2.grad_in"]
        # the feature map that fed both the pool and the skip gets the sum of both gradients
        np.testing.assert_array_equal(
            tr[f"enc{i}.grad"], tr[f"enc{i}.grad_from_pool"] + tr[f"enc{i}.grad_from_skip"])
    assert tr["enc1.pool.out"] is tr["bottom.conv1.in"]
    assert tr["bottom.relu2.out"] is tr["dec1.up.in"]
    assert tr["dec1.relu2.out"] is tr["dec0.up.in"]
    assert tr["dec0.relu2.out"] is tr["head.in"]
    # the skip half of the concatenation is the centre-cropped encoder output (crop 4 + 0)
    skip, cat = tr["enc1.relu2.out"], tr["dec1.concat.out"]  # (2, 8, 16, 18), (2, 16, 8, 10)
    np.testing.assert_array_equal(cat[:, :8], skip[:, :, 4:4 + 8, 4:4 + 10])
    np.testing.assert_array_equal(cat[:, 8:], tr["dec1.up.out"])
    # forward names come before backward names, in the order the computation ran
    names = tr.names()
    assert names.index("enc0.pool.out") < names.index("dec0.up.out") < names.index("head.out")
    assert names.index("head.grad_in") < names.index("dec0.up.grad_in") < names.index(
        "enc0.grad_from_pool")
    assert list(grads) == list(net.params)


def test_trace_summary_and_errors():
    tr = Trace()
    tr.record("a", np.array([[1.0, 3.0]], dtype=np.float32))
    tr.record("b", np.zeros((0,)))
    text = tr.summary()
    first = text.splitlines()[1].split()
    assert first[:3] == ["a", "1x2", "float32"]
    assert [float(v) for v in first[3:]] == [1.0, 3.0, 2.0]
    assert "-" in text.splitlines()[2]
    with pytest.raises(ValueError, match="already holds 'a'"):
        tr.record("a", np.zeros(1))
    with pytest.raises(KeyError, match="no entry 'c'"):
        tr["c"]
    assert "a" in tr and len(tr) == 2 and list(tr) == ["a", "b"]


def _arrays_in(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _arrays_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _arrays_in(item)


def test_caches_hold_layer_inputs_only_and_are_freed():
    net = UNet(UNetConfig(depth=2, base_channels=4, dropout=0.5), dtype=np.float32)
    tr = Trace()
    logits = net.forward(small_batch(np.float32), trace=tr)
    traced = [id(a) for _, a in tr.items()] + [id(p) for p in net.params.values()]
    for a in _arrays_in(net._caches):
        # a layer input/output that the trace names, a parameter, or a small index/mask
        assert id(a) in traced or a.dtype in (np.uint8, np.bool_), (a.shape, a.dtype)
    net.backward(np.ones_like(logits))
    assert net._caches is None


def test_predict_proba_is_the_softmax_of_the_logits_and_keeps_no_cache():
    net = UNet(SMALL, dtype=np.float64)
    x = small_batch()
    logits = net.forward(x, train=False)
    net._caches = None
    proba = net.predict_proba(x)
    assert net._caches is None
    np.testing.assert_allclose(proba, softmax(logits, axis=1), rtol=1e-13)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-13)


def test_loss_and_grads_is_forward_loss_backward():
    net = UNet(SMALL, dtype=np.float64)
    x = small_batch()
    rng = np.random.default_rng(5)
    target = rng.integers(0, 3, (2, 4, 8))
    weight = rng.uniform(0.5, 2.0, (2, 4, 8))
    loss, grads = net.loss_and_grads(x, target, weight)
    expected_loss, dlogits = softmax_cross_entropy(net.forward(x), target, weight)
    expected = net.backward(dlogits)
    assert loss == expected_loss
    for name in net.params:
        np.testing.assert_array_equal(grads[name], expected[name])


# ----- dropout ----------------------------------------------------------------------------

def test_dropout_uses_the_nets_seeded_rng():
    cfg = UNetConfig(depth=1, base_channels=4, padding="same", dropout=0.5)
    x = small_batch(np.float64, (1, 1, 8, 8))
    a, b = UNet(cfg, seed=1, dtype=np.float64), UNet(cfg, seed=1, dtype=np.float64)
    assert isinstance(a.rng, np.random.Generator)
    np.testing.assert_array_equal(a.forward(x, train=False), a.forward(x, train=False))
    train_a1, train_a2 = a.forward(x), a.forward(x)
    assert not np.array_equal(train_a1, train_a2)  # a fresh mask every call
    np.testing.assert_array_equal(train_a1, b.forward(x))  # same seed, same masks
    state = a.rng.bit_generator.state
    first = a.forward(x)
    a.rng.bit_generator.state = state
    np.testing.assert_array_equal(a.forward(x), first)


# ----- save / load / state_dict --------------------------------------------------------

def test_save_load_round_trip(tmp_path):
    cfg = UNetConfig(in_channels=2, depth=2, base_channels=2, padding="same", dropout=0.25)
    net = UNet(cfg, seed=7, dtype=np.float64)
    net.params["head.bias"][...] = [0.5, -0.5]
    path = tmp_path / "net.npz"
    net.save(path)
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]  # no temporary file left behind
    with np.load(path, allow_pickle=False) as f:  # readable without pickle
        assert "__meta__" in f.files
    loaded = UNet.load(path)
    assert loaded.config == cfg and loaded.dtype == np.float64 and loaded.seed == 7
    assert loaded.input_offset == (0.0, 0.0)
    net.input_offset = (0.6, -0.15)  # trained with align_labels: inference needs it back
    net.save(tmp_path / "aligned.npz")
    assert UNet.load(tmp_path / "aligned.npz").input_offset == (0.6, -0.15)
    for name in net.params:
        np.testing.assert_array_equal(loaded.params[name], net.params[name])
    x = small_batch(np.float64, (1, 2, 8, 8))
    np.testing.assert_array_equal(loaded.forward(x), net.forward(x))  # same rng state too


def _write_npz(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_load_errors_name_the_problem(tmp_path):
    net = UNet(UNetConfig(depth=1, base_channels=2), dtype=np.float32)
    good = tmp_path / "good.npz"
    net.save(good)
    with np.load(good, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}

    _write_npz(tmp_path / "plain.npz", {"w": np.zeros(2)})
    with pytest.raises(ValueError, match="not a minimal_unet model file"):
        UNet.load(tmp_path / "plain.npz")

    missing = {k: v for k, v in arrays.items() if k != "dec0.up.bias"}
    _write_npz(tmp_path / "missing.npz", missing)
    with pytest.raises(ValueError, match="missing key 'dec0.up.bias'"):
        UNet.load(tmp_path / "missing.npz")

    _write_npz(tmp_path / "extra.npz", {**arrays, "enc1.conv1.weight": np.zeros((4, 2, 3, 3))})
    with pytest.raises(ValueError, match="unexpected key 'enc1.conv1.weight'"):
        UNet.load(tmp_path / "extra.npz")

    _write_npz(tmp_path / "shape.npz", {**arrays, "head.weight": np.zeros((2, 3, 1, 1))})
    with pytest.raises(ValueError, match=r"'head.weight' expected shape \(2, 2, 1, 1\), "
                                         r"got \(2, 3, 1, 1\)"):
        UNet.load(tmp_path / "shape.npz")

    with pytest.raises(ValueError, match="another architecture"):
        UNet.load(good, config=UNetConfig(depth=2, base_channels=2))

    meta = json.loads(str(arrays["__meta__"]))
    del meta["input_offset"]  # a file written before the offset existed: none
    _write_npz(tmp_path / "older.npz", {**arrays, "__meta__": np.array(json.dumps(meta))})
    assert UNet.load(tmp_path / "older.npz").input_offset == (0.0, 0.0)
    for bad in ([0.5], [0.5, "x"], [0.5, float("nan")], "0.5", [True, 0.0]):
        meta["input_offset"] = bad
        _write_npz(tmp_path / "bad.npz", {**arrays, "__meta__": np.array(json.dumps(meta))})
        with pytest.raises(ValueError, match="expected 'input_offset' \\[dy, dx\\] of two "
                                             "finite numbers"):
            UNet.load(tmp_path / "bad.npz")


def test_load_state_dict_casts_checks_and_keeps_optimisers_in_sync():
    net = UNet(SMALL, dtype=np.float32)
    opt = SGD(net.params, lr=0.1, momentum=0.0)
    state = {k: np.full(v.shape, 0.25, dtype=np.float64) for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    assert all(p.dtype == np.float32 and (p == 0.25).all() for p in net.params.values())
    opt.step({k: np.ones_like(v) for k, v in net.params.items()})
    assert (net.params["head.weight"] == np.float32(0.25 - 0.1)).all()  # the new arrays moved
    bad = dict(state, **{"head.bias": np.zeros(3, dtype=np.int64)})
    with pytest.raises(TypeError, match="'head.bias' expected a float array, got dtype int64"):
        net.load_state_dict(bad)
    snapshot = net.state_dict()
    snapshot["head.bias"][...] = 9.0
    assert not (net.params["head.bias"] == 9.0).any()  # state_dict returns copies


# ----- training ---------------------------------------------------------------------------

def _train(seed, steps=6):
    net = UNet(UNetConfig(depth=2, base_channels=4, padding="same"), seed=seed,
               dtype=np.float64)
    opt = SGD(net.params, lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 16, 16))
    target = (x[:, 0] > 0.3).astype(np.int64)  # learnable: a threshold of the input
    losses = []
    for _ in range(steps):
        loss, grads = net.loss_and_grads(x, target)
        opt.step(grads)
        losses.append(float(loss))
    return losses


def test_a_few_sgd_steps_lower_the_loss_reproducibly():
    losses = _train(seed=0)
    assert losses[-1] < 0.8 * losses[0]
    assert losses == _train(seed=0)
    assert losses != _train(seed=1)
