"""The U-Net's pixel-wise loss weight map, and the thin borders that separate touching cells.

Paper (Ronneberger et al. 2015, eq. 2):

    w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))**2 / (2 * sigma**2))

- w_c(x) balances the class frequencies (the paper gives no formula; ours is below);
- d1(x), d2(x) = Euclidean distance from pixel x to the nearest pixel of the nearest and of
  the second-nearest object (cell). A background pixel touching an object has d1 = 1.
- The border term is added on background pixels only, and only where there are at least
  two objects (d2 is infinite, so the term is 0, when there is a single object). This is
  what the authors' Freiburg plugin does: the term exists to make the network learn the
  thin background gaps between touching cells.

Shapes: every array here is one image, (H, W). Instance images hold 0 = background and
1..N = object ids (any integer dtype); binary masks (bool or {0, 1}) are split into objects
by connected components.

Speed: d1 comes from ONE exact Euclidean distance transform (EDT) of the background.
d2 needs, per pixel, the distance to the second-nearest object, which one EDT cannot
give. Running one EDT per object over the whole image costs N full EDTs (100 objects on
512x512: seconds). Instead, each object's EDT is computed inside its bounding box grown by
`cutoff` pixels, the distance beyond which the border term is below 1e-12 * w0:
    w0 * exp(-cutoff**2 / (2 sigma**2)) = 1e-12 * w0  ->  cutoff = sigma * sqrt(2 ln 1e12).
The EDT inside the grown box is exact (the whole object lies in the box). A pixel outside
an object's box is farther than `cutoff` from it, so for that pixel the object is either
not among its two nearest, or d2 > cutoff and the term is below 1e-12 * w0 (we set it to
0). The result equals the all-pairs definition to within 1e-12 * w0 per pixel.
"""

import numpy as np
from scipy import ndimage

# d2 beyond which exp(-d2**2 / (2 sigma**2)) < 1e-12: cutoff = CUTOFF_PER_SIGMA * sigma.
CUTOFF_PER_SIGMA = float(np.sqrt(2.0 * np.log(1e12)))  # ~7.43

# The Freiburg U-Net Fiji plugin's parameters (not the paper's).
FREIBURG = {
    "background": 0.1,  # class weight of background far from cells
    "foreground": 1.0,  # class weight of cells
    "border_w0": 50.0,  # w0 of the separation term
    "border_sigma": 6.0,  # sigma (px) of the separation term
    "smooth_sigma": 10.0,  # sigma (px) of the 0.9 exp(-d1^2 / (2 sigma^2)) transition term
}


