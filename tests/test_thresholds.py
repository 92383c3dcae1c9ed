"""ISBI scoring over thresholds: the threshold comes from the training images only."""

import numpy as np
import pytest
from scipy import ndimage

from minimal_unet import thresholds

skimage_metrics = pytest.importorskip("skimage.metrics")


def two_cells(H=20, W=30):
    """mask (H, W): two cells (1) split by a 2 px membrane column (0) and a membrane frame."""
    mask = np.zeros((H, W), dtype=np.int64)
    mask[2:H - 2, 2:14] = 1
    mask[2:H - 2, 16:W - 2] = 1
    return mask


def probs_for(mask, p_cell, p_membrane):
    """A probability map that is p_cell on cells, p_membrane on membrane."""
    return np.where(mask == 1, p_cell, p_membrane).astype(np.float64)


def test_scores_at_thresholds_match_scikit_image_and_a_hand_count():
    rng = np.random.default_rng(3)
    mask = two_cells()
    prob = np.clip(probs_for(mask, 0.7, 0.3) + rng.normal(0, 0.2, mask.shape), 0, 1)
    ts = (0.3, 0.5, 0.7)
    got = thresholds.scores_at_thresholds(prob, mask, ts)
    four = ndimage.generate_binary_structure(2, 1)
    gt_segments, _ = ndimage.label(mask > 0, structure=four)
    for i, t in enumerate(ts):
        pred = prob >= t
        assert got["pixel_error"][i] == np.count_nonzero(pred != (mask == 1)) / mask.size
        tp = np.count_nonzero(pred & (mask == 1))
        fp, fn = np.count_nonzero(pred) - tp, np.count_nonzero(mask == 1) - tp
        assert tuple(got["foreground_counts"][i]) == (tp, fp, fn)
        assert got["pixel_f_error"][i] == pytest.approx((fp + fn) / (2 * tp + fp + fn))
        seg, _ = ndimage.label(pred, structure=four)
        expected = skimage_metrics.adapted_rand_error(gt_segments, seg)[0]
        assert got["adapted_rand_error"][i] == pytest.approx(expected, abs=1e-12)


def test_best_threshold_takes_the_lowest_value_and_the_first_of_equals():
    swept = {"thresholds": [0.1, 0.2, 0.3, 0.4], "pixel_error": [0.5, 0.1, 0.1, 0.3],
             "adapted_rand_error": [np.nan, 0.4, 0.2, 0.9]}
    assert thresholds.best_threshold(swept, "pixel_error") == (0.2, 0.1)
    assert thresholds.best_threshold(swept, "adapted_rand_error") == (0.3, 0.2)
    with pytest.raises(ValueError, match="threshold"):
        thresholds.value_at(swept, "pixel_error", 0.25)


def test_threshold_is_chosen_on_training_images_never_on_validation():
    mask = two_cells()
    # Training maps: cells at 0.35, membrane at 0.2 -> perfect for 0.25 <= t <= 0.35.
    train = [probs_for(mask, 0.35, 0.2)] * 2
    # Validation maps: cells at 0.75, membrane at 0.6 -> perfect only for 0.65 <= t <= 0.75.
    val = [probs_for(mask, 0.75, 0.6)]
    result = thresholds.score_paper_way(train, [mask] * 2, val, [mask])
    membrane_fraction = float(np.mean(mask == 0))
    assert result["pixel_error"]["threshold"] == 0.25  # the first perfect one on training
    assert result["pixel_error"]["train"] == 0.0
    # At 0.25 every validation membrane pixel is called cell: the validation is scored
    # at the training threshold, although 0.65 would have been perfect there.
    assert result["pixel_error"]["validation"] == pytest.approx(membrane_fraction)
    assert min(result["validation_sweep"]["pixel_error"]) == 0.0
    assert 0.25 <= result["adapted_rand_error"]["threshold"] <= 0.35
    # Changing the validation maps changes no chosen threshold.
    other = thresholds.score_paper_way(train, [mask] * 2, [probs_for(mask, 0.95, 0.9)], [mask])
    for metric in thresholds.METRICS:
        assert other[metric]["threshold"] == result[metric]["threshold"]


def test_segments_argument_scores_against_instances():
    # One blob covering two touching instances: perfect by components, a merge by instances.
    instances = np.zeros((10, 20), dtype=np.int64)
    instances[2:8, 2:10] = 1
    instances[2:8, 10:18] = 2
    mask = (instances > 0).astype(np.int64)
    prob = mask.astype(np.float64)
    by_components = thresholds.scores_at_thresholds(prob, mask, (0.5,))
    by_instances = thresholds.scores_at_thresholds(prob, mask, (0.5,), segments=instances)
    assert by_components["adapted_rand_error"][0] == 0.0
    assert by_instances["adapted_rand_error"][0] > 0.3


def test_sweep_pools_the_f_score_over_images_as_the_challenge_scores_a_stack():
    mask = two_cells()
    cells = int(np.count_nonzero(mask))
    perfect = probs_for(mask, 0.9, 0.1)
    all_cell = probs_for(mask, 0.9, 0.9)  # every membrane pixel called cell at 0.5
    swept = thresholds.sweep([perfect, all_cell], [mask, mask], thresholds=(0.5,))
    fp = mask.size - cells  # the second image's membrane pixels; no false negatives
    assert swept["pixel_f_error"][0] == pytest.approx(fp / (2 * 2 * cells + fp))
    per_image_mean = 0.5 * (0.0 + fp / (2 * cells + fp))
    assert swept["pixel_f_error"][0] != pytest.approx(per_image_mean)  # pooled, not a mean
    assert swept["pixel_error"][0] == pytest.approx(0.5 * fp / mask.size)  # a mean
    assert list(swept) == ["thresholds", *thresholds.METRICS]
