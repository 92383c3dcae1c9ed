"""Segmentation metrics: pixel error, IoU, Dice, adapted Rand error, warping error.

Arguments are (pred, gt): pred the prediction, gt the ground truth, both (H, W) integer
or bool arrays of the same shape (class labels, or segment ids for the Rand error).
Results are Python floats (or float64 arrays, one value per class).

- pixel_error: fraction of pixels whose class differs (the squared Euclidean distance
  between binary label images, per pixel: one of the two ISBI 2012 pixel errors).
- pixel_f_error: 1 - F-score (= 1 - Dice) of the foreground class (gt > 0 and pred > 0
  taken as positive): the other ISBI 2012 pixel error, the one its organizers' evaluation script
  computes ("1 - the maximal F-score of pixel similarity", the maximum over thresholds
  of a probability map; see thresholds.py). On ISBI's cell-dominated labels it is much
  lower than pixel_error for the same prediction.
- iou, dice: per class, |P & G| / |P | G| and 2 |P & G| / (|P| + |G|).

Empty masks are legal data. Conventions for empty sets (tested in tests/faults):
- IoU and Dice of two empty sets are 1.0: a class (or the foreground) absent from both the
  prediction and the ground truth was predicted exactly right. Absent from one only: 0.0.
- adapted Rand error, precision and recall are NaN when the ground truth has no foreground
  pixel (no pixel is counted, so no pair exists), as scikit-image returns; a prediction
  with no foreground against a non-empty ground truth is one segment (error as skimage).
- pixel error and warping error are defined as always (0.0 for two empty masks); so is
  pixel_f_error (0.0 when neither has a foreground pixel, 1.0 when only one has).
Means over images (`validation.mean_metrics`) skip NaN entries.
- adapted_rand_error: the ISBI 2012 / SNEMI3D Rand error between segmentations.
- warping_error: Jain et al. 2010, the pixel disagreement left after warping gt towards
  pred by topology-preserving flips only (so it counts splits, merges, holes).
"""

import numpy as np
from scipy import ndimage, sparse


def _check_pair(pred, gt):
    pred, gt = np.asarray(pred), np.asarray(gt)
    for name, a in (("pred", pred), ("gt", gt)):
        if a.dtype != bool and not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{name}: expected a bool or integer label array, got dtype {a.dtype}")
    if pred.shape != gt.shape:
        raise ValueError(f"pred, gt: expected the same shape, got {pred.shape} and {gt.shape}")
    return pred, gt


def pixel_error(pred, gt):
    """Fraction of pixels where pred != gt."""
    pred, gt = _check_pair(pred, gt)
    return float(np.mean(pred != gt))


def foreground_counts(pred, gt):
    """(true positives, false positives, false negatives) of the foreground, pred > 0
    against gt > 0, as Python ints (the counts an F-score needs; they add over images)."""
    pred, gt = _check_pair(pred, gt)
    cm = confusion_matrix(pred > 0, gt > 0)  # [g, p], 0 background, 1 foreground
    return int(cm[1, 1]), int(cm[0, 1]), int(cm[1, 0])


def f_error(tp, fp, fn):
    """1 - F-score = (fp + fn) / (2 tp + fp + fn); 0.0 when all three are 0 (no foreground
    anywhere: predicted exactly right)."""
    wrong = fp + fn
    return float(wrong / (2 * tp + wrong)) if wrong else 0.0


def pixel_f_error(pred, gt):
    """1 - F-score of the foreground (pred > 0 vs gt > 0): the ISBI 2012 challenge's pixel
    error at one threshold, as the organizers' script computes it (precision tp / (tp +
    fp), recall tp / (tp + fn), F their harmonic mean = 2 tp / (2 tp + fp + fn)). The
    F-score of a binary mask is its Dice: this is 1 - dice(pred > 0, gt > 0)[1], under the
    challenge's name, and with counts (`foreground_counts`) that pool over a stack."""
    return f_error(*foreground_counts(pred, gt))


def confusion_matrix(pred, gt, n_classes=2):
    """(n_classes, n_classes) int64 counts: [g, p] = pixels with gt class g and pred class p."""
    pred, gt = _check_pair(pred, gt)
    for name, a in (("pred", pred), ("gt", gt)):
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise ValueError(f"{name}: expected classes in 0..{n_classes - 1}, got values "
                             f"{a.min()}..{a.max()}")
    joint = gt.astype(np.int64).ravel() * n_classes + pred.astype(np.int64).ravel()
    counts = np.bincount(joint, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)  # (K, K) rows gt, columns pred


def iou(pred, gt, n_classes=2):
    """Per-class intersection over union (n_classes,) float64; 1.0 where the union is empty
    (the class is absent from both: predicted exactly right)."""
    cm = confusion_matrix(pred, gt, n_classes)
    intersection = np.diag(cm).astype(np.float64)  # (K,)
    union = cm.sum(axis=0) + cm.sum(axis=1) - np.diag(cm)  # |P| + |G| - |P & G|
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, 1.0)


