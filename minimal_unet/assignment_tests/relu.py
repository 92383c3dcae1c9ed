"""Graded: relu_forward_naive, relu_backward_naive (hand values, finite differences)."""

import numpy as np

from minimal_unet.assignment_tests._harness import equal, graded, run, run_keeping_args
from minimal_unet.assignment_tests._oracles import directional_error

FWD, BWD = "minimal_unet.ops.relu:relu_forward_naive", "minimal_unet.ops.relu:relu_backward_naive"


@graded("relu_forward_naive")
def forward_hand_values(box, rng):
    """Four values by hand, float32 and float64; cache = (y,)."""
    for dtype in (np.float32, np.float64):
        x = np.array([-2.0, -0.5, 0.25, 3.0], dtype=dtype).reshape(1, 1, 2, 2)
        y, cache = run(box, FWD, x)
        assert y.dtype == dtype, f"expected dtype {np.dtype(dtype)}, got {y.dtype}"
        equal(y.ravel(), np.array([0.0, 0.0, 0.25, 3.0], dtype=dtype), "y")
        equal(cache[0], y, "cache[0] (the contract: cache = (y,))")


@graded("relu_forward_naive", hidden=True)
def forward_random_leaves_input_alone(box, rng):
    """Random input: y = max(x, 0), x unchanged."""
    x = rng.standard_normal((2, 3, 4, 5))
    (y, _), (x_after,) = run_keeping_args(box, FWD, x)
    equal(y, np.where(x > 0, x, 0.0), "y")
    equal(x_after, x, "x after the call (the input must not be changed)")


@graded("relu_backward_naive")
def backward_hand_values(box, rng):
    """dx = dy where y > 0."""
    y = np.array([0.0, 0.0, 0.25, 3.0]).reshape(1, 1, 2, 2)
    dy = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    equal(run(box, BWD, dy, (y,)).ravel(), [0.0, 0.0, 3.0, 4.0], "dx")


@graded("relu_backward_naive", hidden=True)
def backward_matches_finite_differences(box, rng):
    """Random input away from the kink: directional finite differences."""
    x = rng.standard_normal((2, 2, 3, 3))
    x[np.abs(x) < 0.1] = 0.5
    dy = rng.standard_normal(x.shape)
    dx = run(box, BWD, dy, (np.maximum(x, 0.0),))
    error = directional_error(lambda: np.sum(np.maximum(x, 0.0) * dy), [x], [dx], rng)
    assert error < 1e-7, f"dx: relative error {error:.1e} against finite differences"
