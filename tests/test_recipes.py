"""Recipes: valid configs, schedules equal to optim's, the preset hook refuses extras."""

import dataclasses
import subprocess
import sys

import pytest

from minimal_unet import optim, recipes
from minimal_unet.model import UNetConfig
from minimal_unet.train import TrainConfig


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_every_recipe_maps_onto_the_configs(name):
    recipe = recipes.RECIPES[name]
    assert recipe.name == name
    cfg = recipes.train_config(recipe, seed=7, steps=11)
    assert (cfg.seed, cfg.steps) == (7, 11)
    for field in dataclasses.fields(TrainConfig):
        if hasattr(recipe, field.name):
            assert getattr(cfg, field.name) == getattr(recipe, field.name), field.name
    net = recipes.unet_config(recipe)
    assert (net.depth, net.base_channels) == (recipe.depth, recipe.base_channels)


def test_studies_and_presets_name_existing_recipes():
    for names in recipes.STUDIES.values():
        assert all(n in recipes.RECIPES for n in names)
    assert all(n in recipes.RECIPES for n in recipes.PRESET_RECIPES.values())


def test_bad_recipes_are_refused_with_the_field_named():
    with pytest.raises(ValueError, match="normalization"):
        recipes.Recipe("x", normalization="global")
    with pytest.raises(ValueError, match="weight_map"):
        recipes.train_config(recipes.Recipe("x", weight_map="border"))
    with pytest.raises(ValueError, match="tile_size: input H = 570.*556 or 572"):
        recipes.Recipe("x", tile_size=570)
    with pytest.raises(ValueError, match="recipe: expected one of"):
        recipes.get_recipe("no-such-recipe")
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match=f"upscale: expected an int >= 1, got {bad!r}"):
            recipes.Recipe("x", upscale=bad)


def test_step_budget_schedules_equal_optims():
    steps = 50
    for schedule, reference in (("cosine", lambda s: optim.cosine(s, 0.01, steps)),
                                ("poly", lambda s: optim.poly(s, 0.01, steps)),
                                ("step", lambda s: optim.step_decay(s, 0.01, 0.5, 20)),
                                ("constant", lambda s: 0.01)):
        recipe = recipes.Recipe("x", lr=0.01, schedule=schedule, step_every=20, step_drop=0.5)
        for s in (0, 1, 19, 20, 33, 49):
            assert recipes.scheduled_lr(recipe, s, s / steps) == pytest.approx(reference(s),
                                                                               rel=1e-12)


def test_momentum_warm_up_is_linear_then_flat():
    recipe = recipes.Recipe("x", momentum=0.99, momentum_start=0.9, momentum_warmup_steps=10)
    assert recipes.scheduled_momentum(recipe, 0) == 0.9
    assert recipes.scheduled_momentum(recipe, 5) == pytest.approx(0.945)
    assert recipes.scheduled_momentum(recipe, 10) == 0.99
    assert recipes.scheduled_momentum(recipe, 1000) == 0.99
    assert recipes.scheduled_momentum(recipes.Recipe("y"), 0) == 0.99  # no warm-up


def test_cli_preset_is_the_recipes_configs(monkeypatch):
    net_fields, train_fields = recipes.cli_preset("isbi2012")
    recipe = recipes.RECIPES[recipes.PRESET_RECIPES["isbi2012"]]
    assert UNetConfig(**net_fields) == recipes.unet_config(recipe)
    assert TrainConfig(**train_fields) == recipes.train_config(recipe)
    # A recipe that needs a knob train.train lacks cannot silently become a preset.
    monkeypatch.setitem(recipes.PRESET_RECIPES, "isbi2012", "isbi-dataset-norm")
    with pytest.raises(ValueError, match="normalization"):
        recipes.cli_preset("isbi2012")
    # Momentum warm-up and separate_touching are train.train's own knobs now.
    monkeypatch.setitem(recipes.PRESET_RECIPES, "isbi2012", "isbi-cosine")
    assert recipes.cli_preset("isbi2012")[1]["momentum_warmup_steps"] == 200
    with pytest.raises(ValueError, match="preset"):
        recipes.cli_preset("nope")


