"""Weighted softmax cross-entropy: naive twin, hand values, stability at +-1e4, finite
differences, PyTorch's cross_entropy, dtypes and bad inputs."""

import numpy as np
import pytest

from minimal_unet.gradcheck import check_gradients
from minimal_unet.ops.softmax_ce import softmax_cross_entropy, softmax_cross_entropy_naive

# (N, K, H, W): batch 1 and 3, odd and even class counts, H != W
SHAPES = [(1, 3, 4, 6), (3, 2, 5, 3)]
BOTH = [
    pytest.param(softmax_cross_entropy, id="fast"),
    pytest.param(softmax_cross_entropy_naive, id="naive"),
]


def make_inputs(rng, N, K, H, W, dtype=np.float64):
    logits = (2.0 * rng.standard_normal((N, K, H, W))).astype(dtype)
    target = rng.integers(0, K, size=(N, H, W))
    weight = rng.uniform(0.1, 10.0, size=(N, H, W)).astype(dtype)  # like the paper's map
    return logits, target, weight


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_fast_matches_naive(rng, shape, weighted):
    logits, target, weight = make_inputs(rng, *shape)
    weight = weight if weighted else None
    loss, dlogits = softmax_cross_entropy(logits, target, weight)
    loss_naive, dlogits_naive = softmax_cross_entropy_naive(logits, target, weight)
    assert abs(loss - loss_naive) < 1e-12
    assert np.max(np.abs(dlogits - dlogits_naive)) < 1e-12


@pytest.mark.parametrize("loss_fn", BOTH)
def test_hand_example(loss_fn):
    # two classes, equal logits: p = 1/2 everywhere, loss = log 2 per pixel
    logits = np.zeros((1, 2, 1, 2))
    target = np.array([[[0, 1]]])
    loss, dlogits = loss_fn(logits, target)
    assert loss == pytest.approx(np.log(2.0), rel=1e-15)
    # dL/dz = (p - onehot) / M with M = 2 pixels
    expected = np.array([[[[-0.25, 0.25]], [[0.25, -0.25]]]])
    np.testing.assert_allclose(dlogits, expected, rtol=1e-15)
    # a weight scales each pixel's loss and gradient: weights 3 and 1 -> (3 + 1) log 2 / 2
    loss, dlogits = loss_fn(logits, target, np.array([[[3.0, 1.0]]]))
    assert loss == pytest.approx(2.0 * np.log(2.0), rel=1e-15)
    np.testing.assert_allclose(dlogits[0, :, 0, 0], [-0.75, 0.75], rtol=1e-15)


@pytest.mark.parametrize("loss_fn", BOTH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_at_extreme_logits(torch, loss_fn, dtype):
    # pixel 0: the true class has logit -1e4, the other +1e4 -> loss 2e4; pixel 1: loss ~ 0
    logits = np.array([[[[-1e4, 1e4]], [[1e4, -1e4]]]], dtype=dtype)  # (1, 2, 1, 2)
    target = np.array([[[0, 0]]])
    loss, dlogits = loss_fn(logits, target)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert loss == pytest.approx(1e4, rel=1e-6)  # (2e4 + 0) / 2 pixels
    np.testing.assert_allclose(dlogits[0, :, 0, 0], [-0.5, 0.5], atol=1e-7)
    np.testing.assert_allclose(dlogits[0, :, 0, 1], [0.0, 0.0], atol=1e-7)

    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(target))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-6)
    np.testing.assert_allclose(dlogits, logits_t.grad.numpy(), atol=1e-7)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_finite_differences(rng, shape, weighted):
    logits, target, weight = make_inputs(rng, *shape)
    weight = weight if weighted else None
    _, dlogits = softmax_cross_entropy(logits, target, weight)
    errors = check_gradients(
        lambda logits: softmax_cross_entropy(logits, target, weight)[0],
        {"logits": logits},
        {"logits": dlogits},
    )
    assert errors["logits"] < 1e-7


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_pytorch_weighted(rng, torch, shape):
    logits, target, weight = make_inputs(rng, *shape)
    loss, dlogits = softmax_cross_entropy(logits, target, weight)

    logits_t = torch.tensor(logits, requires_grad=True)
    per_pixel = torch.nn.functional.cross_entropy(
        logits_t, torch.tensor(target), reduction="none"
    )  # (N, H, W)
    loss_t = (per_pixel * torch.tensor(weight)).mean()
    loss_t.backward()
    assert abs(loss - loss_t.item()) < 1e-10
    assert np.max(np.abs(dlogits - logits_t.grad.numpy())) < 1e-10


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_pytorch_unweighted_mean(rng, torch, shape):
    logits, target, _ = make_inputs(rng, *shape)
    loss, dlogits = softmax_cross_entropy(logits, target)

    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(target))
    loss_t.backward()
    assert abs(loss - loss_t.item()) < 1e-10
    assert np.max(np.abs(dlogits - logits_t.grad.numpy())) < 1e-10


