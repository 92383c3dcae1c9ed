"""What training sees of each sample (targets.py): the cut mask, the loss weights and the
odds of picking each image, on hand-made masks whose weights are worked out by hand."""

import numpy as np
import pytest

from minimal_unet import targets
from minimal_unet import train as train_module
from minimal_unet.data.readers import Sample
from minimal_unet.targets import prepare_sample, training_sample
from minimal_unet.train import TrainConfig


def test_prepare_sample_normalises_and_uses_instances():
    mask = np.zeros((20, 20), np.int64)
    mask[4:16, 3:17] = 1
    instances = np.zeros((20, 20), np.int32)
    instances[4:16, 3:10] = 1
    instances[4:16, 11:17] = 2  # two touching cells split by a 1 px gap at column 10
    mask[:, 10] = 0
    image = np.random.default_rng(0).random((20, 20)).astype(np.float32) * 0.3 + 0.5
    cfg = TrainConfig()
    x, m, w_inst = prepare_sample(Sample(image, mask, instances, "a"), cfg)
    assert abs(x.mean()) < 1e-12 and abs(x.std() - 1) < 1e-12
    np.testing.assert_array_equal(m, mask)
    # From the mask alone the two cells are two connected components too: same weights.
    _, _, w_mask = prepare_sample(Sample(image, mask, None, "a"), cfg)
    np.testing.assert_allclose(w_inst, w_mask)
    # The paper's border term makes the gap between the cells heavier than far background.
    assert w_inst[10, 10] > w_inst[0, 0] + 5
    # Merged instances (one id for both) lose the border term in the gap.
    merged = np.where(instances > 0, 1, 0).astype(np.int32)
    merged[4:16, 10] = 0
    merged[8, 10] = 1  # a bridge joins the two halves into one object
    _, _, w_one = prepare_sample(Sample(image, mask, merged, "a"), cfg)
    assert w_one[12, 10] < w_inst[12, 10] - 5


def test_separate_touching_cuts_training_masks_only_where_instances_touch():
    ids = np.zeros((8, 12), np.int32)
    ids[1:7, 1:6] = 1
    ids[1:7, 6:11] = 2  # touches instance 1 along column 5|6
    sample = Sample(np.zeros((8, 12), np.float32), (ids > 0).astype(np.int64), ids, "t")
    cut = training_sample(sample, TrainConfig(separate_touching=True))
    assert np.all(cut.mask[1:7, 6] == 0) and np.all(cut.mask[1:7, 5] == 1)
    assert np.count_nonzero(sample.mask) - np.count_nonzero(cut.mask) == 6
    assert training_sample(sample, TrainConfig()) is sample  # off: untouched
    # prepare_sample trains on the cut mask; its weight map sees the gap too
    _, mask, weight = prepare_sample(sample, TrainConfig(separate_touching=True))
    np.testing.assert_array_equal(mask, cut.mask)
    _, plain_mask, plain_weight = prepare_sample(sample, TrainConfig())
    assert weight[3, 6] != plain_weight[3, 6] and plain_mask[3, 6] == 1


def test_balance_over_dataset_pools_the_class_counts_of_every_training_mask():
    # A sparse image (2 object pixels of 16) and a crowded one (6 of 16): pooled, 8 object
    # and 24 background pixels, so every image weighs background 32 / (2 * 24) and objects
    # 32 / (2 * 8); per image, the sparse one weighs its objects 16 / 4 and the crowded
    # one 16 / 12.
    sparse_ids, crowded_ids = np.zeros((4, 4), np.int32), np.zeros((4, 4), np.int32)
    sparse_ids[0, :2] = 1
    crowded_ids[0, :3], crowded_ids[3, 1:4] = 1, 2
    samples = [Sample(np.zeros((4, 4), np.float32), (ids > 0).astype(np.int64), ids, name)
               for ids, name in ((sparse_ids, "sparse"), (crowded_ids, "crowded"))]
    for power in (1.0, 0.5):
        cfg = TrainConfig(weight_map="balanced", balance_power=power, balance_over="dataset")
        table = targets.dataset_class_weights(samples, cfg)
        np.testing.assert_allclose(table, np.array([32 / 48, 32 / 16]) ** power, rtol=1e-12)
        for s in samples:
            got = targets.sample_weight_map(s, cfg, class_weights=table)
            np.testing.assert_allclose(got, table[s.mask], rtol=1e-12)
            _, _, prepared = prepare_sample(s, cfg, class_weights=table)
            np.testing.assert_array_equal(prepared, got)
    per_image = TrainConfig(weight_map="balanced")
    assert targets.dataset_class_weights(samples, per_image) is None
    sparse = targets.sample_weight_map(samples[0], per_image)
    crowded = targets.sample_weight_map(samples[1], per_image)
    assert sparse[0, 0] == pytest.approx(16 / 4) and crowded[0, 0] == pytest.approx(16 / 12)
    with pytest.raises(ValueError, match="TrainConfig.balance_over"):
        TrainConfig(balance_over="batch")


