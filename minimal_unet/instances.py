"""Objects (instances) from a foreground probability map: connected components, or seeds
grown by a watershed so that touching objects stay apart.

Thresholding P(foreground) and taking connected components (what `metrics.evaluate` and
`thresholds` score) has one knob, and it pulls two ways: a high threshold cuts touching
nuclei apart at the dip of P between them but loses faint nuclei and the rims of the
others; a low threshold keeps them but joins touching objects through that dip. A seeded
watershed takes both:

    foreground = P >= threshold                 # low: the objects' whole extent
    seeds      = 4-connected components of P >= seed_threshold   (high: one per object)
    each foreground component without a seed is a seed itself   (faint objects kept)
    grow the seeds over the foreground, lowest 1 - P first (`flood`):
    where two growing objects meet, the border falls on the valley of P between them.

With seed_threshold == threshold it is exactly the connected components of the
foreground. Both thresholds are chosen on TRAINING images (`choose`), as the paper's way
chooses its threshold (thresholds.py), and then applied unchanged to the images scored.
Mind what the adapted Rand error cannot see: it ignores true background, so a low
threshold that grows every object into the background costs nothing there; `choose`
also reports the watershed over the thresholded mask's own pixels, which cannot gain
that way, and benchmarks/instances.py records the pixel error and IoU of each foreground.

The ISBI 2012 challenge scored thresholded maps (arXiv 1505.04597, Sec. 4), and the paper
used no such post-processing; the watershed is for instance outputs (nuclei counted one
by one), reported beside the thresholded scores, never in place of them.

Shapes: prob (H, W) float in [0, 1]; the result (H, W) int32, 0 = background, 1..N ids.
"""

import heapq

import numpy as np
from scipy import ndimage

from minimal_unet import metrics
from minimal_unet.thresholds import FOUR, foreground_segments  # 4-connected, as everywhere

GRID_THRESHOLDS = tuple(round(0.1 * k, 1) for k in range(1, 10))  # 0.1, 0.2, .., 0.9


def components(prob, threshold=0.5):
    """(H, W) int32 ids of the 4-connected components of prob >= threshold."""
    return foreground_segments(np.asarray(prob) >= threshold).astype(np.int32, copy=False)


def check_thresholds(threshold, seed_threshold):
    if not 0.0 <= threshold <= seed_threshold <= 1.0:
        raise ValueError(f"threshold, seed_threshold: expected 0 <= threshold <= "
                         f"seed_threshold <= 1, got {threshold} and {seed_threshold}")


def seeded_watershed(prob, threshold=0.5, seed_threshold=0.9):
    """(H, W) int32 object ids: seeds (prob >= seed_threshold) grown over the foreground
    (prob >= threshold) by a watershed of 1 - prob; see the module docstring."""
    prob = np.asarray(prob)
    if prob.ndim != 2 or not np.issubdtype(prob.dtype, np.floating):
        raise ValueError(f"prob: expected a float (H, W) map, got {prob.dtype} of shape "
                         f"{prob.shape}")
    check_thresholds(threshold, seed_threshold)
    foreground = prob >= threshold  # (H, W) bool
    seeds, n_seeds = ndimage.label(prob >= seed_threshold, structure=FOUR)  # inside fg
    parts = foreground_segments(foreground)  # (H, W) ids of the foreground's components
    n_parts = int(parts.max(initial=0))
    seeded = np.zeros(n_parts + 1, dtype=bool)
    seeded[parts[seeds > 0]] = True  # foreground components holding a seed
    lone = foreground & ~seeded[parts]  # components without one: each its own object
    lone_ids, _ = ndimage.label(lone, structure=FOUR)
    markers = np.where(lone, lone_ids + n_seeds, seeds).astype(np.int32)  # (H, W)
    return flood(markers, 1.0 - prob, foreground)


def grow(objects, prob, threshold, radius):
    """(H, W) int32 `objects` grown by at most `radius` pixels into unlabelled pixels
    where prob >= threshold, touching objects kept apart (a watershed of 1 - prob).

    Meant for objects cut from the 0.5 mask whose rims the network calls background: a
    low `threshold` takes such a ring back, and `radius` keeps it from swelling every
    object into a faint halo, which a plain lower threshold does. Pixels farther than
    `radius` (Euclidean) from every object stay background; radius 0 returns the objects
    unchanged. On DSB 2018 it did not pay: each (threshold, radius) that lowered the
    instance Rand error lowered the foreground IoU too
    (benchmarks/results/dsb_postprocess_2026-12-05/).
    """
    objects = np.asarray(objects)
    prob = np.asarray(prob)
    if objects.shape != prob.shape or objects.ndim != 2:
        raise ValueError(f"objects, prob: expected two (H, W) arrays of one shape, got "
                         f"{objects.shape} and {prob.shape}")
    if not 0.0 <= threshold <= 1.0 or radius < 0:
        raise ValueError(f"threshold, radius: expected 0 <= threshold <= 1 and radius >= 0,"
                         f" got {threshold} and {radius}")
    if radius == 0 or not objects.any():
        return objects.astype(np.int32)
    near = ndimage.distance_transform_edt(objects == 0) <= radius  # (H, W) bool
    reach = (objects > 0) | (near & (prob >= threshold))
    return flood(objects.astype(np.int32), 1.0 - prob, reach)


