"""Metrics: hand-made cases, skimage as the oracle for the Rand error, topology for warping."""

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.measure import label as sk_label
from skimage.metrics import adapted_rand_error as sk_adapted_rand_error

from minimal_unet.metrics import (
    adapted_rand_error,
    dice,
    evaluate,
    foreground_iou,
    iou,
    neighbourhood_codes,
    pixel_error,
    pixel_f_error,
    simple_point_table,
    warping_error,
)

DATASETS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
ISBI_LABELS = DATASETS / "isbi2012-em" / "train" / "labels"


def test_pixel_iou_dice_by_hand():
    gt = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 1, 0]])
    # differing pixels: (0,1), (1,1), (1,3) -> 3 of 8
    assert pixel_error(pred, gt) == pytest.approx(3 / 8)
    # class 1: |P & G| = 3, |P| = 4, |G| = 5 -> IoU 3/6, Dice 6/9
    # class 0: |P & G| = 2, |P| = 4, |G| = 3 -> IoU 2/5, Dice 4/7
    np.testing.assert_allclose(iou(pred, gt), [2 / 5, 3 / 6])
    np.testing.assert_allclose(dice(pred, gt), [4 / 7, 6 / 9])
    assert foreground_iou(pred, gt) == pytest.approx(0.5)
    # F-score of class 1: precision 3/4, recall 3/5, F = 2PR / (P + R) = 2/3
    assert pixel_f_error(pred, gt) == pytest.approx(1 - 2 / 3)


def test_pixel_f_error_is_the_harmonic_mean_of_precision_and_recall():
    # The organizers' script: labels > 0 and predictions > 0 are positive, F = 2PR/(P+R).
    rng = np.random.default_rng(1)
    gt = (rng.random((30, 40)) < 0.75).astype(np.int64)  # cell-dominated, as ISBI
    pred = np.where(rng.random(gt.shape) < 0.1, 1 - gt, gt)  # 10 % flipped
    p, g = pred > 0, gt > 0
    precision = np.count_nonzero(p & g) / np.count_nonzero(p)
    recall = np.count_nonzero(p & g) / np.count_nonzero(g)
    expected = 1 - 2 * precision * recall / (precision + recall)
    assert pixel_f_error(pred, gt) == pytest.approx(expected, abs=1e-12)
    # The two pixel errors differ on such labels: (fp + fn) / (2 tp + fp + fn) against
    # (fp + fn) / N, and 2 tp > N when most pixels are true cells.
    assert pixel_f_error(pred, gt) < 0.8 * pixel_error(pred, gt)
    # Any positive id counts as foreground (a label image 0/255 scores as 0/1).
    assert pixel_f_error(pred * 255, gt) == pixel_f_error(pred, gt)
    # A mask's F-score is its Dice
    assert pixel_f_error(pred, gt) == pytest.approx(1 - dice(pred, gt)[1], abs=1e-12)


