"""Graded: softmax_cross_entropy_naive (hand values, scipy's logsumexp, finite differences)."""

import numpy as np

from minimal_unet.assignment_tests._harness import graded, run
from minimal_unet.assignment_tests._oracles import directional_error, softmax_ce_ref

CE = "minimal_unet.ops.softmax_ce:softmax_cross_entropy_naive"


@graded("softmax_cross_entropy_naive")
def hand_values(box, rng):
    """Two equal logits: loss = log 2, dL/dz = (p - onehot) / M; dtype kept."""
    for dtype in (np.float32, np.float64):
        loss, dlogits = run(box, CE, np.zeros((1, 2, 1, 2), dtype=dtype), np.array([[[0, 1]]]))
        assert np.ndim(loss) == 0 and getattr(loss, "dtype", None) == dtype, \
            f"expected the loss as a NumPy scalar of dtype {np.dtype(dtype)}, got {loss!r}"
        assert dlogits.dtype == dtype, f"expected dlogits of dtype {np.dtype(dtype)}"
        np.testing.assert_allclose(loss, np.log(2.0), rtol=1e-6, err_msg="loss")
        np.testing.assert_allclose(dlogits[0, :, 0, :], [[-0.25, 0.25], [0.25, -0.25]],
                                   rtol=1e-6, err_msg="dlogits")


@graded("softmax_cross_entropy_naive")
def large_logits_stay_finite(box, rng):
    """exp(1e4) overflows: only a max-shifted log-sum-exp gets these right."""
    logits = np.array([[[[1e4, 0.0]], [[-1e4, 0.0]]]])
    loss, dlogits = run(box, CE, logits, np.array([[[1, 0]]]))
    np.testing.assert_allclose(loss, (2e4 + np.log(2.0)) / 2, rtol=1e-12, err_msg="loss")
    assert np.all(np.isfinite(dlogits)), "dlogits: expected finite values, got inf or nan"
    np.testing.assert_allclose(dlogits[0, :, 0, 0], [0.5, -0.5], atol=1e-12, err_msg="dlogits")


@graded("softmax_cross_entropy_naive", hidden=True)
def matches_logsumexp_and_finite_differences(box, rng):
    """Random logits, with and without a weight map."""
    for weighted in (False, True):
        logits = rng.standard_normal((2, 3, 2, 3)) * 3
        target = rng.integers(0, 3, size=(2, 2, 3))
        weight = rng.random((2, 2, 3)) + 0.5 if weighted else None
        loss, dlogits = run(box, CE, logits, target, weight)
        expected = softmax_ce_ref(logits, target, weight)
        assert abs(float(loss) - expected) < 1e-12, f"loss: expected {expected}, got {loss}"
        error = directional_error(lambda: softmax_ce_ref(logits, target, weight),  # noqa: B023
                                  [logits], [dlogits], rng, h=1e-5)
        assert error < 1e-7, f"dlogits: relative error {error:.1e} against finite differences"
