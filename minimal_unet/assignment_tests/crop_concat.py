"""Graded: crop_and_concat_forward_naive, crop_and_concat_backward_naive."""

import numpy as np

from minimal_unet.assignment_tests._harness import equal, graded, run
from minimal_unet.assignment_tests._oracles import directional_error

FWD = "minimal_unet.ops.crop_concat:crop_and_concat_forward_naive"
BWD = "minimal_unet.ops.crop_concat:crop_and_concat_backward_naive"


@graded("crop_and_concat_forward_naive")
def forward_hand_values(box, rng):
    """A 6x6 skip centre-cropped to 4x4; cache = (skip.shape, top, left)."""
    for dtype in (np.float32, np.float64):
        skip = np.arange(36, dtype=dtype).reshape(1, 1, 6, 6)
        up = np.full((1, 2, 4, 4), -1.0, dtype=dtype)
        y, cache = run(box, FWD, skip, up)
        assert y.dtype == dtype, f"expected dtype {np.dtype(dtype)}, got {y.dtype}"
        assert y.shape == (1, 3, 4, 4), f"expected shape (1, 3, 4, 4), got {y.shape}"
        equal(y[0, 0, 0], [7, 8, 9, 10], "y[0, 0, 0] (row 1, columns 1..4 of skip)")
        equal(y[0, 0, 3], [25, 26, 27, 28], "y[0, 0, 3]")
        equal(y[0, 1:], up[0], "the up channels")
        assert tuple(cache[0]) == (1, 1, 6, 6) and tuple(cache[1:]) == (1, 1), \
            "the contract: cache = (skip.shape, top, left)"


@graded("crop_and_concat_forward_naive", hidden=True)
def forward_different_crops_per_axis_and_no_crop(box, rng):
    """Crop 2 rows at the top, none at the left."""
    skip, up = rng.standard_normal((2, 3, 8, 5)), rng.standard_normal((2, 1, 4, 5))
    y, cache = run(box, FWD, skip, up)
    equal(y[:, 0:3], skip[:, :, 2:6, 0:5], "the cropped skip channels")
    equal(y[:, 3:4], up, "the up channels")
    assert tuple(cache[1:]) == (2, 0), f"expected (top, left) = (2, 0), got {tuple(cache[1:])}"


@graded("crop_and_concat_backward_naive")
def backward_hand_values(box, rng):
    """The skip's gradient is pasted back at the crop window, zero elsewhere."""
    dy = np.arange(1.0, 1.0 + 2 * 2 * 2).reshape(1, 2, 2, 2)  # channel 0: skip, 1: up
    dskip, dup = run(box, BWD, dy, ((1, 1, 4, 4), 1, 1))
    equal(dskip[0, 0], [[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]], "dskip")
    equal(dup[0, 0], [[5, 6], [7, 8]], "dup")


@graded("crop_and_concat_backward_naive", hidden=True)
def backward_matches_finite_differences(box, rng):
    """Random input: directional finite differences."""
    skip, up = rng.standard_normal((1, 2, 6, 4)), rng.standard_normal((1, 3, 2, 2))
    dy = rng.standard_normal((1, 5, 2, 2))
    grads = run(box, BWD, dy, (skip.shape, 2, 1))

    def loss():
        return np.sum(np.concatenate([skip[:, :, 2:4, 1:3], up], axis=1) * dy)

    error = directional_error(loss, [skip, up], grads, rng)
    assert error < 1e-7, f"relative error {error:.1e} against finite differences"
