"""Centre-crop and concatenate: naive twin, the paper's sizes, finite differences, PyTorch
(torch.cat of a cropped tensor), dtypes and bad inputs."""

import numpy as np
import pytest

from minimal_unet.gradcheck import check_gradients
from minimal_unet.ops.crop_concat import (
    crop_and_concat_backward,
    crop_and_concat_backward_naive,
    crop_and_concat_forward,
    crop_and_concat_forward_naive,
)

# (skip shape, up shape): batch 1 and 3, odd and even channels, H != W, crops of
# (2, 2), (1, 3) and none
SHAPES = [
    ((1, 3, 8, 10), (1, 2, 4, 6)),
    ((3, 2, 7, 9), (3, 3, 5, 3)),
    ((1, 1, 4, 5), (1, 2, 4, 5)),
]
BOTH = [
    pytest.param(crop_and_concat_forward, crop_and_concat_backward, id="fast"),
    pytest.param(crop_and_concat_forward_naive, crop_and_concat_backward_naive, id="naive"),
]


def make_inputs(rng, skip_shape, up_shape, dtype=np.float64):
    skip = rng.standard_normal(skip_shape).astype(dtype)
    up = rng.standard_normal(up_shape).astype(dtype)
    N, Cu, Hu, Wu = up_shape
    dy = rng.standard_normal((N, skip_shape[1] + Cu, Hu, Wu)).astype(dtype)
    return skip, up, dy


@pytest.mark.parametrize(("skip_shape", "up_shape"), SHAPES)
def test_fast_matches_naive(rng, skip_shape, up_shape):
    skip, up, dy = make_inputs(rng, skip_shape, up_shape)
    y, cache = crop_and_concat_forward(skip, up)
    y_naive, cache_naive = crop_and_concat_forward_naive(skip, up)
    assert np.max(np.abs(y - y_naive)) < 1e-12
    dskip, dup = crop_and_concat_backward(dy, cache)
    dskip_naive, dup_naive = crop_and_concat_backward_naive(dy, cache_naive)
    assert np.max(np.abs(dskip - dskip_naive)) < 1e-12
    assert np.max(np.abs(dup - dup_naive)) < 1e-12


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_paper_sizes_crop_four_pixels_per_side(rng, forward, backward):
    # the paper's first up step, with one channel each: skip 64x64, up 56x56, crop 4 per side
    skip = rng.standard_normal((1, 1, 64, 64))
    up = rng.standard_normal((1, 1, 56, 56))
    y, cache = forward(skip, up)
    assert y.shape == (1, 2, 56, 56)
    np.testing.assert_array_equal(y[0, 0], skip[0, 0, 4:60, 4:60])
    np.testing.assert_array_equal(y[0, 1], up[0, 0])
    dskip, dup = backward(np.ones((1, 2, 56, 56)), cache)
    assert dskip.shape == skip.shape and dup.shape == up.shape
    # the gradient reaches the skip map only inside the crop window
    assert dskip.sum() == 56 * 56
    np.testing.assert_array_equal(dskip[0, 0, 4:60, 4:60], 1.0)


@pytest.mark.parametrize(("skip_shape", "up_shape"), SHAPES)
def test_gradients_match_finite_differences(rng, skip_shape, up_shape):
    skip, up, dy = make_inputs(rng, skip_shape, up_shape)
    _, cache = crop_and_concat_forward(skip, up)
    dskip, dup = crop_and_concat_backward(dy, cache)
    errors = check_gradients(
        lambda skip, up: crop_and_concat_forward(skip, up)[0],
        {"skip": skip, "up": up},
        {"skip": dskip, "up": dup},
        dy=dy,
    )
    assert errors["skip"] < 1e-7 and errors["up"] < 1e-7


