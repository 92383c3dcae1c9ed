"""Graded: maxpool2d_forward_naive, maxpool2d_backward_naive (hand values, finite differences)."""

import numpy as np

from minimal_unet.assignment_tests._harness import equal, graded, run
from minimal_unet.assignment_tests._oracles import directional_error, maxpool2d_ref

FWD = "minimal_unet.ops.maxpool2d:maxpool2d_forward_naive"
BWD = "minimal_unet.ops.maxpool2d:maxpool2d_backward_naive"
X_HAND = np.array([[1, 2, 6, 5],
                   [3, 4, 7, 8],
                   [9, 0, 0, 0],
                   [0, 0, 0, 0]], dtype=np.float64).reshape(1, 1, 4, 4)


@graded("maxpool2d_forward_naive")
def forward_hand_values(box, rng):
    """A 4x4 input by hand; argmax positions 0..3 in the window, ties to the first."""
    for dtype in (np.float32, np.float64):
        y, (argmax, x_shape) = run(box, FWD, X_HAND.astype(dtype))
        assert y.dtype == dtype, f"expected dtype {np.dtype(dtype)}, got {y.dtype}"
        assert tuple(x_shape) == (1, 1, 4, 4), "the contract: cache = (argmax, x.shape)"
        equal(y[0, 0], [[4, 8], [9, 0]], "y")
        assert argmax.dtype == np.uint8, f"expected argmax of dtype uint8, got {argmax.dtype}"
        equal(argmax[0, 0], [[3, 3], [0, 0]], "argmax")


@graded("maxpool2d_forward_naive", hidden=True)
def forward_matches_reference(box, rng):
    """Random input against a strided-slices reference."""
    x = rng.standard_normal((2, 3, 6, 4))
    y, (argmax, _) = run(box, FWD, x)
    equal(y, maxpool2d_ref(x), "y")
    assert argmax.shape == (2, 3, 3, 2), f"expected argmax of shape (2, 3, 3, 2), got " \
        f"{argmax.shape}"


@graded("maxpool2d_backward_naive")
def backward_hand_values(box, rng):
    """Each dy goes to its window's argmax."""
    argmax = np.array([[3, 1], [0, 2]], dtype=np.uint8).reshape(1, 1, 2, 2)
    dy = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
    dx = run(box, BWD, dy, (argmax, (1, 1, 4, 4)))
    equal(dx[0, 0], [[0, 0, 0, 20], [0, 10, 0, 0], [30, 0, 0, 0], [0, 0, 40, 0]], "dx")


@graded("maxpool2d_backward_naive", hidden=True)
def backward_matches_finite_differences(box, rng):
    """Distinct random values: directional finite differences."""
    x = rng.permutation(2 * 2 * 4 * 6).astype(np.float64).reshape(2, 2, 4, 6) / 7.0
    windows = np.stack([x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2],
                        x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]])
    argmax = windows.argmax(axis=0).astype(np.uint8)
    dy = rng.standard_normal((2, 2, 2, 3))
    dx = run(box, BWD, dy, (argmax, x.shape))
    error = directional_error(lambda: np.sum(maxpool2d_ref(x) * dy), [x], [dx], rng, h=1e-3)
    assert error < 1e-7, f"dx: relative error {error:.1e} against finite differences"
