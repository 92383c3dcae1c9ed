"""Validation during training and what a run leaves behind (validation.py): the overlap-tile
metrics and their means, train_log.csv, history.json and the figures, on tiny data."""

import csv
import json
import math

import numpy as np
import pytest

from minimal_unet.data.synthetic import make_synthetic
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.train import TrainConfig
from minimal_unet.validation import (
    evaluate_held_out,
    evaluate_samples,
    mean_metrics,
    validation_metrics,
    validation_tile,
    write_figures,
    write_logs,
)

TINY = UNetConfig(depth=2, base_channels=4)


@pytest.fixture(scope="module")
def samples():
    return make_synthetic(2, size=(48, 48), seed=0)


def test_validation_tile_falls_back_to_the_default_when_too_small():
    # A "same" net tiles with 2 x 24 px of context: a 48 px tile holds no output, 96 does.
    same = UNet(UNetConfig(depth=2, base_channels=4, padding="same"), seed=0)
    assert validation_tile(same, 48) is None
    assert validation_tile(same, 96) == 96
    assert validation_tile(UNet(TINY, seed=0), 60) == 60


def test_validation_metrics_are_the_four_logged_scalars():
    gt = np.zeros((12, 12), np.int64)
    gt[2:6, 2:6] = 1
    assert validation_metrics(gt, gt) == {"pixel_error": 0.0, "foreground_iou": 1.0,
                                          "dice": 1.0, "adapted_rand_error": 0.0}
    pred = np.zeros_like(gt)
    pred[2:6, 2:4] = 1  # half of the object
    scores = validation_metrics(pred, gt)
    assert scores["pixel_error"] == pytest.approx(8 / 144)
    assert scores["foreground_iou"] == pytest.approx(0.5)
    assert scores["dice"] == pytest.approx(2 * 8 / (8 + 16))
    assert all(isinstance(v, float) for v in scores.values())


def test_mean_metrics_skips_nan_and_non_scalars():
    rows = [{"a": 1.0, "b": float("nan"), "c": 2, "per_class": [1.0, 2.0]},
            {"a": 3.0, "b": float("nan"), "c": 4, "per_class": [3.0, 4.0]},
            {"a": float("nan"), "b": float("nan"), "c": 6, "per_class": [5.0, 6.0]}]
    means = mean_metrics(iter(rows))  # any iterable, e.g. dict.values()
    assert set(means) == {"a", "b", "c"}
    assert means["a"] == 2.0 and means["c"] == 4.0
    assert math.isnan(means["b"])  # all NaN: NaN
    assert mean_metrics([]) == {}


def test_evaluate_samples_and_held_out(samples):
    net = UNet(TINY, seed=0)
    cfg = TrainConfig(tile_size=60)
    mean, predictions = evaluate_samples(net, samples, cfg)
    assert set(mean) == {"pixel_error", "foreground_iou", "dice", "adapted_rand_error"}
    assert len(predictions) == 2
    probs, pred = predictions[0]
    assert probs.shape == (2, 48, 48) and pred.shape == (48, 48)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=1e-6)
    assert evaluate_samples(net, [], cfg) == ({}, [])
    held_out = evaluate_held_out(net, samples, 60, warping=False)
    assert sorted(held_out["per_image"]) == sorted(s.name for s in samples)
    assert held_out["mean"]["pixel_error"] == pytest.approx(mean["pixel_error"])


def test_write_logs_one_row_per_step(tmp_path):
    history = {"train": [{"step": s, "loss": 1.0 / s, "lr": 0.01, "seconds": 0.5}
                         for s in (1, 2, 3)],
               "val": [{"step": 2, "pixel_error": 0.25, "dice": 0.5}]}
    write_logs(history, tmp_path / "new")  # creates the folder
    with open(tmp_path / "new" / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "loss", "lr", "seconds", "val_dice", "val_pixel_error"]
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert float(rows[2]["loss"]) == 1.0 / 3  # repr: the exact float
    assert rows[1]["val_pixel_error"] == "0.25" and rows[0]["val_pixel_error"] == ""
    assert json.loads((tmp_path / "new" / "history.json").read_text()) == history
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["history.json",
                                                                  "train_log.csv"]


def test_write_figures_without_validation_draws_only_the_curves(tmp_path):
    history = {"train": [{"step": s, "loss": 1.0 / s, "lr": 0.01, "seconds": 0.5}
                         for s in (1, 2, 3)], "val": []}
    write_figures(UNet(TINY, seed=0), history, [], [], [], tmp_path)
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000
    assert not (tmp_path / "predictions.png").exists()
