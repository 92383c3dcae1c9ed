"""2x2 stride-2 transposed convolution: naive twin, hand example, finite differences,
PyTorch's conv_transpose2d, dtypes and bad inputs."""

import contextlib

import numpy as np
import pytest

from minimal_unet.gradcheck import check_gradients
from minimal_unet.ops import _threads
from minimal_unet.ops.upconv2d import (
    upconv2d_backward,
    upconv2d_backward_naive,
    upconv2d_forward,
    upconv2d_forward_naive,
)

# (N, C_in, C_out, H, W): batch 1 and 3, odd and even channel counts, H != W
SHAPES = [(1, 3, 2, 3, 4), (3, 4, 5, 2, 3)]
BOTH = [
    pytest.param(upconv2d_forward, upconv2d_backward, id="fast"),
    pytest.param(upconv2d_forward_naive, upconv2d_backward_naive, id="naive"),
]


def make_inputs(rng, N, C_in, C_out, H, W, dtype=np.float64):
    x = rng.standard_normal((N, C_in, H, W)).astype(dtype)
    w = rng.standard_normal((C_in, C_out, 2, 2)).astype(dtype)
    b = rng.standard_normal(C_out).astype(dtype)
    dy = rng.standard_normal((N, C_out, 2 * H, 2 * W)).astype(dtype)
    return x, w, b, dy


@pytest.mark.parametrize("part_bytes", [None, 8], ids=["one-product", "a-part-per-row"])
@pytest.mark.parametrize("shape", SHAPES)
def test_fast_matches_naive(rng, monkeypatch, shape, part_bytes):
    every_product = contextlib.nullcontext()
    if part_bytes is not None:  # the work cut into parts (_threads.parts) of one input
        monkeypatch.setattr(_threads, "_PART_BYTES", part_bytes)  # row each, on our threads
        monkeypatch.setenv("MINIMAL_UNET_THREADS", "2")
        every_product = _threads.every_product_on_our_threads()
        N, C_in, C_out, H, W = shape
        assert len(_threads.parts(H, N * C_out * 4 * W * 8)) == H
    x, w, b, dy = make_inputs(rng, *shape)
    with every_product:
        y, cache = upconv2d_forward(x, w, b)
        grads = upconv2d_backward(dy, cache)
    y_naive, cache_naive = upconv2d_forward_naive(x, w, b)
    assert np.max(np.abs(y - y_naive)) < 1e-12
    grads_naive = upconv2d_backward_naive(dy, cache_naive)
    for grad, grad_naive in zip(grads, grads_naive):
        assert grad.shape == grad_naive.shape
        assert np.max(np.abs(grad - grad_naive)) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_parts_give_the_same_bits_on_any_number_of_our_threads(rng, monkeypatch, dtype):
    # On our threads the work is cut into parts of input rows by the shapes alone, and
    # dL/dw is the parts' products summed in part order: 2 threads and 3 give equal bits.
    monkeypatch.setattr(_threads, "_PART_BYTES", 8)  # one part per input row
    N, C_in, C_out, H, W = 2, 4, 3, 7, 5
    assert len(_threads.parts(H, N * C_out * 4 * W * np.dtype(dtype).itemsize)) == H
    x, w, b, dy = make_inputs(rng, N, C_in, C_out, H, W, dtype)
    results = {}
    for threads in ("2", "3"):
        monkeypatch.setenv("MINIMAL_UNET_THREADS", threads)
        with _threads.every_product_on_our_threads():
            assert _threads.every_product()
            y, cache = upconv2d_forward(x, w, b)
            results[threads] = [y, *upconv2d_backward(dy, cache)]
    for two, three in zip(results["2"], results["3"]):
        np.testing.assert_array_equal(two, three)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_hand_example(forward, backward):
    # one channel in and out, a 1x2 input: each pixel paints x * w + b into its own 2x2 block
    x = np.array([[[[1.0, 2.0]]]])  # (1, 1, 1, 2)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
    b = np.array([10.0])
    y, cache = forward(x, w, b)
    np.testing.assert_array_equal(y, [[[[11.0, 12.0, 12.0, 14.0], [13.0, 14.0, 16.0, 18.0]]]])

    dy = np.array([[[[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]]]])
    dx, dw, db = backward(dy, cache)
    # dx[pixel] = sum over its block of w * dy: pixel 0 sees w[0,0] = 1; pixel 1, w[0,1] + w[1,0]
    np.testing.assert_array_equal(dx, [[[[1.0, 5.0]]]])
    # dw[a, c] = sum over pixels of x * dy at offset (a, c)
    np.testing.assert_array_equal(dw, [[[[1.0, 2.0], [2.0, 0.0]]]])
    np.testing.assert_array_equal(db, [3.0])


