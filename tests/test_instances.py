"""Objects from probability maps: the seeded watershed against scikit-image's, hand-made
touching and faint objects, and thresholds chosen on training images only."""

import numpy as np
import pytest
from scipy import ndimage

from minimal_unet import instances, metrics

segmentation = pytest.importorskip("skimage.segmentation")


def smooth_map(seed, shape=(48, 40)):
    """A random smooth map rescaled to [0, 1]: many blobs, ridges and saddles."""
    p = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), 2)
    return (p - p.min()) / (p.max() - p.min())


def blob(shape, centre, sigma, height=1.0):
    rows, cols = np.indices(shape)
    d2 = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2
    return height * np.exp(-d2 / (2 * sigma**2))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("threshold, seed_threshold", [(0.3, 0.7), (0.2, 0.5), (0.5, 0.9)])
def test_flood_equals_scikit_image_watershed(seed, threshold, seed_threshold):
    prob = smooth_map(seed)
    got = instances.seeded_watershed(prob, threshold, seed_threshold)
    seeds, _ = ndimage.label(prob >= seed_threshold, structure=instances.FOUR)
    expected = segmentation.watershed(1.0 - prob, seeds, mask=prob >= threshold,
                                      connectivity=1)
    reached = expected > 0  # scikit-image leaves components without a seed at 0
    assert reached.any() and np.array_equal(got[reached], expected[reached])
    assert got.dtype == np.int32


@pytest.mark.parametrize("seed", range(4))
def test_objects_cover_the_foreground_once_each_one_connected_region(seed):
    prob = smooth_map(seed)
    threshold, seed_threshold = 0.3, 0.6
    ids = instances.seeded_watershed(prob, threshold, seed_threshold)
    assert np.array_equal(ids > 0, prob >= threshold)  # background 0, foreground labelled
    seeds, n_seeds = ndimage.label(prob >= seed_threshold, structure=instances.FOUR)
    for k in range(1, ids.max() + 1):
        _, n_parts = ndimage.label(ids == k, structure=instances.FOUR)
        assert n_parts == 1, f"object {k} is {n_parts} regions"
        assert len(np.unique(seeds[ids == k])) <= 2  # at most one seed (and unseeded 0)
    # every seed is whole inside one object
    for k in range(1, n_seeds + 1):
        assert len(np.unique(ids[seeds == k])) == 1


def test_equal_thresholds_give_the_connected_components():
    prob = smooth_map(7)
    for t in (0.2, 0.5):
        assert np.array_equal(instances.seeded_watershed(prob, t, t),
                              instances.components(prob, t))


def test_touching_objects_are_cut_at_the_valley_and_a_faint_one_is_kept():
    shape = (24, 48)
    # Two bright nuclei 12 px apart: P dips to ~0.32 between them (above the 0.2
    # foreground threshold, so components join them); a faint one peaks at 0.4.
    prob = np.maximum(blob(shape, (12, 10), 4), blob(shape, (12, 22), 4))
    prob = np.maximum(prob, blob(shape, (12, 40), 3, height=0.4))
    assert instances.components(prob, 0.2).max() == 2  # the pair joined, the faint one
    ids = instances.seeded_watershed(prob, 0.2, 0.8)
    assert ids.max() == 3
    left, right, faint = ids[12, 10], ids[12, 22], ids[12, 40]
    assert len({left, right, faint}) == 3 and 0 not in (left, right, faint)
    # the cut lies on the valley, column 16 (equidistant): left of it one id, right the other
    assert np.all(ids[12, 5:16] == left) and np.all(ids[12, 17:28] == right)
    assert np.count_nonzero(ids == faint) == np.count_nonzero(prob[:, 34:] >= 0.2)


def test_choose_takes_both_thresholds_from_the_training_images():
    shape = (24, 48)
    truth = np.zeros(shape, dtype=np.int64)  # two touching nuclei, cut at column 16
    rows, cols = np.indices(shape)
    truth[((rows - 12) ** 2 + (cols - 10) ** 2 <= 36)] = 1
    truth[((rows - 12) ** 2 + (cols - 22) ** 2 <= 36) & (cols >= 16)] = 2
    pair = np.maximum(blob(shape, (12, 10), 4), blob(shape, (12, 22), 4))
    train = [pair, pair]
    # Validation maps: the pair dimmed to a peak of 0.35. The seed threshold that splits
    # the pair on training (0.4, the first of the best) finds no seed there: one object.
    val = [0.35 * pair]
    result = instances.choose(train, [truth] * 2, val, [truth])
    ws = result["watershed"]
    train_sweep = result["train_sweep"]
    first_best = int(np.argmin(train_sweep["adapted_rand_error"]))
    assert [ws["threshold"], ws["seed_threshold"]] == train_sweep["pairs"][first_best]
    assert (ws["threshold"], ws["seed_threshold"]) == (0.1, 0.4)
    assert ws["train"] < result["components"]["train"]
    on_mask = result["watershed_on_mask"]  # t fixed at 0.5, only the seeds chosen
    assert on_mask["threshold"] == 0.5 and on_mask["seed_threshold"] >= 0.5
    j = train_sweep["pairs"].index([0.5, on_mask["seed_threshold"]])
    assert on_mask["train"] == min(e for (t, _), e in zip(train_sweep["pairs"],
                                                            train_sweep["adapted_rand_error"])
                                   if t == 0.5)
    assert on_mask["validation"] == result["validation_sweep"]["adapted_rand_error"][j]
    j = result["validation_sweep"]["pairs"].index([ws["threshold"], ws["seed_threshold"]])
    assert ws["validation"] == result["validation_sweep"]["adapted_rand_error"][j]
    best_val = min(result["validation_sweep"]["adapted_rand_error"])
    assert ws["validation"] > best_val  # validation would have chosen otherwise
    # the chosen pair's validation score is what the seeded watershed really gives there
    again = metrics.adapted_rand_error(
        instances.seeded_watershed(val[0], ws["threshold"], ws["seed_threshold"]), truth)[0]
    assert ws["validation"] == pytest.approx(again)


