"""Graded: upconv2d_forward_naive, upconv2d_backward_naive (hand values, finite differences)."""

import numpy as np

from minimal_unet.assignment_tests._harness import equal, graded, rel_err, run
from minimal_unet.assignment_tests._oracles import directional_error, upconv2d_ref

FWD = "minimal_unet.ops.upconv2d:upconv2d_forward_naive"
BWD = "minimal_unet.ops.upconv2d:upconv2d_backward_naive"


@graded("upconv2d_forward_naive")
def forward_hand_values(box, rng):
    """One input pixel of value 2 paints the 2x2 block 2 w + b; cache = (x, w, b)."""
    for dtype in (np.float32, np.float64):
        x = np.full((1, 1, 1, 1), 2.0, dtype=dtype)
        w = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=dtype).reshape(1, 1, 2, 2)
        y, cache = run(box, FWD, x, w, np.array([0.5], dtype=dtype))
        assert y.dtype == dtype, f"expected dtype {np.dtype(dtype)}, got {y.dtype}"
        equal(y[0, 0], [[2.5, 4.5], [6.5, 8.5]], "y")
        assert len(cache) == 3, "the contract: cache = (x, w, b)"


@graded("upconv2d_forward_naive", hidden=True)
def forward_matches_reference(box, rng):
    """Random input against an einsum reference."""
    x, w, b = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal((3, 2, 2, 2)), rng.random(2)
    y, _ = run(box, FWD, x, w, b)
    error = rel_err(y, upconv2d_ref(x, w, b))
    assert error < 1e-12, f"relative error {error:.1e} against the reference"


@graded("upconv2d_backward_naive")
def backward_hand_values(box, rng):
    """One input pixel: dx = sum(w * dy block), dw = x * dy block, db = sum(dy)."""
    x = np.full((1, 1, 1, 1), 2.0)
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    dy = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(1, 1, 2, 2)
    dx, dw, db = run(box, BWD, dy, (x, w, np.zeros(1)))
    equal(dx.ravel(), [1.0 - 4.0], "dx")
    equal(dw.ravel(), [2.0, 0.0, 0.0, -2.0], "dw")
    equal(db, [0.0], "db")


@graded("upconv2d_backward_naive", hidden=True)
def backward_matches_finite_differences(box, rng):
    """Random input: dx, dw, db against directional finite differences."""
    x, w, b = rng.standard_normal((2, 3, 2, 3)), rng.standard_normal((3, 2, 2, 2)), rng.random(2)
    dy = rng.standard_normal((2, 2, 4, 6))
    grads = run(box, BWD, dy, (x, w, b))
    error = directional_error(lambda: np.sum(upconv2d_ref(x, w, b) * dy), [x, w, b], grads, rng)
    assert error < 1e-7, f"relative error {error:.1e} against finite differences"
