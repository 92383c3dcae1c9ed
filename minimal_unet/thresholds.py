"""Scoring probability maps the ISBI 2012 way: over thresholds, the threshold chosen on
training images, never on the images being scored.

The ISBI 2012 challenge scored each entry's membrane probability map at a range of
thresholds and kept the best (arXiv 1505.04597, Sec. 4, Table 1: "Rand error" and
"pixel error" of the thresholded maps). Choosing that threshold on the validation
images themselves would flatter the net, so here it is chosen on the TRAINING images
and then applied, unchanged, to the validation images:

    train_sweep = sweep(train_probs, train_masks)          # mean metric per threshold
    t = best_threshold(train_sweep, "adapted_rand_error")  # chosen on training images
    val_sweep = sweep(val_probs, val_masks)                # recorded, never chosen from
    val_rand = value_at(val_sweep, "adapted_rand_error", t)

`score_paper_way` does all of it for each metric of METRICS.

Pixel error, two ways (the challenge's evaluation page gives both): "pixel_error", the
fraction of pixels called wrong; "pixel_f_error", 1 - F-score of the cell pixels (labels
> 0 positive), the one the organizers' Fiji script reports as "1 - the maximal F-score of
pixel similarity". Their script adds the true/false positive counts over the whole stack
before it takes the F-score, so `sweep` pools "pixel_f_error" over the images the same
way (the other metrics are means over images). Their script maximises over thresholds
0.0, 0.1, .., 1.0 of the images it scores; here, as for every metric, the threshold comes
from the training images.

Shapes: prob (H, W) float, P(foreground = cell / nucleus); mask (H, W) int classes
(0 background / membrane, 1 foreground); segments (H, W) int ids, 0 = ignored (default:
the 4-connected components of mask > 0, as in `metrics.evaluate`). A pixel is foreground
where prob >= t; the Rand error compares the 4-connected components of that foreground
with the segments.
"""

import numpy as np
from scipy import ndimage

from minimal_unet import metrics

DEFAULT_THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05, 0.10, .., 0.95
METRICS = ("pixel_error", "pixel_f_error", "adapted_rand_error")
FOUR = ndimage.generate_binary_structure(2, 1)  # 4-connectivity


def foreground_segments(mask):
    """(H, W) int32 ids of the 4-connected components of mask > 0 (0 = background)."""
    ids, _ = ndimage.label(np.asarray(mask) > 0, structure=FOUR)
    return ids


def scores_at_thresholds(prob, mask, thresholds=DEFAULT_THRESHOLDS, segments=None):
    """Per-threshold scores of one image: {metric: (T,) for each of METRICS,
    "foreground_counts": (T, 3) int64 true positives, false positives, false negatives of
    the foreground (what pools "pixel_f_error" over images)}.

    prob (H, W) float in [0, 1]; mask (H, W) classes 0/1; segments (H, W) ids or None
    (then the 4-connected components of mask > 0).
    """
    prob, mask = np.asarray(prob), np.asarray(mask)
    if prob.ndim != 2 or prob.shape != mask.shape:
        raise ValueError(f"prob, mask: expected two (H, W) arrays of one shape, got "
                         f"{prob.shape} and {mask.shape}")
    gt_segments = foreground_segments(mask) if segments is None else np.asarray(segments)
    pixel, counts, rand = [], [], []
    for t in thresholds:
        pred = (prob >= t).astype(np.int64)  # (H, W) 0/1
        pixel.append(metrics.pixel_error(pred, mask))
        counts.append(metrics.foreground_counts(pred, mask))  # tp, fp, fn
        rand.append(metrics.adapted_rand_error(foreground_segments(pred), gt_segments)[0])
    counts = np.array(counts, dtype=np.int64).reshape(len(thresholds), 3)  # (T, 3)
    return {"pixel_error": np.array(pixel),
            "pixel_f_error": np.array([metrics.f_error(*c) for c in counts.tolist()]),
            "adapted_rand_error": np.array(rand), "foreground_counts": counts}


def sweep(probs, masks, thresholds=DEFAULT_THRESHOLDS, segments=None):
    """Mean over images of `scores_at_thresholds`: {"thresholds": [...], metric: [...]}.

    probs, masks (and segments, if given): lists of (H, W) arrays, one per image. A NaN
    Rand error (an image with no pair of counted pixels in one segment) is left out of
    the mean. "pixel_f_error" is not a mean: the F-score of the counts added over all
    images, as the challenge's script scores a stack.
    """
    if len(probs) == 0 or len(probs) != len(masks):
        raise ValueError(f"probs, masks: expected two non-empty lists of one length, got "
                         f"{len(probs)} and {len(masks)}")
    segments = [None] * len(probs) if segments is None else segments
    rows = [scores_at_thresholds(p, m, thresholds, s) for p, m, s in zip(probs, masks, segments)]
    result = {"thresholds": [float(t) for t in thresholds]}
    for metric in ("pixel_error", "adapted_rand_error"):  # means over images
        per_image = np.stack([r[metric] for r in rows])  # (n_images, T)
        with np.errstate(invalid="ignore"):
            result[metric] = np.nanmean(per_image, axis=0).tolist()  # (T,)
    pooled = np.sum([r["foreground_counts"] for r in rows], axis=0)  # (T, 3) over images
    result["pixel_f_error"] = [metrics.f_error(*c) for c in pooled.tolist()]
    return {k: result[k] for k in ("thresholds", *METRICS)}  # METRICS' order


def best_threshold(swept, metric):
    """(threshold, value) with the lowest mean `metric` in a `sweep` result (NaN skipped;
    of equal values the first, i.e. lowest, threshold)."""
    values = np.asarray(swept[metric], dtype=np.float64)
    if np.all(np.isnan(values)):
        raise ValueError(f"{metric}: every threshold gave NaN, no threshold to choose")
    i = int(np.nanargmin(values))
    return float(swept["thresholds"][i]), float(values[i])


def value_at(swept, metric, threshold):
    """The mean `metric` of a `sweep` result at `threshold` (one of its thresholds)."""
    thresholds = np.asarray(swept["thresholds"])
    hits = np.flatnonzero(np.isclose(thresholds, threshold))
    if hits.size == 0:
        raise ValueError(f"threshold: expected one of {swept['thresholds']}, got {threshold}")
    return float(swept[metric][int(hits[0])])


def score_paper_way(train_probs, train_masks, val_probs, val_masks,
                    thresholds=DEFAULT_THRESHOLDS, train_segments=None, val_segments=None):
    """Validation scores at thresholds chosen on the training images, one per metric.

    Returns {metric: {"threshold": t chosen on the training images, "train": the training
    images' mean at t, "validation": the validation images' mean at t}, "train_sweep",
    "validation_sweep": the two `sweep` results (the validation sweep only recorded)}.
    """
    train_sweep = sweep(train_probs, train_masks, thresholds, train_segments)
    val_sweep = sweep(val_probs, val_masks, thresholds, val_segments)
    result = {}
    for metric in METRICS:
        t, train_value = best_threshold(train_sweep, metric)  # training images only
        result[metric] = {"threshold": t, "train": train_value,
                          "validation": value_at(val_sweep, metric, t)}
    result["train_sweep"] = train_sweep
    result["validation_sweep"] = val_sweep
    return result
