"""NaN through the ops, as PyTorch does it (issue 10). NEEDS the CPU-speed engineer's branch
(minimal_unet/ops): on a branch without it these fail, by design; nothing is skipped.

Semantics: a 2x2 max-pool window holding a NaN outputs NaN, whatever its position, and its
arg-max (where the gradient goes) is the first NaN in window order TL, TR, BL, BR. The
weighted loss refuses negative or non-finite pixel weights, naming the first bad pixel.
"""

import numpy as np
import pytest

from minimal_unet.ops.maxpool2d import maxpool2d_backward, maxpool2d_forward
from minimal_unet.ops.softmax_ce import softmax_cross_entropy

nan = np.nan


@pytest.mark.parametrize("window, first_nan", [
    ([[nan, 1.0], [2.0, 3.0]], 0),  # TL (gave nan before)
    ([[1.0, nan], [2.0, 3.0]], 1),  # TR (gave 3.0 before)
    ([[1.0, 2.0], [nan, 3.0]], 2),  # BL
    ([[1.0, 2.0], [3.0, nan]], 3),  # BR
    ([[1.0, nan], [nan, 3.0]], 1),  # two NaNs: the first in window order
])
def test_maxpool_nan_propagates_whatever_its_position(window, first_nan):
    x = np.array(window, dtype=np.float64)[None, None]  # (1, 1, 2, 2)
    y, cache = maxpool2d_forward(x)
    assert np.isnan(y[0, 0, 0, 0])
    dx = maxpool2d_backward(np.ones_like(y), cache)
    expected = np.zeros(4)
    expected[first_nan] = 1.0
    np.testing.assert_array_equal(dx.reshape(4), expected)


def test_maxpool_nan_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 6, 6))
    x[rng.random(x.shape) < 0.2] = nan
    y, _ = maxpool2d_forward(x)
    expected = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2).numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_array_equal(y[~np.isnan(y)], expected[~np.isnan(expected)])


@pytest.mark.parametrize("bad", [-1.0, nan, np.inf])
def test_loss_refuses_bad_pixel_weights(bad):
    logits = np.zeros((1, 2, 3, 4))
    target = np.zeros((1, 3, 4), dtype=np.int64)
    weight = np.ones((1, 3, 4))
    weight[0, 1, 2] = bad
    with pytest.raises(ValueError, match=r"weight"):
        softmax_cross_entropy(logits, target, weight)