@pytest.mark.parametrize(("skip_shape", "up_shape"), SHAPES)
def test_matches_pytorch(rng, torch, skip_shape, up_shape):
    skip, up, dy = make_inputs(rng, skip_shape, up_shape)
    y, cache = crop_and_concat_forward(skip, up)
    dskip, dup = crop_and_concat_backward(dy, cache)

    _, _, Hs, Ws = skip_shape
    _, _, Hu, Wu = up_shape
    top, left = (Hs - Hu) // 2, (Ws - Wu) // 2
    skip_t = torch.tensor(skip, requires_grad=True)
    up_t = torch.tensor(up, requires_grad=True)
    y_t = torch.cat([skip_t[:, :, top : top + Hu, left : left + Wu], up_t], dim=1)
    y_t.backward(torch.tensor(dy))
    assert np.max(np.abs(y - y_t.detach().numpy())) < 1e-10
    assert np.max(np.abs(dskip - skip_t.grad.numpy())) < 1e-10
    assert np.max(np.abs(dup - up_t.grad.numpy())) < 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(rng, dtype):
    skip, up, dy = make_inputs(rng, *SHAPES[1], dtype=dtype)
    y, cache = crop_and_concat_forward(skip, up)
    dskip, dup = crop_and_concat_backward(dy, cache)
    assert {y.dtype, dskip.dtype, dup.dtype} == {np.dtype(dtype)}


def test_float32_agrees_with_float64(rng):
    skip, up, dy = make_inputs(rng, *SHAPES[0])
    y64, cache64 = crop_and_concat_forward(skip, up)
    y32, cache32 = crop_and_concat_forward(skip.astype(np.float32), up.astype(np.float32))
    np.testing.assert_allclose(y32, y64, rtol=1e-6)
    for g32, g64 in zip(
        crop_and_concat_backward(dy.astype(np.float32), cache32),
        crop_and_concat_backward(dy, cache64),
    ):
        np.testing.assert_allclose(g32, g64, rtol=1e-6)


def test_backward_returns_new_arrays(rng):
    skip, up, dy = make_inputs(rng, *SHAPES[0])
    _, cache = crop_and_concat_forward(skip, up)
    dskip, dup = crop_and_concat_backward(dy, cache)
    assert not np.shares_memory(dup, dy) and not np.shares_memory(dskip, dy)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_odd_difference_is_a_value_error(forward, backward):
    with pytest.raises(ValueError, match=r"even difference in H .* got skip H = 7, up H = 4"):
        forward(np.zeros((1, 2, 7, 8)), np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"even difference in W .* got skip W = 9, up W = 4"):
        forward(np.zeros((1, 2, 8, 9)), np.zeros((1, 2, 4, 4)))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_smaller_skip_is_a_value_error(forward, backward):
    with pytest.raises(ValueError, match=r"skip: expected H >= up's H = 6 .* got skip H = 4"):
        forward(np.zeros((1, 2, 4, 8)), np.zeros((1, 2, 6, 6)))
    with pytest.raises(ValueError, match=r"skip: expected W >= up's W = 6 .* got skip W = 2"):
        forward(np.zeros((1, 2, 8, 2)), np.zeros((1, 2, 6, 6)))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_batch_mismatch_is_a_value_error(forward, backward):
    with pytest.raises(ValueError, match=r"same batch size N, got skip N=2, up N=3"):
        forward(np.zeros((2, 2, 8, 8)), np.zeros((3, 2, 4, 4)))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_wrong_rank_is_a_value_error(forward, backward):
    expected = r"up: expected shape \(N, Cu, Hu, Wu\), got shape \(2, 4, 4\)"
    with pytest.raises(ValueError, match=expected):
        forward(np.zeros((1, 2, 8, 8)), np.zeros((2, 4, 4)))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_integer_and_mixed_dtypes_are_type_errors(forward, backward):
    with pytest.raises(TypeError, match=r"skip: expected dtype float32 or float64, got int64"):
        forward(np.zeros((1, 2, 8, 8), dtype=np.int64), np.zeros((1, 2, 4, 4)))
    with pytest.raises(TypeError, match=r"skip=float32, up=float64"):
        forward(np.zeros((1, 2, 8, 8), dtype=np.float32), np.zeros((1, 2, 4, 4)))


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_upstream_shape_mismatch_is_a_value_error(forward, backward):
    _, cache = forward(np.zeros((1, 2, 8, 8)), np.zeros((1, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"dy: expected shape .* 4, 4\), got \(1, 5, 6, 6\)"):
        backward(np.zeros((1, 5, 6, 6)), cache)
