"""What training sees of each sample: the mask it learns, the loss weight of every pixel,
and how often each image is picked. Computed once per image, before the first step.

    image, mask, weight = prepare_sample(sample, TrainConfig(weight_map="paper"))

- `training_sample`: the mask (and instances) training learns; with
  cfg.separate_touching, touching instances cut apart by a 1 px gap.
- `sample_weight_map`: the loss weight map, the sum of
    the class term (`balanced_class_weights`, per image, or `dataset_class_weights`,
    pooled; raised to cfg.balance_power),
    the paper's border term w0 exp(-(d1 + d2)^2 / (2 sigma^2)) on background between
    objects (weight_map.weight_map, arXiv 1505.04597 Sec. 3, eq. 2),
    and, off by default, `rim_term` on object pixels at their edge (cfg.rim_w) and on
    background pixels at the objects' edge (cfg.halo_w).
- `sampling_odds`: the odds of picking each image (uniform unless cfg.sample_power).

cfg is a train.TrainConfig (only its fields are read, so this module does not import
train.py). Shapes: every map is (H, W) of the sample's image.
"""

import dataclasses

import numpy as np
from scipy import ndimage

from minimal_unet.infer import normalize_image
from minimal_unet.weight_map import (
    class_weights_map,
    separate_touching,
    weight_map,
    weight_map_freiburg,
)


def sample_weight_map(sample, cfg, n_classes=2, class_weights=None):
    """The loss weight map (H, W) float64 of one sample (instances first, else the mask).

    class_weights: the class term's table (one weight per class) when it is shared by the
    whole training set (`dataset_class_weights`); None: from this sample's own mask.
    """
    if class_weights is None and cfg.weight_map != "none":
        class_weights = balanced_class_weights(sample.mask, cfg.balance_power)
    if cfg.weight_map == "none":
        weight = np.ones(sample.mask.shape)
    elif cfg.weight_map == "balanced" or n_classes != 2:
        weight = class_weights_map(sample.mask, class_weights)
    else:
        labels = sample.instances if sample.instances is not None else sample.mask
        if cfg.weight_map == "freiburg":
            weight = weight_map_freiburg(labels)
        else:
            weight = weight_map(labels, w0=cfg.w0, sigma=cfg.sigma,
                                class_weights=class_weights)
    share = object_share(sample.mask)
    if cfg.rim_w and share >= cfg.rim_min_share:
        weight = weight + rim_term(sample.mask, cfg.rim_w, cfg.rim_sigma)
    if cfg.halo_w and share < cfg.halo_max_share:  # the rim term of the background
        weight = weight + rim_term(np.asarray(sample.mask) == 0, cfg.halo_w, cfg.rim_sigma)
    return weight


def object_share(mask):
    """The fraction of a mask's pixels that belong to objects (mask > 0)."""
    return np.count_nonzero(mask) / np.asarray(mask).size


def rim_term(mask, rim_w, rim_sigma):
    """rim_w exp(-(d - 1)^2 / (2 rim_sigma^2)) on object pixels (mask > 0), 0 on background.

    d: each object pixel's Euclidean distance to the nearest background pixel (1 on the
    object's outermost pixels). The paper's border term weighs only background, so a net
    may shave object edges at no extra cost; this term prices them. An image without
    background has no edge: the term is 0 there.
    """
    objects = np.asarray(mask) > 0
    if objects.all():
        return np.zeros(objects.shape)
    d = ndimage.distance_transform_edt(objects)  # 0 on background
    return np.where(objects, rim_w * np.exp(-((d - 1.0) ** 2) / (2.0 * rim_sigma**2)), 0.0)


def balanced_class_weights(mask, power=1.0):
    """The class term's weights: "balanced" (w_c = n_pixels / (K count_c)) when power is 1,
    else a table of those weights raised to `power` (0.5 balances halfway: the minority
    class's weight is the square root of its full balance; 0: every class weighs 1).

    Full balance moves the net's 0.5 decision boundary toward the minority class (its
    probabilities come out reweighted by the class ratio); a power between 0 and 1 is a
    compromise between that and the unweighted loss's calibrated probabilities.
    """
    if power == 1.0:
        return "balanced"
    table = np.ones(int(mask.max(initial=0)) + 1)  # classes absent from the mask: 1
    table[mask] = class_weights_map(mask, "balanced") ** power  # each class's own weight
    return table


def dataset_class_weights(samples, cfg, n_classes=2):
    """The class term's table when cfg.balance_over is "dataset", else None (per image).

    "dataset": w_c = n / (K count_c) with the pixel counts pooled over every training
    mask (after `training_sample`), raised to cfg.balance_power, the same for every image.
    Per image, a crowded image (nuclei 30 % of its pixels) weighs its nuclei 2.3x its
    background and a sparse one (5 %) 19x: the net learns a different boundary for each
    kind of picture. Pooled, every image gets the data set's one ratio.
    """
    if cfg.balance_over == "image":
        return None
    counts = np.zeros(n_classes, dtype=np.int64)
    for s in samples:
        mask = np.asarray(training_sample(s, cfg).mask)
        counts += np.bincount(mask.ravel(), minlength=n_classes)[:n_classes]
    table = np.ones(n_classes)
    present = counts > 0  # class_weights_map's "balanced" formula, over the pooled counts
    table[present] = (counts.sum() / (present.sum() * counts[present])) ** cfg.balance_power
    return table


def training_sample(sample, cfg):
    """The sample training sees: with cfg.separate_touching (and instance ids), the mask
    and instances lose a 1 px gap where two instances touch (weight_map.separate_touching),
    so the net learns to draw the border the paper's weight map stresses (Sec. 3)."""
    if not cfg.separate_touching or sample.instances is None:
        return sample
    ids = separate_touching(sample.instances, width=1)
    return dataclasses.replace(sample, mask=(ids > 0).astype(np.int64), instances=ids)


def prepare_sample(sample, cfg, n_classes=2, class_weights=None, normalize=None):
    """(normalised image float64, mask int64, weight float64), all (H, W); computed once.

    class_weights: `dataset_class_weights` of the training set, or None (per image).
    normalize: image -> normalised image; None: zero mean, unit std per image
    (`infer.normalize_image`, as inference does); recipe_run passes a recipe's own."""
    if sample.mask is None:
        raise ValueError(f"sample {sample.name!r}: expected a mask for training, got None")
    sample = training_sample(sample, cfg)
    try:
        image = (normalize_image(sample.image, dtype=np.float64) if normalize is None
                 else normalize(sample.image))
    except ValueError as error:
        raise ValueError(f"sample {sample.name!r}: {error}") from None
    weight = sample_weight_map(sample, cfg, n_classes, class_weights)
    return image, np.asarray(sample.mask, dtype=np.int64), weight


def sampling_odds(prepared, cfg):
    """Probabilities of picking each prepared image, or None for uniform (sample_power 0).

    With sample_power p > 0 an image is picked with odds (share of its pixels in objects)^p,
    so crowded pictures come more often; an image without objects gets the smallest
    nonzero share of the set (never zero: it still teaches background).
    """
    if cfg.sample_power == 0:
        return None
    shares = np.array([object_share(mask) for _, mask, _ in prepared])
    floor = shares[shares > 0].min() if np.any(shares > 0) else 1.0
    odds = np.maximum(shares, floor) ** cfg.sample_power
    return odds / odds.sum()