def test_rim_term_weighs_object_pixels_by_their_distance_to_background():
    # A 5x5 square: its outer ring is 1 px from background, the next ring 2 px (EDT), the
    # centre 3 px; background gets nothing. rim_w exp(-(d - 1)^2 / (2 rim_sigma^2)).
    mask = np.zeros((7, 7), np.int64)
    mask[1:6, 1:6] = 1
    d = np.zeros((7, 7))
    d[1:6, 1:6] = 1.0
    d[2:5, 2:5] = 2.0
    d[3, 3] = 3.0
    expected = np.where(mask == 1, 3.0 * np.exp(-((d - 1.0) ** 2) / (2.0 * 2.0**2)), 0.0)
    np.testing.assert_allclose(targets.rim_term(mask, 3.0, 2.0), expected, rtol=1e-12)
    assert not targets.rim_term(np.ones((3, 3), np.int64), 3.0, 2.0).any()  # no edge
    # In the loss weights: added to the weight map, off (unchanged map) when rim_w is 0.
    sample = Sample(np.zeros((7, 7), np.float32), mask, None, "square")
    plain = targets.sample_weight_map(sample, TrainConfig(weight_map="balanced"))
    rim = targets.sample_weight_map(
        sample, TrainConfig(weight_map="balanced", rim_w=3.0, rim_sigma=2.0))
    np.testing.assert_allclose(rim - plain, expected, rtol=1e-12)
    unweighted = targets.sample_weight_map(sample, TrainConfig(weight_map="none", rim_w=3.0))
    np.testing.assert_allclose(unweighted - 1.0, expected, rtol=1e-12)  # on every map
    # rim_min_share: only on images whose object share (here 25 / 49 = 0.51) reaches it
    for share, gets_rim in ((0.5, True), (25 / 49, True), (0.52, False), (1.0, False)):
        got = targets.sample_weight_map(sample, TrainConfig(
            weight_map="balanced", rim_w=3.0, rim_sigma=2.0, rim_min_share=share))
        np.testing.assert_allclose(got - plain, expected if gets_rim else 0.0, rtol=1e-12)
    # halo_w: the same term on the background's edge pixels, on images under halo_max_share
    halo = targets.rim_term(mask == 0, 2.0, 2.0)  # the ring around the square
    assert halo[0, 0] > 0 and halo[1, 1] == 0 and halo[0, 3] == pytest.approx(2.0)
    for share, gets_halo in ((0.52, True), (25 / 49, False), (0.5, False)):
        got = targets.sample_weight_map(sample, TrainConfig(
            weight_map="balanced", halo_w=2.0, rim_sigma=2.0, halo_max_share=share))
        np.testing.assert_allclose(got - plain, halo if gets_halo else 0.0, rtol=1e-12)
    for field, value in (("rim_w", -1.0), ("rim_sigma", 0.0), ("rim_min_share", -0.1),
                         ("rim_min_share", 1.5), ("halo_w", -1.0), ("halo_max_share", 2.0)):
        with pytest.raises(ValueError, match=f"TrainConfig.{field}"):
            TrainConfig(**{field: value})