def dice(pred, gt, n_classes=2):
    """Per-class Dice 2 |P & G| / (|P| + |G|) (n_classes,) float64; 1.0 where both are empty."""
    cm = confusion_matrix(pred, gt, n_classes)
    intersection = np.diag(cm).astype(np.float64)
    sizes = cm.sum(axis=0) + cm.sum(axis=1)  # |P| + |G|
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sizes > 0, 2.0 * intersection / sizes, 1.0)


def foreground_iou(pred, gt):
    """IoU of the foreground (every class > 0) against the background, as a float; 1.0 when
    neither has any foreground."""
    pred, gt = _check_pair(pred, gt)
    p, g = pred > 0, gt > 0
    union = np.count_nonzero(p | g)
    return float(np.count_nonzero(p & g) / union) if union else 1.0


def adapted_rand_error(seg, gt):
    """Adapted Rand error (error, precision, recall) of segmentation `seg` against `gt`.

    seg, gt: (H, W) integer segment ids. Pixels with gt == 0 are ignored (as in skimage and
    the SNEMI3D script); seg == 0 is an ordinary segment. With n_ij = pixels in gt segment i
    and seg segment j (over the N counted pixels), a_i = sum_j n_ij, b_j = sum_i n_ij, and
    pair counts S = sum n^2 - N (ordered pairs of distinct pixels):
        precision = S(n_ij) / S(b_j)    pairs together in both / pairs together in seg
        recall    = S(n_ij) / S(a_i)    pairs together in both / pairs together in gt
        error     = 1 - 2 S(n_ij) / (S(a_i) + S(b_j))
    `error` equals skimage.metrics.adapted_rand_error(gt, seg)[0]; skimage returns our
    precision as its recall and vice versa (scikit-image issue #6485: its two are swapped
    against its own docstring; a merge must lower precision, and here it does).
    """
    seg, gt = _check_pair(seg, gt)
    counted = gt.ravel() != 0
    gt_ids = gt.ravel()[counted]
    seg_ids = seg.ravel()[counted]
    n = gt_ids.size
    if n == 0:  # no foreground in gt: no counted pixel, no pair (skimage: NaN too)
        return float("nan"), float("nan"), float("nan")
    # Compact ids 0..n_gt-1 and 0..n_seg-1, then the sparse contingency table n_ij.
    _, gt_index = np.unique(gt_ids, return_inverse=True)
    _, seg_index = np.unique(seg_ids, return_inverse=True)
    ones = np.ones(n, dtype=np.int64)
    table = sparse.coo_array((ones, (gt_index, seg_index))).tocsr()  # duplicates summed
    table.sum_duplicates()
    n_ij = table.data.astype(np.int64)
    a_i = np.bincount(gt_index).astype(np.int64)  # gt segment sizes
    b_j = np.bincount(seg_index).astype(np.int64)  # seg segment sizes
    pairs_both = float(n_ij @ n_ij - n)
    pairs_gt = float(a_i @ a_i - n)
    pairs_seg = float(b_j @ b_j - n)
    if pairs_gt == 0 or pairs_seg == 0:  # no pair of counted pixels shares a segment
        return float("nan"), float("nan"), float("nan")
    precision = pairs_both / pairs_seg
    recall = pairs_both / pairs_gt
    error = 1.0 - 2.0 * pairs_both / (pairs_gt + pairs_seg)
    return error, precision, recall


# --- warping error ------------------------------------------------------------------------
# Neighbour k of p (bit k of the 3x3 code): offsets in clockwise order from the top-left.
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _components_in_ring(members, connectivity, touching_p_only):
    """Number of components of the ring positions `members` (set of k) under 4/8-adjacency
    inside the 3x3 ring; with touching_p_only, only components holding a 4-neighbour of p."""
    parent = {k: k for k in members}

    def find(k):
        while parent[k] != k:
            k = parent[k]
        return k

    for a in members:
        for b in members:
            dr = abs(NEIGHBOURS[a][0] - NEIGHBOURS[b][0])
            dc = abs(NEIGHBOURS[a][1] - NEIGHBOURS[b][1])
            adjacent = (dr + dc == 1) if connectivity == 4 else (max(dr, dc) == 1)
            if adjacent:
                parent[find(a)] = find(b)
    roots = {find(k) for k in members
             if not touching_p_only or NEIGHBOURS[k][0] == 0 or NEIGHBOURS[k][1] == 0}
    return len(roots)