@pytest.mark.parametrize("shape", SHAPES)
def test_gradients_match_finite_differences(rng, shape):
    x, w, b, dy = make_inputs(rng, *shape)
    _, cache = upconv2d_forward(x, w, b)
    dx, dw, db = upconv2d_backward(dy, cache)
    errors = check_gradients(
        lambda x, w, b: upconv2d_forward(x, w, b)[0],
        {"x": x, "w": w, "b": b},
        {"x": dx, "w": dw, "b": db},
        dy=dy,
    )
    assert set(errors) == {"x", "w", "b"}
    for name, error in errors.items():
        assert error < 1e-7, name


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_pytorch(rng, torch, shape):
    x, w, b, dy = make_inputs(rng, *shape)
    y, cache = upconv2d_forward(x, w, b)
    dx, dw, db = upconv2d_backward(dy, cache)

    x_t, w_t, b_t = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y_t = torch.nn.functional.conv_transpose2d(x_t, w_t, b_t, stride=2)
    y_t.backward(torch.tensor(dy))
    assert np.max(np.abs(y - y_t.detach().numpy())) < 1e-10
    assert np.max(np.abs(dx - x_t.grad.numpy())) < 1e-10
    assert np.max(np.abs(dw - w_t.grad.numpy())) < 1e-10
    assert np.max(np.abs(db - b_t.grad.numpy())) < 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(rng, dtype):
    x, w, b, dy = make_inputs(rng, 1, 3, 2, 3, 4, dtype=dtype)
    y, cache = upconv2d_forward(x, w, b)
    dx, dw, db = upconv2d_backward(dy, cache)
    assert y.shape == (1, 2, 6, 8)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    assert {a.dtype for a in (y, dx, dw, db)} == {np.dtype(dtype)}


def test_float32_agrees_with_float64(rng):
    x, w, b, dy = make_inputs(rng, 3, 4, 5, 2, 3)
    y64, cache64 = upconv2d_forward(x, w, b)
    y32, cache32 = upconv2d_forward(*(a.astype(np.float32) for a in (x, w, b)))
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-5)
    grads64 = upconv2d_backward(dy, cache64)
    grads32 = upconv2d_backward(dy.astype(np.float32), cache32)
    for g32, g64 in zip(grads32, grads64):
        np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_wrong_rank_is_a_value_error(rng, forward, backward):
    x, w, b, _ = make_inputs(rng, 1, 3, 2, 3, 4)
    expected = r"x: expected shape \(N, C_in, H, W\), got shape \(3, 3, 4\)"
    with pytest.raises(ValueError, match=expected):
        forward(x[0], w, b)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_wrong_kernel_size_is_a_value_error(rng, forward, backward):
    x, _, b, _ = make_inputs(rng, 1, 3, 2, 3, 4)
    w = np.zeros((3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"w: expected shape \(3, 2, 2, 2\), got \(3, 2, 3, 3\)"):
        forward(x, w, b)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_channel_mismatch_is_a_value_error(rng, forward, backward):
    x, _, b, _ = make_inputs(rng, 1, 3, 2, 3, 4)
    w = np.zeros((4, 2, 2, 2))  # C_in = 4, but x has 3 channels
    with pytest.raises(ValueError, match=r"w: expected shape \(3, 2, 2, 2\), got \(4, 2, 2, 2\)"):
        forward(x, w, b)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_bias_shape_mismatch_is_a_value_error(rng, forward, backward):
    x, w, _, _ = make_inputs(rng, 1, 3, 2, 3, 4)
    with pytest.raises(ValueError, match=r"b: expected shape \(2,\), got \(3,\)"):
        forward(x, w, np.zeros(3))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_integer_input_is_a_type_error(rng, forward, backward):
    _, w, b, _ = make_inputs(rng, 1, 3, 2, 3, 4)
    with pytest.raises(TypeError, match=r"x: expected dtype float32 or float64, got int64"):
        forward(np.ones((1, 3, 3, 4), dtype=np.int64), w, b)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_mixed_dtypes_are_a_type_error(rng, forward, backward):
    x, w, b, _ = make_inputs(rng, 1, 3, 2, 3, 4)
    with pytest.raises(TypeError, match=r"x=float64, w=float32, b=float64"):
        forward(x, w.astype(np.float32), b)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_upstream_shape_mismatch_is_a_value_error(rng, forward, backward):
    x, w, b, _ = make_inputs(rng, 1, 3, 2, 3, 4)
    _, cache = forward(x, w, b)
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2, 6, 8\), got \(1, 2, 6, 6\)"):
        backward(np.zeros((1, 2, 6, 6)), cache)