def test_iou_dice_multiclass_against_sets():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 3, size=(20, 30))
    gt = rng.integers(0, 3, size=(20, 30))
    gt[gt == 2] = 1  # class 2 absent from gt but present in pred
    for c in range(3):
        p, g = pred == c, gt == c
        expected_iou = np.logical_and(p, g).sum() / np.logical_or(p, g).sum()
        expected_dice = 2 * np.logical_and(p, g).sum() / (p.sum() + g.sum())
        assert iou(pred, gt, 3)[c] == pytest.approx(expected_iou)
        assert dice(pred, gt, 3)[c] == pytest.approx(expected_dice)
    assert iou(np.zeros((2, 2), int), np.zeros((2, 2), int))[1] == 1.0  # two empty sets


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        pixel_error(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(TypeError, match="float64"):
        iou(np.zeros((2, 2)), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="0..1"):
        iou(np.full((2, 2), 2), np.zeros((2, 2), int))


def test_adapted_rand_by_hand():
    gt = np.array([[1, 1, 2, 2]])
    merged = np.array([[1, 1, 1, 1]])
    # n_ij = (2, 2): S = 8 - 4 = 4; gt S = 4; seg S = 16 - 4 = 12.
    error, precision, recall = adapted_rand_error(merged, gt)
    assert precision == pytest.approx(4 / 12) and recall == pytest.approx(1.0)
    assert error == pytest.approx(1 - 2 * 4 / (4 + 12))
    # A split lowers recall instead.
    error, precision, recall = adapted_rand_error(gt, merged)
    assert precision == pytest.approx(1.0) and recall == pytest.approx(4 / 12)
    # gt == 0 pixels are ignored, whatever seg says there.
    assert adapted_rand_error(np.array([[5, 6, 1, 1]]), np.array([[0, 0, 1, 1]]))[0] == 0.0


def isbi_labels(n):
    if not ISBI_LABELS.is_dir():
        pytest.skip(f"real data not found at {ISBI_LABELS} (../shared/datasets absent)")
    return [np.array(Image.open(ISBI_LABELS / f"{i:02d}.png")) // 255 for i in range(n)]


def test_adapted_rand_matches_skimage_on_isbi():
    rng = np.random.default_rng(0)
    for gt_class in isbi_labels(2):
        gt_segments = sk_label(gt_class, connectivity=1)  # cells = 4-components of class 1
        noisy = ndimage.binary_opening(gt_class, iterations=2)
        noisy = noisy ^ (rng.random(noisy.shape) < 0.02)
        eroded = ndimage.binary_erosion(gt_class, iterations=3)
        for pred_class in (gt_class, noisy, eroded):
            seg = sk_label(pred_class, connectivity=1)
            ours = adapted_rand_error(seg, gt_segments)
            theirs = sk_adapted_rand_error(gt_segments, seg)
            assert ours[0] == pytest.approx(theirs[0], abs=1e-9)
            # skimage swaps precision and recall (scikit-image issue #6485).
            assert ours[1] == pytest.approx(theirs[2], abs=1e-9)
            assert ours[2] == pytest.approx(theirs[1], abs=1e-9)
        assert adapted_rand_error(sk_label(noisy, connectivity=1), gt_segments)[0] > 0.01


def rectangle(shape=(20, 24), rows=(5, 15), cols=(4, 18)):
    a = np.zeros(shape, dtype=np.int64)
    a[rows[0] : rows[1], cols[0] : cols[1]] = 1
    return a


def test_warping_identical_and_shifted_boundary_cost_nothing():
    gt = rectangle()
    assert warping_error(gt, gt) == 0.0
    shifted = rectangle(cols=(5, 19))
    grown = rectangle(rows=(4, 17), cols=(3, 19))
    assert pixel_error(shifted, gt) > 0
    assert warping_error(shifted, gt) == 0.0
    assert warping_error(grown, gt) == 0.0


def test_warping_split_merge_hole_and_new_object_cost_pixels():
    gt = rectangle()
    n = gt.size
    split = gt.copy()
    split[:, 10] = 0  # one object cut into two
    assert warping_error(split, gt) == pytest.approx(1 / n)
    # The merge, seen the other way: adding any gap pixel would join the two objects, so
    # none can be added and all 10 gap pixels of the rectangle's rows stay wrong.
    assert warping_error(gt, split) == pytest.approx(10 / n)
    holed = gt.copy()
    holed[8:11, 8:11] = 0  # a 3x3 hole in the prediction
    # Removing any one pixel of a solid region opens a hole: none may go, all 9 stay wrong.
    assert warping_error(holed, gt) == pytest.approx(9 / n)
    # A hole in gt that pred fills: it shrinks to one pixel, but cannot close.
    assert warping_error(gt, holed) == pytest.approx(1 / n)
    new_object = gt.copy()
    new_object[1:3, 20:23] = 1  # a 2x3 object in pred that gt lacks
    assert warping_error(new_object, gt) == pytest.approx(6 / n)  # gt cannot grow one
    assert warping_error(gt, new_object) == pytest.approx(1 / n)  # it shrinks to 1 px


def count_components(binary, fg_connectivity):
    fg_structure = ndimage.generate_binary_structure(2, 1 if fg_connectivity == 4 else 2)
    bg_structure = ndimage.generate_binary_structure(2, 2 if fg_connectivity == 4 else 1)
    framed = np.pad(binary, 1)  # outside = background, as in the metric
    return ndimage.label(framed, fg_structure)[1], ndimage.label(~framed, bg_structure)[1]


@pytest.mark.parametrize("fg_connectivity", [4, 8])
def test_simple_point_table_against_component_counts(fg_connectivity):
    """Oracle: flipping p is simple iff the numbers of fg and bg components do not change."""
    table = simple_point_table(fg_connectivity)
    rng = np.random.default_rng(fg_connectivity)
    checked = 0
    for _ in range(30):
        binary = rng.random((7, 7)) < 0.5
        codes = neighbourhood_codes(binary)
        before = count_components(binary, fg_connectivity)
        for r in range(7):
            for c in range(7):
                flipped = binary.copy()
                flipped[r, c] = not flipped[r, c]
                unchanged = count_components(flipped, fg_connectivity) == before
                assert table[codes[r, c]] == unchanged, (r, c, binary.astype(int))
                checked += 1
    assert checked == 30 * 49


def test_warping_error_on_isbi_is_fast_enough_and_bounded():
    gt = isbi_labels(1)[0]
    rng = np.random.default_rng(1)
    noisy = ndimage.binary_opening(gt, iterations=2).astype(np.int64)
    noisy[rng.random(gt.shape) < 0.02] ^= 1
    started = time.perf_counter()
    w = warping_error(noisy, gt)
    print(f"warping error 512x512: {time.perf_counter() - started:.2f} s")
    assert 0 < w < pixel_error(noisy, gt)


def test_evaluate():
    gt = rectangle()
    prob = np.where(rectangle(cols=(5, 19)) == 1, 0.8, 0.1)
    result = evaluate(prob, gt)
    pred = (prob >= 0.5).astype(np.int64)
    assert result["pixel_error"] == pytest.approx(pixel_error(pred, gt))
    assert result["foreground_iou"] == pytest.approx(foreground_iou(pred, gt))
    np.testing.assert_allclose(result["iou"], iou(pred, gt))
    np.testing.assert_allclose(result["dice"], dice(pred, gt))
    assert result["warping_error"] == 0.0
    assert 0 < result["adapted_rand_error"] < 1
    two_class = np.stack([1 - prob, prob])  # (K, H, W)
    assert evaluate(two_class, gt) == result
    assert evaluate(pred, gt) == result
    assert "warping_error" not in evaluate(pred, gt, warping=False)
