"""Graded: crop_and_concat_forward_naive, crop_and_concat_backward_naive (hand values,
finite differences)."""

import numpy as np
import pytest
from _oracles import finite_difference, rel_err, student

CROP = "minimal_unet.ops.crop_concat"


@pytest.mark.exercise("crop_and_concat_forward_naive")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_hand_values(dtype):
    skip = np.arange(36, dtype=dtype).reshape(1, 1, 6, 6)
    up = np.full((1, 2, 4, 4), -1.0, dtype=dtype)
    y, cache = student(CROP, "crop_and_concat_forward_naive")(skip, up)
    assert y.dtype == dtype and y.shape == (1, 3, 4, 4)
    np.testing.assert_array_equal(y[0, 0, 0], [7, 8, 9, 10])  # row 1, columns 1..4 of skip
    np.testing.assert_array_equal(y[0, 0, 3], [25, 26, 27, 28])  # row 4
    np.testing.assert_array_equal(y[0, 1:], up[0])
    assert tuple(cache[0]) == (1, 1, 6, 6) and cache[1:] == (1, 1)  # (skip.shape, top, left)


@pytest.mark.exercise("crop_and_concat_forward_naive")
def test_forward_different_crops_per_axis_and_no_crop(rng):
    skip, up = rng.standard_normal((2, 3, 8, 5)), rng.standard_normal((2, 1, 4, 5))
    y, cache = student(CROP, "crop_and_concat_forward_naive")(skip, up)
    np.testing.assert_array_equal(y[:, 0:3], skip[:, :, 2:6, 0:5])  # top 2, left 0
    np.testing.assert_array_equal(y[:, 3:4], up)
    assert cache[1:] == (2, 0)


@pytest.mark.exercise("crop_and_concat_backward_naive")
def test_backward_hand_values():
    dy = np.arange(1.0, 1.0 + 2 * 2 * 2).reshape(1, 2, 2, 2)  # channel 0: skip, 1: up
    dskip, dup = student(CROP, "crop_and_concat_backward_naive")(dy, ((1, 1, 4, 4), 1, 1))
    np.testing.assert_array_equal(dskip[0, 0], [[0, 0, 0, 0],
                                                [0, 1, 2, 0],
                                                [0, 3, 4, 0],
                                                [0, 0, 0, 0]])
    np.testing.assert_array_equal(dup[0, 0], [[5, 6], [7, 8]])


@pytest.mark.exercise("crop_and_concat_backward_naive")
def test_backward_matches_finite_differences(rng):
    skip, up = rng.standard_normal((1, 2, 6, 4)), rng.standard_normal((1, 3, 2, 2))
    dy = rng.standard_normal((1, 5, 2, 2))
    dskip, dup = student(CROP, "crop_and_concat_backward_naive")(dy, (skip.shape, 2, 1))

    def loss():
        y = np.concatenate([skip[:, :, 2:4, 1:3], up], axis=1)
        return np.sum(y * dy)

    assert rel_err(dskip, finite_difference(loss, skip)) < 1e-7
    assert rel_err(dup, finite_difference(loss, up)) < 1e-7