def flood(markers, elevation, mask):
    """Grow `markers` (H, W) ids (0 = unlabelled) over `mask` in order of `elevation`.

    A priority flood (Beucher and Meyer's watershed by flooding, as
    skimage.segmentation.watershed with connectivity 1): a heap holds the labelled pixels
    lowest first; the lowest is taken out, and each unlabelled 4-neighbour inside the mask
    takes its id and goes into the heap. Where two floods meet, the border runs along the
    ridge of `elevation` between them. Ties are taken first in, first out. Pixels of the
    mask that no marker reaches stay 0.
    """
    H, W = markers.shape
    # Pad by one pixel outside the mask: neighbours need no bounds check. Flat lists
    # index faster than NumPy scalars in the Python loop below.
    ids = np.pad(markers, 1).ravel().tolist()  # ((H+2)*(W+2),) ids, 0 = unlabelled
    inside = np.pad(mask, 1).ravel().tolist()
    height = np.pad(np.asarray(elevation, dtype=np.float64), 1).ravel().tolist()
    steps = (-(W + 2), -1, 1, W + 2)  # up, left, right, down (skimage's order)
    # Only labelled pixels with an unlabelled neighbour in the mask can grow.
    padded = np.pad(markers, 1)
    open_ = np.pad(mask, 1) & (padded == 0)
    grows = (padded > 0) & ndimage.binary_dilation(open_, structure=FOUR)
    heap = [(height[i], i, i) for i in np.flatnonzero(grows).tolist()]  # (h, age, index)
    heapq.heapify(heap)
    age = len(ids)  # later entries are younger than every starting one
    while heap:
        _, _, i = heapq.heappop(heap)
        for step in steps:
            j = i + step
            if inside[j] and ids[j] == 0:
                ids[j] = ids[i]
                age += 1
                heapq.heappush(heap, (height[j], age, j))
    grown = np.array(ids, dtype=np.int32).reshape(H + 2, W + 2)[1:-1, 1:-1]  # (H, W)
    return np.ascontiguousarray(grown)


def seed_grid(thresholds=GRID_THRESHOLDS):
    """[(threshold, seed_threshold)] with seed_threshold >= threshold, both from
    `thresholds` (default 45 pairs); the pairs with equal values are plain connected
    components."""
    return [(t, s) for t in thresholds for s in thresholds if s >= t]


def sweep(probs, segments, grid=None):
    """Mean adapted Rand error over images of each (threshold, seed_threshold) in `grid`.

    probs: list of (H, W) maps; segments: list of (H, W) true object ids (0 = ignored).
    Returns {"pairs": [[t, s], ...], "adapted_rand_error": [...]}, images whose Rand
    error is NaN (no pair of counted pixels in one segment) left out of the mean.
    """
    if len(probs) == 0 or len(probs) != len(segments):
        raise ValueError(f"probs, segments: expected two non-empty lists of one length, "
                         f"got {len(probs)} and {len(segments)}")
    grid = seed_grid() if grid is None else grid
    errors = np.empty((len(probs), len(grid)))  # (n_images, n_pairs)
    for i, (prob, truth) in enumerate(zip(probs, segments)):
        for j, (t, s) in enumerate(grid):
            errors[i, j] = metrics.adapted_rand_error(seeded_watershed(prob, t, s), truth)[0]
    with np.errstate(invalid="ignore"):
        means = np.nanmean(errors, axis=0)  # (n_pairs,)
    return {"pairs": [[float(t), float(s)] for t, s in grid],
            "adapted_rand_error": means.tolist()}


def best_pair(swept, columns=None):
    """Index into swept["pairs"] of the lowest mean error among `columns` (default: all;
    NaN skipped; of equal values the first)."""
    values = np.asarray(swept["adapted_rand_error"], dtype=np.float64)
    columns = np.arange(values.size) if columns is None else np.asarray(columns)
    if np.all(np.isnan(values[columns])):
        raise ValueError("adapted_rand_error: every pair gave NaN, nothing to choose")
    return int(columns[np.nanargmin(values[columns])])


def choose(train_probs, train_segments, val_probs, val_segments, grid=None,
           mask_threshold=0.5):
    """Validation Rand errors with thresholds chosen on the TRAINING images, three ways:

    "components": plain components, the threshold t best on training;
    "watershed": the seeded watershed, the pair (t, s) best on training;
    "watershed_on_mask": the seeded watershed over the mask's own foreground
        (t = mask_threshold, in the grid), only s chosen: the objects cover exactly the
        pixels of the thresholded mask, so its pixel error and IoU are unchanged. The
        adapted Rand error ignores true background and counts missed object pixels as
        one segment, so a low t can lower it by growing every object; this row cannot.
    Each row: {"threshold", "seed_threshold" (not for components), "train",
    "validation"}; also "train_sweep" and "validation_sweep" (the validation sweep is
    recorded, never chosen from).
    """
    grid = seed_grid() if grid is None else grid
    on_mask = [j for j, (t, s) in enumerate(grid) if t == mask_threshold]
    if not on_mask:
        raise ValueError(f"mask_threshold: expected a threshold of the grid, got "
                         f"{mask_threshold}")
    train_sweep = sweep(train_probs, train_segments, grid)
    val_sweep = sweep(val_probs, val_segments, grid)
    result = {}
    plain = [j for j, (t, s) in enumerate(grid) if s == t]  # connected components
    for name, columns in (("components", plain), ("watershed", None),
                          ("watershed_on_mask", on_mask)):
        j = best_pair(train_sweep, columns)  # training images only
        t, s = train_sweep["pairs"][j]
        result[name] = {"threshold": t, "seed_threshold": s,
                        "train": train_sweep["adapted_rand_error"][j],
                        "validation": val_sweep["adapted_rand_error"][j]}
    del result["components"]["seed_threshold"]
    result["train_sweep"] = train_sweep
    result["validation_sweep"] = val_sweep
    return result
