"""Graded: weight_map (hand values and a brute-force all-pairs distance oracle)."""

import numpy as np
import pytest
from _oracles import student

WM = "minimal_unet.weight_map"


def _brute_force_weight_map(instances, w0, sigma):
    """w = 1 + w0 exp(-(d1 + d2)^2 / 2 sigma^2) on background, 1 on objects (no class term)."""
    H, W = instances.shape
    ids = [i for i in np.unique(instances) if i != 0]
    rows, cols = np.mgrid[0:H, 0:W]
    # distance from every pixel to the nearest pixel of each object: (n_objects, H, W)
    per_object = []
    for i in ids:
        r, c = np.nonzero(instances == i)
        d = np.sqrt((rows[..., None] - r) ** 2 + (cols[..., None] - c) ** 2)  # (H, W, n_px)
        per_object.append(d.min(axis=-1))
    d_sorted = np.sort(np.stack(per_object), axis=0)
    border = w0 * np.exp(-((d_sorted[0] + d_sorted[1]) ** 2) / (2 * sigma**2))
    return np.where(instances == 0, 1.0 + border, 1.0)


@pytest.mark.exercise("weight_map")
def test_single_object_has_no_border_term():
    labels = np.zeros((7, 7), dtype=np.int32)
    labels[2:5, 2:5] = 1
    w = student(WM, "weight_map")(labels, w0=10.0, sigma=5.0, class_weights=None)
    np.testing.assert_allclose(w, np.ones((7, 7)), rtol=0, atol=1e-12)


@pytest.mark.exercise("weight_map")
def test_balanced_class_weights_by_hand():
    # 9 object pixels out of 49: each class carries 49 / 2 in total.
    labels = np.zeros((7, 7), dtype=np.int32)
    labels[2:5, 2:5] = 1
    w = student(WM, "weight_map")(labels, w0=10.0, sigma=5.0, class_weights="balanced")
    np.testing.assert_allclose(w[labels == 1], 49 / (2 * 9), rtol=1e-12)
    np.testing.assert_allclose(w[labels == 0], 49 / (2 * 40), rtol=1e-12)


@pytest.mark.exercise("weight_map")
@pytest.mark.parametrize("w0, sigma", [(10.0, 5.0), (50.0, 2.0)])
def test_two_objects_match_brute_force_distances(w0, sigma):
    labels = np.zeros((9, 12), dtype=np.int32)
    labels[2:6, 1:4] = 1
    labels[3:8, 6:10] = 2
    labels[0, 11] = 3
    w = student(WM, "weight_map")(labels, w0=w0, sigma=sigma, class_weights=None)
    expected = _brute_force_weight_map(labels, w0, sigma)
    np.testing.assert_allclose(w, expected, rtol=0, atol=1e-9 * w0)
    assert w[4, 5] > 1 + 0.5 * w0 * np.exp(-(2**2) / (2 * sigma**2))  # in the gap: high
