"""Graded: conv2d_forward_naive, conv2d_backward_naive (hand values, finite differences)."""

import numpy as np

from minimal_unet.assignment_tests._harness import equal, graded, rel_err, run
from minimal_unet.assignment_tests._oracles import conv2d_ref, directional_error

FWD = "minimal_unet.ops.conv2d:conv2d_forward_naive"
BWD = "minimal_unet.ops.conv2d:conv2d_backward_naive"


@graded("conv2d_forward_naive")
def forward_hand_values(box, rng):
    """d2l.ai's 3x3 input and 2x2 kernel, checkable by hand; cache = (x, w, b, pad)."""
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    w = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32).reshape(1, 1, 2, 2)
    y, cache = run(box, FWD, x, w, np.array([1.0], np.float32))
    assert y.dtype == np.float32, f"expected dtype float32, got {y.dtype}"
    equal(y[0, 0] if y.ndim == 4 else y, [[20.0, 26.0], [38.0, 44.0]], "y")  # 19 25 37 43 + 1
    assert cache[3] == 0, "the contract: cache = (x, w, b, pad)"


@graded("conv2d_forward_naive")
def forward_padding_hand_value(box, rng):
    """pad = 1: a 1x1 input sees only the kernel's centre."""
    y, _ = run(box, FWD, np.full((1, 1, 1, 1), 2.0), np.arange(9.0).reshape(1, 1, 3, 3),
               np.zeros(1), pad=1)
    equal(y, [[[[8.0]]]], "y")  # 2 * w[1, 1] = 2 * 4


@graded("conv2d_forward_naive", hidden=True)
def forward_matches_reference(box, rng):
    """Random input, pad 0 and 1, against a sliding-window reference."""
    for pad in (0, 1):
        x, w, b = (rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 3, 3)),
                   rng.random(2))
        y, _ = run(box, FWD, x, w, b, pad=pad)
        error = rel_err(y, conv2d_ref(x, w, b, pad))
        assert error < 1e-12, f"pad={pad}: relative error {error:.1e} against the reference"


@graded("conv2d_backward_naive")
def backward_one_pixel_by_hand(box, rng):
    """A 1x1 output: dw = dy * x, db = dy, dx = dy * w."""
    x, w = np.arange(4.0).reshape(1, 1, 2, 2), np.array([1.0, -1.0, 2.0, 0.5]).reshape(1, 1, 2, 2)
    dx, dw, db = run(box, BWD, np.full((1, 1, 1, 1), 3.0), (x, w, np.zeros(1), 0))
    equal(dx, 3.0 * w, "dx")
    equal(dw, 3.0 * x, "dw")
    equal(db, [3.0], "db")


@graded("conv2d_backward_naive", hidden=True)
def backward_matches_finite_differences(box, rng):
    """Random input, pad 0 and 1: dx, dw, db against directional finite differences."""
    for pad in (0, 1):
        x, w, b = (rng.standard_normal((2, 2, 4, 5)), rng.standard_normal((3, 2, 3, 3)),
                   rng.random(3))
        dy = rng.standard_normal(conv2d_ref(x, w, b, pad).shape)
        grads = run(box, BWD, dy, (x, w, b, pad))
        error = directional_error(lambda: np.sum(conv2d_ref(x, w, b, pad) * dy),  # noqa: B023
                                  [x, w, b], grads, rng)
        assert error < 1e-7, f"pad={pad}: relative error {error:.1e} against finite differences"
