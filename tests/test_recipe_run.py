"""The recipe runner: train.train's steps exactly, its own clock, 8-fold maps, ISBI smoke."""

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from minimal_unet import checkpoint, recipe_run, recipes
from minimal_unet.data import resolution
from minimal_unet.data.readers import Sample
from minimal_unet.data.synthetic import make_synthetic
from minimal_unet.infer import normalize_image, predict_proba_tiled
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.train import train

DATASETS = Path(os.environ.get("MINIMAL_UNET_DATASETS",
                               Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"))
ISBI = DATASETS / "isbi2012-em"

SMOKE = recipes.RECIPES["smoke"]  # depth 2, base 4, tile 92 -> 52


@pytest.fixture(scope="module")
def cells():
    samples = make_synthetic(4, size=(64, 64), seed=0)
    return samples[0:3], samples[3:4]


POOLED = dataclasses.replace(SMOKE, name="pooled", weight_map="paper", balance_over="dataset")
CROWDED = dataclasses.replace(SMOKE, name="crowded-first", sample_power=2.0)
DROPOUT = dataclasses.replace(SMOKE, name="dropout", dropout=0.5)
ALIGNED = dataclasses.replace(SMOKE, name="aligned", align_labels=True)


@pytest.mark.parametrize("recipe", [SMOKE, POOLED, CROWDED, DROPOUT, ALIGNED],
                         ids=lambda r: r.name)
def test_step_budget_gives_train_trains_parameters_exactly(cells, recipe):
    train_samples, val_samples = cells
    run = recipe_run.run_recipe(recipe, train_samples, val_samples, seed=2, steps=3,
                                eval_every_minutes=0, log=lambda line: None)
    reference = UNet(recipes.unet_config(recipe), seed=2, dtype=np.float32)
    cfg = recipes.train_config(recipe, seed=2, steps=3, val_every=0, checkpoint_every=0,
                               out_dir=None, progress=False)
    history = train(reference, train_samples, [], cfg)
    assert run["steps"] == 3 and run["losses"] == [r["loss"] for r in history["train"]]
    if recipe.balance_over == "dataset":  # the pooled class term is not the per-image one
        per_image = recipe_run.run_recipe(dataclasses.replace(recipe, balance_over="image"),
                                          train_samples, val_samples, seed=2, steps=3,
                                          eval_every_minutes=0, log=lambda line: None)
        assert per_image["losses"][0] != run["losses"][0]
    if recipe.sample_power:  # both loops draw the images by their odds, not uniformly
        uniform = recipe_run.run_recipe(dataclasses.replace(recipe, sample_power=0.0),
                                        train_samples, val_samples, seed=2, steps=3,
                                        eval_every_minutes=0, log=lambda line: None)
        assert uniform["losses"] != run["losses"]
    if recipe.dropout:  # the net drops units in training (the same masks as train.train's)
        assert reference.config.dropout == recipe.dropout == run["net"].config.dropout
        kept = recipe_run.run_recipe(dataclasses.replace(recipe, dropout=0.0),
                                     train_samples, val_samples, seed=2, steps=3,
                                     eval_every_minutes=0, log=lambda line: None)
        assert kept["losses"][0] != run["losses"][0]
    # align_labels: both loops resample the images by the training pairs' label offset
    # and keep it on the net (saved with it) for inference; without it, no offset
    assert run["net"].input_offset == reference.input_offset
    assert (reference.input_offset != (0.0, 0.0)) == recipe.align_labels
    for name, p in reference.params.items():
        np.testing.assert_array_equal(run["net"].params[name], p, err_msg=name)
    assert [row["step"] for row in run["curve"]] == [3] and run["final"]["step"] == 3


def test_schedule_and_momentum_are_applied_per_step(cells):
    recipe = dataclasses.replace(SMOKE, name="warm", schedule="cosine",
                                 momentum_warmup_steps=2)
    run = recipe_run.run_recipe(recipe, *cells, seed=0, steps=4, eval_every_minutes=0,
                                log=lambda line: None)
    assert run["lr"] == pytest.approx([0.01 * 0.5 * (1 + np.cos(np.pi * s / 4))
                                       for s in range(4)])
    assert run["momentum"] == pytest.approx([0.9, 0.945, 0.99, 0.99])


def test_wall_clock_budget_stops_on_training_time_and_records_a_curve(cells):
    evaluated = []
    run = recipe_run.run_recipe(SMOKE, *cells, seed=0, minutes=0.01, eval_every_minutes=0.002,
                                on_eval=lambda net, row: evaluated.append(row["step"]),
                                log=lambda line: None)
    assert run["train_seconds"] >= 0.6  # the budget, training steps only
    assert run["curve"][-1]["step"] == run["steps"] == evaluated[-1]
    steps = [row["step"] for row in run["curve"]]
    assert steps == sorted(set(steps)) and len(steps) >= 2
    for row in run["curve"]:
        assert {"pixel_error", "foreground_iou", "adapted_rand_error", "warping_error",
                "instance_rand_error"} <= set(row)
    with pytest.raises(ValueError, match="exactly one budget"):
        recipe_run.run_recipe(SMOKE, *cells, steps=3, minutes=1.0)


def test_eight_fold_maps_are_the_mean_of_the_transformed_predictions():
    rng = np.random.default_rng(0)
    net = UNet(UNetConfig(depth=2, base_channels=4), seed=1, dtype=np.float64)
    image = rng.random((40, 56))  # not square: a transposition bug changes the shape
    sample = Sample(image=image, mask=np.zeros((40, 56), np.int64), instances=None, name="a")
    normalize = recipe_run.make_normalizer(SMOKE, [sample])
    got = recipe_run.predict(net, [sample], normalize, tile_size=60, flips=True)[0]

    def p1(x):
        return predict_proba_tiled(net, x, tile_size=60)[1]

    # The 8 symmetries of the square, each with its inverse, written out one by one.
    pairs = [(lambda a: a, lambda a: a),
             (lambda a: np.rot90(a, 1), lambda a: np.rot90(a, -1)),
             (lambda a: np.rot90(a, 2), lambda a: np.rot90(a, 2)),
             (lambda a: np.rot90(a, 3), lambda a: np.rot90(a, 1)),
             (np.fliplr, np.fliplr), (np.flipud, np.flipud),
             (np.transpose, np.transpose),
             (lambda a: np.rot90(a, 2).T, lambda a: np.rot90(a.T, 2))]
    expected = np.mean([inverse(p1(forward(image))) for forward, inverse in pairs], axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    assert not np.allclose(got, p1(image))  # the average is not the plain prediction


def test_evaluation_tile_covers_the_image_and_changes_no_probability():
    rng = np.random.default_rng(1)
    net = UNet(UNetConfig(depth=2, base_channels=4), seed=1, dtype=np.float64)
    sample = Sample(image=rng.random((40, 56)), mask=None, instances=None, name="a")
    assert recipe_run.covering_tile(net.config, (40, 56)) == 96  # output 56 covers 56
    normalize = recipe_run.make_normalizer(SMOKE, [sample])
    one_tile = recipe_run.predict(net, [sample], normalize)[0]
    many_tiles = recipe_run.predict(net, [sample], normalize, tile_size=60)[0]  # 20 px outputs
    np.testing.assert_allclose(one_tile, many_tiles, rtol=1e-12, atol=1e-14)


def test_dataset_normalisation_uses_the_pooled_training_statistics():
    a = Sample(np.full((4, 4), 0.2, np.float32), None, None, "a")
    b = Sample(np.full((4, 4), 0.6, np.float32), None, None, "b")
    recipe = dataclasses.replace(SMOKE, name="d", normalization="dataset")
    normalize = recipe_run.make_normalizer(recipe, [a, b])
    # pooled mean 0.4, std 0.2: 0.2 -> -1, 1.0 -> 3
    np.testing.assert_allclose(normalize(np.array([[0.2, 1.0]], np.float32)), [[-1.0, 3.0]],
                               rtol=1e-6)
    image_wise = recipe_run.make_normalizer(SMOKE, [a, b])
    x = np.array([[0.2, 1.0]])
    np.testing.assert_array_equal(image_wise(x), normalize_image(x, dtype=np.float64))


def test_score_counts_touching_instances_as_separate_objects():
    ids = np.zeros((10, 20), np.int32)
    ids[2:8, 2:10] = 1
    ids[2:8, 10:18] = 2
    sample = Sample(np.zeros((10, 20), np.float32), (ids > 0).astype(np.int64), ids, "t")
    row = recipe_run.score([(ids > 0).astype(np.float64)], [sample], warping=False)
    assert row["pixel_error"] == 0.0 and row["adapted_rand_error"] == 0.0
    assert row["instance_rand_error"] > 0.3  # one blob for two nuclei: a merge


@pytest.mark.skipif(not (ISBI / "train" / "images").is_dir(),
                    reason=f"ISBI 2012 data not found at {ISBI} (set MINIMAL_UNET_DATASETS)")
def test_isbi_smoke_run_with_the_paper_way_scoring():
    train_samples, val_samples = recipe_run.load_split(ISBI, "isbi2012")
    assert [s.name for s in val_samples] == ["25", "26", "27", "28", "29"]
    assert len(train_samples) == 25 and train_samples[-1].name == "24"

    def crop(s):  # 100 x 100 crops keep the run to seconds
        return Sample(s.image[0:100, 0:100], s.mask[0:100, 0:100], None, s.name)

    run = recipe_run.run_recipe(SMOKE, [crop(s) for s in train_samples[0:2]],
                                [crop(val_samples[0])], seed=0, steps=2, paper_way=True,
                                log=lambda line: None)
    paper = run["paper_way"]
    assert paper["flips"] and run["steps"] == 2
    for metric in ("pixel_error", "adapted_rand_error"):
        assert paper[metric]["threshold"] in paper["train_sweep"]["thresholds"]
        assert 0.0 <= paper[metric]["validation"] <= 1.0


class _Stop(Exception):
    """Stands for a run killed right after an evaluation."""


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_stopped_run_resumes_to_the_parameters_of_one_never_stopped(cells, tmp_path,
                                                                      optimizer):
    recipe = dataclasses.replace(SMOKE, optimizer=optimizer, schedule="cosine",
                                 lr=0.01 if optimizer == "sgd" else 1e-3,
                                 dropout=0.5 if optimizer == "adam" else 0.0)  # masks resume
    every_step = dict(seed=1, steps=6, eval_every_minutes=1e-9, log=lambda line: None)
    whole = recipe_run.run_recipe(recipe, *cells, **every_step)

    def stop_at_four(net, row):
        if row["step"] == 4:
            raise _Stop
    state = tmp_path / "state.npz"
    with pytest.raises(_Stop):
        recipe_run.run_recipe(recipe, *cells, state_path=state, on_eval=stop_at_four,
                              **every_step)
    assert [row["step"] for row in recipe_run.saved_curve(state)] == [1, 2, 3]
    clock = checkpoint.load_checkpoint(state)["history"]  # the next evaluation is ahead:
    assert clock["next_eval"] > clock["train_seconds"]  # no extra one right after resuming
    resumed = recipe_run.run_recipe(recipe, *cells, state_path=state, resume=True,
                                    **every_step)
    assert resumed["steps"] == 6
    assert resumed["losses"] == whole["losses"] and resumed["lr"] == whole["lr"]
    assert [r["step"] for r in resumed["curve"]] == [r["step"] for r in whole["curve"]]
    assert resumed["curve"][-1]["pixel_error"] == whole["curve"][-1]["pixel_error"]
    for name, p in whole["net"].params.items():
        np.testing.assert_array_equal(resumed["net"].params[name], p, err_msg=name)
    assert resumed["train_seconds"] > resumed["curve"][2]["minutes"] * 60  # the clock adds up


def test_resuming_refuses_another_seed_or_budget_and_a_missing_state(cells, tmp_path):
    state = tmp_path / "state.npz"
    quiet = dict(eval_every_minutes=1e-9, log=lambda line: None)
    recipe_run.run_recipe(SMOKE, *cells, seed=0, steps=2, state_path=state, **quiet)
    with pytest.raises(ValueError, match="'seed': 0.*'seed': 1"):
        recipe_run.run_recipe(SMOKE, *cells, seed=1, steps=2, state_path=state, resume=True,
                              **quiet)
    with pytest.raises(ValueError, match="'steps': 2.*'steps': 3"):
        recipe_run.run_recipe(SMOKE, *cells, seed=0, steps=3, state_path=state, resume=True,
                              **quiet)
    with pytest.raises(FileNotFoundError, match="saved run state"):
        recipe_run.run_recipe(SMOKE, *cells, seed=0, steps=2, state_path=tmp_path / "no.npz",
                              resume=True, **quiet)
    # A state saved before a knob was added to Recipe: it ran with the knob's default.
    older = checkpoint.load_checkpoint(state)
    del older["history"]["budget"]["recipe"]["upscale"]
    checkpoint.save_checkpoint(state, older)
    assert recipe_run.run_recipe(SMOKE, *cells, seed=0, steps=2, state_path=state,
                                 resume=True, **quiet)["steps"] == 2
    with pytest.raises(ValueError, match="'upscale': 1.*'upscale': 2"):
        recipe_run.run_recipe(dataclasses.replace(SMOKE, upscale=2), *cells, seed=0, steps=2,
                              state_path=state, resume=True, **quiet)


def test_percentile_normalisation_maps_each_images_percentiles_to_0_and_1():
    recipe = dataclasses.replace(SMOKE, name="p", normalization="percentile")
    normalize = recipe_run.make_normalizer(recipe, [])
    rng = np.random.default_rng(3)
    crowded = rng.random((64, 64)).astype(np.float32)
    out = normalize(crowded)
    assert out.dtype == np.float64
    lo, hi = np.percentile(crowded.astype(np.float64), recipe_run.PERCENTILES)
    np.testing.assert_allclose(out, (crowded - lo) / (hi - lo), rtol=1e-12)
    # Affine changes of the grey values (gain, offset) give the same normalised image,
    # which image-wise mean/std also does; a constant image gives zeros, not NaN.
    np.testing.assert_allclose(normalize(3.0 * crowded.astype(np.float64) + 7.0), out,
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(normalize(np.full((4, 4), 0.3)), np.zeros((4, 4)))
    # Unlike mean/std, the share of bright pixels does not move the dark ones: the same
    # background (0.1) and nuclei (0.9) with 5 % or 40 % nuclei keep their values.
    sparse = np.full((20, 20), 0.1)
    sparse[:, :1] = 0.0  # a dark corner sets the low percentile in both images
    dense = sparse.copy()
    sparse[:1, 1:] = 0.9  # 5 % nuclei
    dense[:8, 1:] = 0.9  # 40 % nuclei
    assert normalize(sparse)[10, 10] == pytest.approx(normalize(dense)[10, 10])
    assert recipe_run.make_normalizer(SMOKE, [])(sparse)[10, 10] != pytest.approx(
        recipe_run.make_normalizer(SMOKE, [])(dense)[10, 10], abs=1e-3)


def test_weight_averages_follow_their_formula_and_leave_training_alone(cells):
    """a_0 = w_0, a_k = a_{k-1} + (1 - d) (w_k - a_{k-1}); w_k from runs of k steps (the
    smoke recipe's lr is constant, so a shorter run is a prefix of a longer one)."""
    train_samples, val_samples = cells

    def run(steps, **kw):
        return recipe_run.run_recipe(SMOKE, train_samples, val_samples, seed=2, steps=steps,
                                     eval_every_minutes=0, log=lambda line: None, **kw)

    averaged = run(3, ema_decays=(0.5, 0.9))
    weights = [UNet(recipes.unet_config(SMOKE), seed=2, dtype=np.float32).params] + [
        run(k)["net"].params for k in (1, 2, 3)]
    for name, w in weights[-1].items():  # the averages never feed back into training
        np.testing.assert_array_equal(averaged["net"].params[name], w, err_msg=name)
    assert [e["decay"] for e in averaged["ema"]] == [0.5, 0.9]
    for entry in averaged["ema"]:
        d = entry["decay"]
        for name in weights[0]:
            expected = weights[0][name].astype(np.float64)
            for w in weights[1:]:
                expected = d * expected + (1 - d) * w[name]
            np.testing.assert_allclose(entry["net"].params[name], expected, rtol=1e-5,
                                       atol=1e-7, err_msg=f"decay {d}, {name}")
        assert entry["final"]["step"] == 3 and entry["paper_way"] is None
        assert set(entry["final"]) == set(averaged["final"])
    different = averaged["ema"][0]["net"].params["enc0.conv1.weight"]
    assert not np.array_equal(different, weights[-1]["enc0.conv1.weight"])


def test_weight_averages_refuse_bad_decays_and_resuming(cells, tmp_path):
    train_samples, val_samples = cells
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=rf"ema_decays: expected numbers in \(0, 1\), "
                                             rf"got {bad}"):
            recipe_run.run_recipe(SMOKE, train_samples, val_samples, steps=1,
                                  ema_decays=(0.9, bad), log=lambda line: None)
    with pytest.raises(ValueError, match=r"expected distinct decays, got \(0.9, 0.9\)"):
        recipe_run.run_recipe(SMOKE, train_samples, val_samples, steps=1,
                              ema_decays=(0.9, 0.9), log=lambda line: None)
    with pytest.raises(ValueError, match="not in the saved run state"):
        recipe_run.run_recipe(SMOKE, train_samples, val_samples, steps=1, ema_decays=(0.9,),
                              state_path=tmp_path / "state.npz", resume=True,
                              log=lambda line: None)


def test_an_upscaled_recipe_trains_at_twice_the_size_and_scores_at_the_original(cells):
    recipe = dataclasses.replace(SMOKE, name="2x", upscale=2, weight_map="paper")
    train_samples, val_samples = cells
    run = recipe_run.run_recipe(recipe, train_samples, val_samples, seed=0, steps=2,
                                eval_every_minutes=0, log=lambda line: None)
    # lengths in original pixels: the net's config has them twice as long
    cfg = run["train_config"]
    assert (cfg["sigma"], cfg["rim_sigma"], cfg["elastic_sigma"]) == (
        2 * SMOKE.sigma, 2 * SMOKE.rim_sigma, 2 * SMOKE.elastic_sigma)
    # the same training as train.train on the upscaled images with those lengths
    reference = UNet(recipes.unet_config(recipe), seed=0, dtype=np.float32)
    train_cfg = recipes.train_config(recipe, seed=0, steps=2, val_every=0, checkpoint_every=0,
                                     out_dir=None, progress=False, sigma=2 * SMOKE.sigma,
                                     rim_sigma=2 * SMOKE.rim_sigma,
                                     elastic_sigma=2 * SMOKE.elastic_sigma)
    history = train(reference, [resolution.upscale_sample(s, 2) for s in train_samples], [],
                    train_cfg)
    assert run["losses"] == [r["loss"] for r in history["train"]]
    # scored at the original size: the block means of the prediction on the upscaled image
    net, sample = run["net"], val_samples[0]
    normalize = recipe_run.make_normalizer(recipe, train_samples)
    got = recipe_run.predict(net, [sample], normalize, upscale=2)[0]
    zoomed = ndimage.zoom(np.asarray(sample.image, np.float64), 2, order=1, grid_mode=True,
                          mode="nearest")
    big = predict_proba_tiled(net, normalize_image(zoomed, dtype=np.float64))[1]
    assert got.shape == sample.image.shape
    expected = (big[0::2, 0::2] + big[0::2, 1::2] + big[1::2, 0::2] + big[1::2, 1::2]) / 4
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert run["final"] == {"step": 2, "minutes": run["final"]["minutes"],
                            **recipe_run.score([got], [sample])}