def test_balance_power_raises_the_class_term_only():
    # 4 object pixels of 16: full balance weighs background 16 / (2 * 12), objects 16 / (2 * 4)
    ids = np.zeros((4, 4), np.int32)
    ids[0, :2], ids[3, 2:] = 1, 2  # two objects 3 rows apart: a border term between them
    sample = Sample(np.zeros((4, 4), np.float32), (ids > 0).astype(np.int64), ids, "t")
    full = np.where(sample.mask == 1, 16 / 8, 16 / 24)  # (4, 4) full balance
    border_full = (targets.sample_weight_map(sample, TrainConfig(weight_map="paper"))
                   - full)
    assert np.all(border_full[sample.mask == 1] == 0) and border_full[1, 1] > 0
    for power in (1.0, 0.5, 0.0):
        got = targets.sample_weight_map(
            sample, TrainConfig(weight_map="balanced", balance_power=power))
        np.testing.assert_allclose(got, full ** power, rtol=1e-12)
        # the paper's map: the same class term plus the unchanged border term
        paper = targets.sample_weight_map(
            sample, TrainConfig(weight_map="paper", balance_power=power))
        np.testing.assert_allclose(paper - full ** power, border_full, rtol=1e-12, atol=1e-12)


def test_sample_power_picks_images_by_their_object_share():
    # Object shares 8/16, 2/16 and 0: odds share^p, the empty image at the smallest
    # nonzero share (it still teaches background).
    masks = [np.zeros((4, 4), np.int64) for _ in range(3)]
    masks[0][:2], masks[1][0, :2] = 1, 1
    prepared = [(np.full((4, 4), float(k), np.float32), m, np.ones((4, 4), np.float32))
                for k, m in enumerate(masks)]
    for power in (1.0, 0.5):
        odds = targets.sampling_odds(prepared, TrainConfig(sample_power=power))
        expected = np.array([0.5, 0.125, 0.125]) ** power
        np.testing.assert_allclose(odds, expected / expected.sum(), rtol=1e-12)
    assert targets.sampling_odds(prepared, TrainConfig()) is None  # 0: uniform
    # sample_batch draws by those odds: image k is the tile of constant value k
    cfg = TrainConfig(sample_power=1.0, augment=False, tile_size=4)
    odds = targets.sampling_odds(prepared, cfg)
    rng = np.random.default_rng(0)
    picks = [int(train_module.sample_batch(prepared, cfg, 4, 4, rng, np.float32, odds)[0]
                 [0, 0, 0, 0]) for _ in range(600)]
    np.testing.assert_allclose(np.bincount(picks, minlength=3) / 600, odds, atol=0.06)
    rng = np.random.default_rng(0)
    uniform = [int(train_module.sample_batch(prepared, cfg, 4, 4, rng, np.float32)[0]
                   [0, 0, 0, 0]) for _ in range(600)]
    np.testing.assert_allclose(np.bincount(uniform, minlength=3) / 600, 1 / 3, atol=0.06)
    with pytest.raises(ValueError, match="TrainConfig.sample_power: expected a finite number"):
        TrainConfig(sample_power=-1.0)


def test_prepare_sample_takes_a_normaliser_and_recipe_run_prepares_with_it():
    # recipe_run.prepare is prepare_sample with a recipe's normaliser: same triples
    from minimal_unet.recipe_run import prepare

    mask = np.zeros((6, 6), np.int64)
    mask[1:4, 1:4] = 1
    image = np.arange(36, dtype=np.float32).reshape(6, 6)
    sample = Sample(image, mask, None, "a")
    double = lambda im: 2.0 * np.asarray(im, np.float64)  # noqa: E731
    got, m, w = prepare_sample(sample, TrainConfig(), normalize=double)
    np.testing.assert_array_equal(got, 2.0 * image)
    _, _, plain_w = prepare_sample(sample, TrainConfig())
    np.testing.assert_array_equal(w, plain_w)  # the weights do not see the normaliser
    (x, m2, w2), = prepare([sample], None, TrainConfig(), double)
    for a, b in ((x, got), (m2, m), (w2, w)):
        np.testing.assert_array_equal(a, b)