def test_importing_recipes_loads_no_trainer():
    # cli.py may import the recipes for its presets: that must not pull in train.py (and
    # with it matplotlib and tqdm) for every command.
    code = ("import sys, minimal_unet.recipes as r; r.cli_preset('isbi2012'); "
            "print('minimal_unet.train' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]


def test_train_preset_isbi2012_trains_the_recipe(monkeypatch, tmp_path, capsys):
    """`minimal-unet train --preset isbi2012` hands train.train the recipe's knobs; flags win."""
    import numpy as np

    from minimal_unet import cli
    from minimal_unet import train as train_module
    from minimal_unet.data import readers

    sample = readers.Sample(np.zeros((8, 8), np.float32), np.zeros((8, 8), np.int64), None, "a")
    monkeypatch.setattr(readers, "read_dataset", lambda *a, **k: [sample, sample])
    seen = {}

    def fake_train(net, train_samples, val_samples, cfg, **kwargs):
        seen["cfg"], seen["net"] = cfg, net
        return {"train": [], "val": []}

    monkeypatch.setattr(train_module, "train", fake_train)
    monkeypatch.setattr("minimal_unet.model.UNet.save", lambda self, path: None)
    recipe = recipes.RECIPES[recipes.PRESET_RECIPES["isbi2012"]]
    data = tmp_path / "data"
    data.mkdir()
    assert cli.main(["train", str(data), "--preset", "isbi2012", "--steps", "3",
                     "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    cfg, net = seen["cfg"], seen["net"]
    assert net.config.base_channels == recipe.base_channels and net.config.depth == recipe.depth
    assert (cfg.steps, cfg.lr, cfg.tile_size, cfg.momentum) == (3, recipe.lr, recipe.tile_size,
                                                               recipe.momentum)
    assert (cfg.weight_map, cfg.w0, cfg.sigma) == (recipe.weight_map, recipe.w0, recipe.sigma)
    assert (cfg.optimizer, cfg.schedule, cfg.balance_power) == (
        recipe.optimizer, recipe.schedule, recipe.balance_power)
    assert cfg.align_labels == recipe.align_labels
    if recipe.align_labels:  # the offset the images were resampled by is reported
        assert "px off their images (training pairs)" in capsys.readouterr().out
    assert cli.main(["train", str(data), "--preset", "isbi2012", "--lr", "0.5", "--no-augment",
                     "--out", str(tmp_path / "run2"), "--no-progress"]) == 0
    assert seen["cfg"].lr == 0.5 and seen["cfg"].augment is False


def test_train_flags_for_momentum_warmup_separate_touching_and_align_labels(monkeypatch,
                                                                            tmp_path, capsys):
    import numpy as np

    from minimal_unet import cli
    from minimal_unet import train as train_module
    from minimal_unet.data import readers

    ids = np.zeros((8, 8), np.int32)
    ids[1:4, 1:4], ids[4:7, 1:4] = 1, 2
    with_ids = readers.Sample(np.zeros((8, 8), np.float32), (ids > 0).astype(np.int64), ids, "a")
    no_ids = readers.Sample(np.zeros((8, 8), np.float32), (ids > 0).astype(np.int64), None, "b")
    found = [with_ids, with_ids]
    monkeypatch.setattr(readers, "read_dataset", lambda *a, **k: found)
    seen = {}
    monkeypatch.setattr(train_module, "train",
                        lambda net, tr, va, cfg, **k: seen.update(cfg=cfg) or {"train": [],
                                                                               "val": []})
    monkeypatch.setattr("minimal_unet.model.UNet.save", lambda self, path: None)
    data = tmp_path / "data"
    data.mkdir()
    base = ["train", str(data), "--preset", "tiny", "--steps", "3", "--no-progress"]
    assert cli.main(base + ["--out", str(tmp_path / "a")]) == 0
    assert (seen["cfg"].momentum_warmup_steps, seen["cfg"].separate_touching) == (0, False)
    assert seen["cfg"].align_labels is False
    assert cli.main(base + ["--out", str(tmp_path / "b"), "--momentum-warmup", "50",
                            "--separate-touching", "--align-labels"]) == 0
    assert (seen["cfg"].momentum_warmup_steps, seen["cfg"].separate_touching) == (50, True)
    assert seen["cfg"].align_labels is True
    found[:] = [no_ids, no_ids]  # no instance ids: nothing to separate, a clear error
    assert cli.main(base + ["--out", str(tmp_path / "c"), "--separate-touching"]) == 2
    assert "expected instance ids" in capsys.readouterr().err
