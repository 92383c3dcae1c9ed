"""Validation during training and what a run leaves behind: the metrics of overlap-tile
predictions, their means over images, the logs and the figures.

    mean, predictions = evaluate_samples(net, val_samples, TrainConfig(tile_size=124))

- `evaluate_samples`: the validation `train` runs every cfg.val_every steps, the means of
  `validation_metrics` (`metrics.evaluate` without the slow warping error) over the
  samples, predicted overlap-tile (infer.predict_proba_tiled) on `validation_tile`.
- `evaluate_held_out`: every metric of `metrics.evaluate` per held-out image and their
  means (`mean_metrics`, NaN ignored): the demo's summary. `minimal-unet evaluate` takes
  the same means of the files it scores.
- `write_logs`: train_log.csv (one row per step) and history.json in the output folder.
- `write_figures`: learning_curves.png and predictions.png (matplotlib, imported only then).

cfg is a train.TrainConfig (only its fields are read, so this module does not import
train.py). train.py imports every name here, so `from minimal_unet.train import
validation_metrics` (and the others) still works.
"""

import csv
import json
import math
from pathlib import Path

import numpy as np

from minimal_unet import checkpoint, metrics
from minimal_unet.infer import labels_from_proba, predict_proba_tiled, tile_geometry

# ----- validation ----------------------------------------------------------------------

def evaluate_samples(net, samples, cfg):
    """Mean validation metrics over `samples` by overlap-tile prediction.

    Returns (metrics: dict of means of `validation_metrics`, predictions: a list of
    (probs (K, H, W), labels (H, W)) per sample).
    """
    rows, predictions = [], []
    threshold = cfg.threshold if net.config.n_classes == 2 else None
    for s in samples:
        probs = predict_proba_tiled(net, s.image, tile_size=validation_tile(net, cfg.tile_size),
                                    flips=cfg.flips)
        pred = labels_from_proba(probs, threshold)
        predictions.append((probs, pred))
        rows.append(validation_metrics(pred, s.mask))
    mean = mean_metrics(rows) if rows else {}
    return mean, predictions


def validation_tile(net, tile_size):
    """The training tile for overlap-tile validation, or None (the default tile) when it
    is too small to hold a "same" net's context margin (see infer.tile_geometry)."""
    try:
        tile_geometry(net.config, tile_size)
        return tile_size
    except ValueError:
        return None


def validation_metrics(pred, gt):
    """The scalar metrics logged during training (`metrics.evaluate` without the slow
    warping error): pixel_error, foreground_iou, foreground dice, adapted_rand_error."""
    result = metrics.evaluate(pred, gt, warping=False)
    dice_per_class = result["dice"]
    return {"pixel_error": float(result["pixel_error"]),
            "foreground_iou": float(result["foreground_iou"]),
            "dice": float(dice_per_class[1]) if len(dice_per_class) > 1 else float("nan"),
            "adapted_rand_error": float(result["adapted_rand_error"])}


def evaluate_held_out(net, samples, tile_size, flips=False, warping=True):
    """{"per_image": {name: metrics}, "mean": {metric: mean}} by overlap-tile prediction."""
    per_image = {}
    for s in samples:
        probs = predict_proba_tiled(net, s.image, tile_size=validation_tile(net, tile_size),
                                    flips=flips)
        per_image[s.name] = metrics.evaluate(probs, s.mask, warping=warping)
    return {"per_image": per_image, "mean": mean_metrics(per_image.values())}


def mean_metrics(results):
    """Mean over images of every scalar entry of `metrics.evaluate` results (NaN ignored)."""
    results = list(results)
    keys = [k for k, v in results[0].items() if isinstance(v, float | int)] if results else []
    means = {}
    for k in keys:
        values = [float(r[k]) for r in results if not math.isnan(float(r[k]))]
        means[k] = float(np.mean(values)) if values else float("nan")  # all NaN: NaN
    return means


# ----- logs and figures ----------------------------------------------------------------

def write_logs(history, out_dir):
    """train_log.csv (one row per step) and history.json in out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    val_by_step = {r["step"]: r for r in history["val"]}
    val_keys = sorted({k for r in history["val"] for k in r if k != "step"})
    with open(out_dir / "train_log.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "loss", "lr", "seconds", *(f"val_{k}" for k in val_keys)])
        for r in history["train"]:
            val = val_by_step.get(r["step"], {})
            writer.writerow([r["step"], repr(r["loss"]), repr(r["lr"]), f"{r['seconds']:.3f}",
                             *(repr(val[k]) if k in val else "" for k in val_keys)])
    text = json.dumps(history, indent=1)
    checkpoint.atomic_write_bytes(out_dir / "history.json", lambda f: f.write(text.encode()))


def write_figures(net, history, val_samples, predictions, prepared_val, out_dir):
    """learning_curves.png and predictions.png (image | label | weight | prediction)."""
    from minimal_unet import plots  # matplotlib: imported only when figures are drawn

    out_dir = Path(out_dir)
    plots.plot_learning_curves(history, out_dir / "learning_curves.png")
    rows = []
    for s, (probs, pred), (_, _, w) in list(zip(val_samples, predictions, prepared_val))[0:4]:
        rows.append({"image": s.image, "label": s.mask, "weight": w, "pred": pred,
                     "prob": probs[1] if probs.shape[0] == 2 else None, "name": s.name})
    if rows:
        plots.plot_panels(rows, out_dir / "predictions.png", title="validation, overlap-tile")