def simple_point_table(fg_connectivity=4):
    """Lookup table (256,) bool: is p simple given its 3x3 neighbourhood code?

    p is simple for the pair (k, k') = (fg_connectivity, the other) when flipping it changes
    no topology: T_k(p, fg) == 1 and T_k'(p, bg) == 1, with the topological numbers
    T_8 = number of 8-components of the set in the ring N8*(p), and
    T_4 = number of 4-components of the set in N8*(p) that hold a 4-neighbour of p.
    The test does not depend on p's own value, so it serves flips both ways.
    """
    if fg_connectivity not in (4, 8):
        raise ValueError(f"fg_connectivity: expected 4 or 8, got {fg_connectivity}")
    bg_connectivity = 12 - fg_connectivity
    table = np.zeros(256, dtype=bool)
    for code in range(256):
        fg = {k for k in range(8) if code >> k & 1}
        bg = set(range(8)) - fg
        t_fg = _components_in_ring(fg, fg_connectivity, fg_connectivity == 4)
        t_bg = _components_in_ring(bg, bg_connectivity, bg_connectivity == 4)
        table[code] = t_fg == 1 and t_bg == 1
    return table


def neighbourhood_codes(binary):
    """(H, W) int code of each pixel's 8 neighbours: sum_k binary[p + offset_k] << k,
    with pixels outside the image counted as background."""
    H, W = binary.shape
    padded = np.pad(binary.astype(np.int64), 1)  # (H + 2, W + 2), zero frame
    code = np.zeros((H, W), dtype=np.int64)
    for k, (dr, dc) in enumerate(NEIGHBOURS):
        code |= padded[1 + dr : 1 + dr + H, 1 + dc : 1 + dc + W] << k
    return code


def warp_towards(gt_binary, pred_binary, fg_connectivity=4, max_iter=1000):
    """Warp gt towards pred by flipping simple points only; returns the warped (H, W) bool.

    Each pass visits the four sub-lattices (i % 2, j % 2); all mismatched simple pixels of
    one sub-lattice are flipped at once. Two pixels of a sub-lattice are never neighbours,
    so flipping one leaves the other's neighbourhood, and so its simplicity, unchanged:
    the parallel flips equal a sequence of single simple flips. Stops when a pass flips
    nothing, or after `max_iter` passes.
    """
    table = simple_point_table(fg_connectivity)
    warped = np.asarray(gt_binary, dtype=bool).copy()
    target = np.asarray(pred_binary, dtype=bool)
    H, W = warped.shape
    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")  # (H, W) each
    lattices = [(rows % 2 == a) & (cols % 2 == b) for a in (0, 1) for b in (0, 1)]
    for _ in range(max_iter):
        flipped = 0
        for lattice in lattices:
            candidates = lattice & (warped != target)
            if not candidates.any():
                continue
            simple = table[neighbourhood_codes(warped)]  # (H, W)
            flip = candidates & simple
            warped[flip] = target[flip]
            flipped += int(np.count_nonzero(flip))
        if flipped == 0:
            break
    return warped


def warping_error(pred_binary, gt_binary, fg_connectivity=4, max_iter=1000):
    """Jain et al. 2010: the fraction of pixels where pred differs from gt warped towards
    pred by simple-point flips (fg 4-connected, bg 8-connected by default: a diagonal line
    of background separates two cells)."""
    pred, gt = _check_pair(pred_binary, gt_binary)
    warped = warp_towards(gt > 0, pred > 0, fg_connectivity, max_iter)
    return float(np.mean(warped != (pred > 0)))


def evaluate(prob_or_labels, gt, threshold=0.5, warping=True):
    """All metrics of a prediction against gt (H, W) classes, as a dict of floats / lists.

    prob_or_labels: integer/bool (H, W) classes; float (H, W) foreground probability
    (class 1 where >= threshold); or float (K, H, W) class probabilities (K == 2: class 1
    where prob[1] >= threshold; K > 2: argmax). Segments for the Rand error are the
    4-connected components of the foreground (class > 0) in each image.
    """
    p = np.asarray(prob_or_labels)
    gt = np.asarray(gt)
    if np.issubdtype(p.dtype, np.floating):
        if p.ndim == 3 and p.shape[0] == 2:
            p = p[1]
        p = p.argmax(axis=0) if p.ndim == 3 else (p >= threshold)
    pred = p.astype(np.int64)
    _check_pair(pred, gt)
    n_classes = int(max(pred.max(initial=0), gt.max(initial=0), 1)) + 1
    four = ndimage.generate_binary_structure(2, 1)
    pred_segments, _ = ndimage.label(pred > 0, structure=four)
    gt_segments, _ = ndimage.label(gt > 0, structure=four)
    rand, precision, recall = adapted_rand_error(pred_segments, gt_segments)
    result = {
        "pixel_error": pixel_error(pred, gt),
        "pixel_f_error": pixel_f_error(pred, gt),
        "foreground_iou": foreground_iou(pred, gt),
        "iou": iou(pred, gt, n_classes).tolist(),
        "dice": dice(pred, gt, n_classes).tolist(),
        "adapted_rand_error": rand,
        "rand_precision": precision,
        "rand_recall": recall,
    }
    if warping:
        result["warping_error"] = warping_error(pred > 0, gt > 0)
    return result
