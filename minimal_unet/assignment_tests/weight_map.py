"""Graded: weight_map (hand values and a brute-force all-pairs distance oracle)."""

import numpy as np

from minimal_unet.assignment_tests._harness import graded, run

WM = "minimal_unet.weight_map:weight_map"


def _brute_force_weight_map(instances, w0, sigma):
    """w = 1 + w0 exp(-(d1 + d2)^2 / 2 sigma^2) on background, 1 on objects (no class term)."""
    H, W = instances.shape
    ids = [i for i in np.unique(instances) if i != 0]
    rows, cols = np.mgrid[0:H, 0:W]
    per_object = []
    for i in ids:
        r, c = np.nonzero(instances == i)
        d = np.sqrt((rows[..., None] - r) ** 2 + (cols[..., None] - c) ** 2)  # (H, W, n_px)
        per_object.append(d.min(axis=-1))
    d_sorted = np.sort(np.stack(per_object), axis=0)
    border = w0 * np.exp(-((d_sorted[0] + d_sorted[1]) ** 2) / (2 * sigma**2))
    return np.where(instances == 0, 1.0 + border, 1.0)


@graded("weight_map")
def single_object_has_no_border_term(box, rng):
    """One object: no border term, w = 1 without class weights."""
    labels = np.zeros((7, 7), dtype=np.int32)
    labels[2:5, 2:5] = 1
    w = run(box, WM, labels, w0=10.0, sigma=5.0, class_weights=None)
    np.testing.assert_allclose(w, np.ones((7, 7)), rtol=0, atol=1e-12, err_msg="w")


@graded("weight_map")
def balanced_class_weights_by_hand(box, rng):
    """9 object pixels out of 49: each class carries 49 / 2 in total."""
    labels = np.zeros((7, 7), dtype=np.int32)
    labels[2:5, 2:5] = 1
    w = run(box, WM, labels, w0=10.0, sigma=5.0, class_weights="balanced")
    np.testing.assert_allclose(w[labels == 1], 49 / (2 * 9), rtol=1e-12, err_msg="objects")
    np.testing.assert_allclose(w[labels == 0], 49 / (2 * 40), rtol=1e-12, err_msg="background")


@graded("weight_map", hidden=True)
def two_objects_match_brute_force_distances(box, rng):
    """Three objects, two (w0, sigma): against all-pairs distances."""
    labels = np.zeros((9, 12), dtype=np.int32)
    labels[2:6, 1:4] = 1
    labels[3:8, 6:10] = 2
    labels[0, 11] = 3
    for w0, sigma in ((10.0, 5.0), (50.0, 2.0)):
        w = run(box, WM, labels, w0=w0, sigma=sigma, class_weights=None)
        np.testing.assert_allclose(w, _brute_force_weight_map(labels, w0, sigma), rtol=0,
                                   atol=1e-9 * w0, err_msg=f"w0={w0}, sigma={sigma}")
        assert w[4, 5] > 1 + 0.5 * w0 * np.exp(-(2**2) / (2 * sigma**2)), "the gap: expected high"