def to_instances(labels, connectivity=1):
    """Return an int32 instance image (0 = background, 1..N ids) from `labels` (H, W).

    Integer images with values other than {0, 1} are taken as instance images as they are.
    A bool image, or an integer image whose values are all in {0, 1}, is a binary mask: its
    objects are the connected components of the 1s, with `connectivity` 1 (4-neighbours,
    default) or 2 (8-neighbours, diagonal contact joins two objects).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels: expected shape (H, W), got shape {labels.shape}")
    if labels.dtype != bool and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: expected a bool or integer array, got dtype {labels.dtype}")
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity: expected 1 (4-conn.) or 2 (8-conn.), got {connectivity}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels: expected values >= 0, got minimum {labels.min()}")
    if labels.dtype == bool or labels.max(initial=0) <= 1:
        structure = ndimage.generate_binary_structure(2, connectivity)  # (3, 3)
        instances, _ = ndimage.label(labels > 0, structure=structure)
        return instances.astype(np.int32)
    return labels.astype(np.int32)


def nearest_two_distances(instances, cutoff=np.inf):
    """Distances d1, d2 from every pixel to its nearest and second-nearest object.

    instances: (H, W) int, 0 = background, 1..N object ids (ids need not be consecutive).
    cutoff: distances above `cutoff` may be reported as inf in d2 (see the module text);
        np.inf computes every object's EDT over the whole image (slow, exact everywhere).
    Returns d1, d2: (H, W) float64. d1 is exact everywhere (0 on objects, inf if there is
    no object); d2 is the distance to the nearest pixel of a *different* object than the
    nearest one (for object pixels: the distance to the nearest other object).
    """
    H, W = instances.shape
    d1_background = ndimage.distance_transform_edt(instances == 0) if instances.any() else None
    d1 = np.full((H, W), np.inf) if d1_background is None else d1_background
    first = np.full((H, W), np.inf)  # smallest per-object distance seen so far
    second = np.full((H, W), np.inf)  # second smallest
    margin = int(np.ceil(cutoff)) + 1 if np.isfinite(cutoff) else max(H, W)
    boxes = ndimage.find_objects(instances)  # boxes[id - 1] = (row slice, col slice) or None
    for index, box in enumerate(boxes):
        if box is None:  # no object with this id
            continue
        object_id = index + 1
        r0 = max(box[0].start - margin, 0)
        r1 = min(box[0].stop + margin, H)
        c0 = max(box[1].start - margin, 0)
        c1 = min(box[1].stop + margin, W)
        # Exact distance to this object, inside its grown box only.
        dist = ndimage.distance_transform_edt(instances[r0:r1, c0:c1] != object_id)
        f = first[r0:r1, c0:c1]
        s = second[r0:r1, c0:c1]
        # Insert `dist` into the sorted pair (first, second), in place on the views.
        s[...] = np.minimum(s, np.maximum(f, dist))
        f[...] = np.minimum(f, dist)
    return d1, second


def class_weights_map(classes, class_weights="balanced"):
    """The class term w_c(x), (H, W) float64, for a class image `classes` (H, W) int.

    class_weights:
      "balanced": w_c = n_pixels / (K * count_c) for each class c present in the image,
          K = number of classes present. Every class then carries the same total weight
          n_pixels / K, and the mean of w_c over the image is 1.
      None: w_c = 1 everywhere.
      a dict {class: weight} or a sequence indexed by class.
    """
    if class_weights is None:
        return np.ones(classes.shape)
    if isinstance(class_weights, str):
        if class_weights != "balanced":
            raise ValueError(f"class_weights: expected 'balanced', None, a dict or a sequence, "
                             f"got {class_weights!r}")
        counts = np.bincount(classes.ravel())  # (n_classes,)
        present = counts > 0
        table = np.zeros(counts.shape)
        table[present] = classes.size / (present.sum() * counts[present])
        return table[classes]
    if isinstance(class_weights, dict):
        missing = sorted(set(np.unique(classes).tolist()) - set(class_weights))
        if missing:
            raise ValueError(f"class_weights: no weight for classes {missing}, "
                             f"given keys {sorted(class_weights)}")
        out = np.zeros(classes.shape)
        for c, weight in class_weights.items():
            out[classes == c] = float(weight)
        return out
    table = np.asarray(class_weights, dtype=np.float64)
    if table.ndim != 1 or table.size <= classes.max(initial=0):
        raise ValueError(f"class_weights: expected one weight per class (at least "
                         f"{classes.max(initial=0) + 1}), got shape {table.shape}")
    return table[classes]


def weight_map(labels, w0=10.0, sigma=5.0, class_weights="balanced", connectivity=1,
               preset=None):
    """The paper's weight map w(x) = w_c(x) + w0 exp(-(d1 + d2)^2 / (2 sigma^2)), (H, W) float64.

    labels: (H, W) instance image (0 = background, 1..N) or binary mask (bool or {0, 1},
        objects = connected components with `connectivity` 1 = 4-conn., 2 = 8-conn.).
    w0, sigma: height and width (px) of the border term, paper: 10 and 5.
    class_weights: the class term, see `class_weights_map`; classes are 0 = background,
        1 = object.
    preset: None, or "freiburg" for `weight_map_freiburg(labels, connectivity)`.
    The border term is added on background pixels only; it is 0 unless there are >= 2
    objects. See the module docstring for how d2 is computed quickly.
    """
    if preset is not None:
        if preset != "freiburg":
            raise ValueError(f"preset: expected None or 'freiburg', got {preset!r}")
        return weight_map_freiburg(labels, connectivity=connectivity)
    if sigma <= 0:
        raise ValueError(f"sigma: expected > 0, got {sigma}")
    # BEGIN SOLUTION
    # HINT: class_weights_map + w0 exp(-(d1 + d2)^2 / (2 sigma^2)) on background (d1, d2: see above)
    instances = to_instances(labels, connectivity)
    classes = (instances > 0).astype(np.int64)  # (H, W) 0 = background, 1 = object
    w = class_weights_map(classes, class_weights)
    d1, d2 = nearest_two_distances(instances, cutoff=CUTOFF_PER_SIGMA * sigma)
    background = classes == 0
    border = w0 * np.exp(-((d1 + d2) ** 2) / (2.0 * sigma**2))  # 0 where d2 = inf
    w[background] += border[background]
    return w
    # END SOLUTION


def weight_map_freiburg(labels, connectivity=1):
    """The Freiburg U-Net plugin's weight map, (H, W) float64.

    foreground: 1;  background: 0.1 + 0.9 exp(-d1^2 / (2 * 10^2))
                                    + 50 exp(-(d1 + d2)^2 / (2 * 6^2)).
    The 0.9 term makes the background weight rise smoothly from 0.1 far from the cells to
    1 next to them; the 50 term is the paper's separation term with w0 = 50, sigma = 6.
    It goes through `weight_map` itself (class weights 0.1 / 1, w0 = 50, sigma = 6) and
    adds only the smooth term, so that it is no second copy of the weight map's code.
    """
    p = FREIBURG
    w = weight_map(labels, w0=p["border_w0"], sigma=p["border_sigma"],
                   class_weights={0: p["background"], 1: p["foreground"]},
                   connectivity=connectivity)
    instances = to_instances(labels, connectivity)
    background = instances == 0
    d1, _ = nearest_two_distances(instances, cutoff=CUTOFF_PER_SIGMA * p["border_sigma"])
    smooth = (p["foreground"] - p["background"]) * np.exp(-(d1**2) / (2.0 * p["smooth_sigma"] ** 2))
    w[background] += smooth[background]
    return w


def separate_touching(instances, width=1):
    """Set to background the pixels where two different instances touch (8-neighbourhood).

    instances: (H, W) int instance image, 0 = background.
    width: 1 -> a 1 px gap: of two touching pixels, the one with the larger id is removed
               (it has a neighbour with a smaller nonzero id: a grey erosion of the ids);
           2 -> a 2 px gap: both touching pixels are removed (a pixel is removed when the
               3x3 max or the 3x3 min over nonzero neighbours differs from its own id).
    Returns a copy of `instances` (same dtype) with the touching pixels set to 0; after it,
    no two different instances are 8-adjacent, so `out > 0` is a binary mask whose gaps are
    where the weight map peaks. This is the paper's "separation border computed with
    morphological operations".
    """
    instances = np.asarray(instances)
    if instances.ndim != 2 or not np.issubdtype(instances.dtype, np.integer):
        raise ValueError(f"instances: expected a 2-D integer array, got shape "
                         f"{instances.shape}, dtype {instances.dtype}")
    if width not in (1, 2):
        raise ValueError(f"width: expected 1 or 2, got {width}")
    ids = instances.astype(np.int64)
    big = int(ids.max(initial=0)) + 1  # larger than every id (no int64 max: scipy's
    # filters go through float64, where it overflows)
    ids_bg_big = np.where(ids > 0, ids, big)  # background must not win the min
    min_neighbour = ndimage.grey_erosion(ids_bg_big, size=(3, 3), mode="constant", cval=big)
    touching = (ids > 0) & (min_neighbour < ids)  # a smaller id next to me
    if width == 2:
        max_neighbour = ndimage.grey_dilation(ids, size=(3, 3), mode="constant", cval=0)
        touching |= (ids > 0) & (max_neighbour > ids)  # a larger id next to me
    out = instances.copy()
    out[touching] = 0
    return out