def test_bad_input_is_refused_naming_what_was_expected():
    with pytest.raises(ValueError, match="threshold <= seed_threshold"):
        instances.seeded_watershed(np.zeros((4, 4)), 0.6, 0.5)
    with pytest.raises(ValueError, match="float"):
        instances.seeded_watershed(np.zeros((4, 4), dtype=np.int64), 0.5, 0.5)
    with pytest.raises(ValueError, match="one length"):
        instances.sweep([np.zeros((4, 4))], [])
    with pytest.raises(ValueError, match="mask_threshold: expected a threshold of the grid"):
        instances.choose([np.zeros((4, 4))], [np.ones((4, 4), int)], [np.zeros((4, 4))],
                         [np.ones((4, 4), int)], mask_threshold=0.55)


def near_by_brute_force(objects, radius):
    """(H, W) bool: within `radius` (Euclidean) of some object pixel, pixel by pixel."""
    points = np.argwhere(objects > 0)  # (n, 2)
    near = np.zeros(objects.shape, dtype=bool)
    for r in range(objects.shape[0]):
        for c in range(objects.shape[1]):
            near[r, c] = np.min((points[:, 0] - r) ** 2 + (points[:, 1] - c) ** 2) <= radius**2
    return near


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("threshold, radius", [(0.2, 2), (0.3, 3.5), (0.0, 1)])
def test_grow_takes_pixels_near_objects_above_threshold_split_by_watershed(seed, threshold,
                                                                           radius):
    prob = smooth_map(seed)
    objects = instances.seeded_watershed(prob, 0.6, 0.8)
    grown = instances.grow(objects, prob, threshold, radius)
    reach = (objects > 0) | (near_by_brute_force(objects, radius) & (prob >= threshold))
    expected = segmentation.watershed(1.0 - prob, objects, mask=reach, connectivity=1)
    assert np.array_equal(grown, expected) and grown.dtype == np.int32
    assert np.array_equal(grown[objects > 0], objects[objects > 0])  # objects kept
    assert np.count_nonzero(grown) > np.count_nonzero(objects)  # and grown
    for k in range(1, objects.max() + 1):  # each object still one region
        assert ndimage.label(grown == k, structure=instances.FOUR)[1] == 1


def test_grow_takes_back_a_dim_rim_but_not_a_halo_farther_out():
    shape = (40, 40)
    rows, cols = np.indices(shape)
    d = np.hypot(rows - 20, cols - 20)
    truth = (d <= 8).astype(np.int64)  # a nucleus of radius 8
    prob = np.where(d <= 6, 0.9, 0.0)  # the core sure, its outer 2 px at 0.4 (a missed rim)
    prob = np.where((d > 6) & (d <= 8), 0.4, prob)
    prob = np.where((d > 11) & (d <= 14), 0.4, prob)  # a faint halo 3 px outside it
    objects = instances.components(prob, 0.5)
    assert metrics.foreground_iou(objects > 0, truth) < 0.6
    grown = instances.grow(objects, prob, 0.3, 2.5)
    assert np.array_equal(grown > 0, truth > 0)  # the rim back, the halo left out
    assert np.array_equal(instances.components(prob, 0.3) > 0, prob >= 0.3)  # a plain
    assert np.count_nonzero(prob >= 0.3) > np.count_nonzero(truth)  # lower t takes both
    assert np.array_equal(instances.grow(objects, prob, 0.3, 0), objects)  # radius 0


def test_grow_refuses_bad_input_naming_what_was_expected():
    with pytest.raises(ValueError, match=r"one shape, got \(4, 4\) and \(4, 5\)"):
        instances.grow(np.zeros((4, 4), int), np.zeros((4, 5)), 0.3, 2)
    with pytest.raises(ValueError, match="radius >= 0, got 0.3 and -1"):
        instances.grow(np.zeros((4, 4), int), np.zeros((4, 4)), 0.3, -1)
    with pytest.raises(ValueError, match="0 <= threshold <= 1"):
        instances.grow(np.zeros((4, 4), int), np.zeros((4, 4)), 1.5, 2)
    empty = instances.grow(np.zeros((4, 4), int), np.ones((4, 4)), 0.3, 2)
    assert not empty.any() and empty.dtype == np.int32  # nothing to grow