@pytest.mark.parametrize("loss_fn", BOTH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(rng, loss_fn, dtype):
    logits, target, weight = make_inputs(rng, 1, 3, 4, 6, dtype=dtype)
    loss, dlogits = loss_fn(logits, target, weight)
    assert isinstance(loss, np.generic) and loss.dtype == dtype  # a NumPy scalar
    assert dlogits.dtype == dtype and dlogits.shape == logits.shape


def test_float32_agrees_with_float64(rng):
    logits, target, weight = make_inputs(rng, 3, 3, 4, 6)
    loss64, dlogits64 = softmax_cross_entropy(logits, target, weight)
    loss32, dlogits32 = softmax_cross_entropy(
        logits.astype(np.float32), target, weight.astype(np.float32)
    )
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(dlogits32, dlogits64, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss_fn", BOTH)
def test_accepts_any_integer_target_dtype(rng, loss_fn):
    logits, target, _ = make_inputs(rng, 1, 3, 4, 6)
    loss64, _ = loss_fn(logits, target.astype(np.int64))
    loss8, _ = loss_fn(logits, target.astype(np.uint8))
    assert loss8 == loss64


def test_does_not_modify_inputs(rng):
    logits, target, weight = make_inputs(rng, 1, 3, 4, 6)
    before = (logits.copy(), target.copy(), weight.copy())
    softmax_cross_entropy(logits, target, weight)
    for array, copy in zip((logits, target, weight), before):
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("loss_fn", BOTH)
@pytest.mark.parametrize(("bad", "where"), [(3, "(0, 1, 2)"), (-1, "(0, 2, 5)")])
def test_out_of_range_target_is_a_value_error(rng, loss_fn, bad, where):
    logits, target, _ = make_inputs(rng, 1, 3, 4, 6)
    n, h, w = (int(i) for i in where.strip("()").split(", "))
    target[n, h, w] = bad
    with pytest.raises(ValueError, match=rf"\[0, 3\), got value {bad} at index \({n}, {h}, {w}\)"):
        loss_fn(logits, target)


@pytest.mark.parametrize("loss_fn", BOTH)
def test_float_target_is_a_type_error(rng, loss_fn):
    logits, target, _ = make_inputs(rng, 1, 3, 4, 6)
    with pytest.raises(TypeError, match=r"target: expected an integer array .* got dtype float64"):
        loss_fn(logits, target.astype(np.float64))


@pytest.mark.parametrize("loss_fn", BOTH)
def test_target_shape_mismatch_is_a_value_error(rng, loss_fn):
    logits, target, _ = make_inputs(rng, 1, 3, 4, 6)
    with pytest.raises(ValueError, match=r"target: expected shape \(1, 4, 6\), got \(1, 6, 4\)"):
        loss_fn(logits, target.reshape(1, 6, 4))


@pytest.mark.parametrize("loss_fn", BOTH)
def test_batch_mismatch_is_a_value_error(rng, loss_fn):
    logits, _, weight = make_inputs(rng, 1, 3, 4, 6)
    target = np.zeros((2, 4, 6), dtype=np.int64)
    with pytest.raises(ValueError, match=r"target: expected shape \(1, 4, 6\), got \(2, 4, 6\)"):
        loss_fn(logits, target, weight)


@pytest.mark.parametrize("loss_fn", BOTH)
def test_bad_weight_is_an_error(rng, loss_fn):
    logits, target, weight = make_inputs(rng, 1, 3, 4, 6)
    with pytest.raises(ValueError, match=r"weight: expected shape \(1, 4, 6\), got \(1, 4, 5\)"):
        loss_fn(logits, target, weight[:, :, :5])
    with pytest.raises(ValueError, match=r"weight: expected shape \(N, H, W\), got shape \(4, 6\)"):
        loss_fn(logits, target, weight[0])
    with pytest.raises(TypeError, match=r"logits=float64, weight=float32"):
        loss_fn(logits, target, weight.astype(np.float32))


@pytest.mark.parametrize("loss_fn", BOTH)
def test_wrong_rank_and_integer_logits_are_errors(rng, loss_fn):
    logits, target, _ = make_inputs(rng, 1, 3, 4, 6)
    expected = r"logits: expected shape \(N, K, H, W\), got shape \(3, 4, 6\)"
    with pytest.raises(ValueError, match=expected):
        loss_fn(logits[0], target)
    with pytest.raises(TypeError, match=r"logits: expected dtype float32 or float64, got int64"):
        loss_fn(logits.astype(np.int64), target)


@pytest.mark.parametrize("loss_fn", BOTH)
@pytest.mark.parametrize(
    ("bad", "shown"), [(-0.5, "-0.5"), (np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")]
)
def test_negative_or_nonfinite_weight_is_a_value_error(rng, loss_fn, bad, shown):
    logits, target, weight = make_inputs(rng, 2, 3, 4, 6)
    weight[1, 2, 3] = bad
    weight[1, 3, 0] = -7.0  # a later bad pixel: the message names the first one
    expected = rf"weight: expected finite pixel weights >= 0, got {shown} at index \(1, 2, 3\)"
    with pytest.raises(ValueError, match=expected):
        loss_fn(logits, target, weight)


@pytest.mark.parametrize("loss_fn", BOTH)
def test_zero_weight_is_accepted(rng, loss_fn):
    logits, target, weight = make_inputs(rng, 1, 2, 3, 4)
    weight[0, 1, 2] = 0.0  # a pixel left out of the loss is fine
    loss, dlogits = loss_fn(logits, target, weight)
    assert np.isfinite(loss)
    np.testing.assert_array_equal(dlogits[0, :, 1, 2], [0.0, 0.0])
