"""Weight map: hand-computed values, a brute-force oracle, symmetry, and the real DSB nuclei."""

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minimal_unet.weight_map import (
    separate_touching,
    to_instances,
    weight_map,
    weight_map_freiburg,
)

DATASETS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
DSB = DATASETS / "dsb2018-nuclei"


def border(d1, d2, w0=10.0, sigma=5.0):
    return w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))


def two_pixels():
    """5 x 9 image with single-pixel objects at (2, 2) and (2, 6)."""
    labels = np.zeros((5, 9), dtype=np.int32)
    labels[2, 2] = 1
    labels[2, 6] = 2
    return labels


def test_two_single_pixel_objects_by_hand():
    w = weight_map(two_pixels(), class_weights=None)
    # (2, 4): d1 = d2 = 2.  (2, 3): d1 = 1, d2 = 3.  (0, 4): d1 = d2 = sqrt(8).
    assert w[2, 4] == pytest.approx(1 + border(2, 2), rel=1e-12)
    assert w[2, 3] == pytest.approx(1 + border(1, 3), rel=1e-12)
    assert w[0, 4] == pytest.approx(1 + border(np.sqrt(8), np.sqrt(8)), rel=1e-12)
    # (0, 0): d1 = sqrt(8) to (2, 2), d2 = sqrt(4 + 36) to (2, 6).
    assert w[0, 0] == pytest.approx(1 + border(np.sqrt(8), np.sqrt(40)), rel=1e-12)
    # Objects carry only the class term.
    assert w[2, 2] == 1.0 and w[2, 6] == 1.0
    assert w.dtype == np.float64 and w.shape == (5, 9)


def test_balanced_class_weights_by_hand():
    w = weight_map(two_pixels(), w0=0.0)  # class term only
    n, n_bg, n_fg = 45, 43, 2
    assert w[2, 2] == pytest.approx(n / (2 * n_fg))
    assert w[0, 0] == pytest.approx(n / (2 * n_bg))
    assert w.mean() == pytest.approx(1.0)


def test_class_weights_dict_and_sequence():
    labels = two_pixels()
    by_dict = weight_map(labels, w0=0.0, class_weights={0: 0.5, 1: 3.0})
    by_list = weight_map(labels, w0=0.0, class_weights=[0.5, 3.0])
    np.testing.assert_array_equal(by_dict, by_list)
    assert by_dict[2, 2] == 3.0 and by_dict[0, 0] == 0.5


def test_single_object_has_no_border_term():
    labels = np.zeros((20, 20), dtype=np.int32)
    labels[5:12, 6:10] = 1
    w = weight_map(labels, class_weights=None)
    np.testing.assert_array_equal(w, np.ones((20, 20)))


def test_touching_squares_peak_on_the_gap_and_symmetric():
    labels = np.zeros((30, 40), dtype=np.int32)
    labels[10:20, 8:19] = 1  # columns 8..18
    labels[10:20, 21:32] = 2  # columns 21..31: a 2 px gap (19, 20), mirror symmetric
    w = weight_map(labels)
    np.testing.assert_allclose(w, w[:, ::-1], rtol=0, atol=1e-12)
    background = labels == 0
    peak = np.unravel_index(np.argmax(np.where(background, w, -np.inf)), w.shape)
    assert peak[1] in (19, 20) and 10 <= peak[0] < 20
    # On the gap d1 = 1, d2 = 2: the term is close to w0.
    assert w[15, 19] == pytest.approx(w[0, 0] + border(1, 2), rel=1e-9)
    assert w[15, 19] > 5 * w[15, 2]


def test_binary_mask_equals_instance_image_when_components_are_separate():
    labels = np.zeros((24, 24), dtype=np.int32)
    labels[2:8, 2:8] = 1
    labels[2:8, 10:14] = 2
    labels[15:22, 4:20] = 3
    np.testing.assert_array_equal(weight_map(labels), weight_map(labels > 0))
    np.testing.assert_array_equal(weight_map(labels), weight_map((labels > 0).astype(np.uint8)))


def test_connectivity_of_binary_masks():
    mask = np.zeros((6, 6), dtype=bool)
    mask[1, 1] = mask[2, 2] = True  # diagonal contact
    assert to_instances(mask, connectivity=1).max() == 2
    assert to_instances(mask, connectivity=2).max() == 1


def brute_force_d1_d2(labels):
    """d1, d2 per pixel by looping over every object pixel (the definition)."""
    H, W = labels.shape
    ids = [i for i in np.unique(labels) if i != 0]
    d1 = np.full((H, W), np.inf)
    d2 = np.full((H, W), np.inf)
    for r in range(H):
        for c in range(W):
            per_object = []
            for i in ids:
                rr, cc = np.nonzero(labels == i)
                per_object.append(np.min(np.sqrt((rr - r) ** 2 + (cc - c) ** 2)))
            per_object.sort()
            if len(per_object) >= 1:
                d1[r, c] = per_object[0]
            if len(per_object) >= 2:
                d2[r, c] = per_object[1]
    return d1, d2


@pytest.mark.parametrize("sigma", [1.0, 5.0])
def test_brute_force_oracle(sigma):
    rng = np.random.default_rng(7)
    labels = np.zeros((22, 26), dtype=np.int32)
    for i in range(1, 6):  # five random rectangles; later ones may cover earlier ones
        r, c = rng.integers(0, 18), rng.integers(0, 22)
        labels[r : r + rng.integers(1, 5), c : c + rng.integers(1, 5)] = i
    d1, d2 = brute_force_d1_d2(labels)
    w_c = np.where(labels > 0, 2.0, 0.5)
    expected = w_c + np.where(labels == 0, border(d1, d2, w0=10.0, sigma=sigma), 0.0)
    w = weight_map(labels, sigma=sigma, class_weights=[0.5, 2.0])
    # The cutoff drops terms below 1e-12 * w0 (see weight_map.py).
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-10)


def test_freiburg_preset_by_hand():
    labels = two_pixels()
    w = weight_map_freiburg(labels)
    np.testing.assert_array_equal(weight_map(labels, preset="freiburg"), w)
    d1, d2 = 2.0, 2.0  # pixel (2, 4)
    expected = 0.1 + 0.9 * np.exp(-(d1**2) / 200) + 50 * np.exp(-((d1 + d2) ** 2) / 72)
    assert w[2, 4] == pytest.approx(expected, rel=1e-12)
    d1, d2 = np.sqrt(8), np.sqrt(40)  # pixel (0, 0)
    expected = 0.1 + 0.9 * np.exp(-(d1**2) / 200) + 50 * np.exp(-((d1 + d2) ** 2) / 72)
    assert w[0, 0] == pytest.approx(expected, rel=1e-12)
    assert w[2, 2] == 1.0


def test_freiburg_single_object_and_empty():
    labels = np.zeros((10, 50), dtype=np.int32)
    labels[4:6, 0:2] = 1
    w = weight_map_freiburg(labels)
    # (4, 40): d1 = 39, no second object.
    assert w[4, 40] == pytest.approx(0.1 + 0.9 * np.exp(-(39.0**2) / 200), rel=1e-12)
    np.testing.assert_array_equal(weight_map_freiburg(np.zeros((4, 4), np.int32)),
                                  np.full((4, 4), 0.1))


def test_bad_inputs():
    with pytest.raises(TypeError, match="dtype float64"):
        weight_map(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        weight_map(np.zeros((2, 4, 4), np.int32))
    with pytest.raises(ValueError, match=">= 0"):
        weight_map(-np.ones((4, 4), np.int32))
    with pytest.raises(ValueError, match="balanced"):
        weight_map(two_pixels(), class_weights="uniform")
    with pytest.raises(ValueError, match="no weight for classes"):
        weight_map(two_pixels(), class_weights={0: 1.0})
    with pytest.raises(ValueError, match="preset"):
        weight_map(two_pixels(), preset="paper")
    with pytest.raises(ValueError, match="width"):
        separate_touching(two_pixels(), width=3)


def brute_force_separate(instances, width):
    out = instances.copy()
    H, W = instances.shape
    for r in range(H):
        for c in range(W):
            me = instances[r, c]
            if me == 0:
                continue
            window = instances[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
            others = window[(window != 0) & (window != me)]
            if (width == 2 and others.size) or (width == 1 and np.any(others < me)):
                out[r, c] = 0
    return out


@pytest.mark.parametrize("width", [1, 2])
def test_separate_touching_matches_definition_and_leaves_no_contact(width):
    rng = np.random.default_rng(3)
    seeds = rng.integers(0, 20, size=(6, 2))
    rr, cc = np.mgrid[0:20, 0:20]
    distance = (rr[..., None] - seeds[:, 0]) ** 2 + (cc[..., None] - seeds[:, 1]) ** 2
    instances = (np.argmin(distance, axis=2) + 1).astype(np.int32)  # Voronoi: all touching
    instances[0:3, 0:20] = 0
    out = separate_touching(instances, width=width)
    np.testing.assert_array_equal(out, brute_force_separate(instances, width))
    # No two different nonzero ids are 8-adjacent any more.
    padded = np.pad(out, 1)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            shifted = padded[1 + dr : 1 + dr + 20, 1 + dc : 1 + dc + 20]
            assert not np.any((out > 0) & (shifted > 0) & (shifted != out))


def test_separate_touching_gap_width():
    instances = np.zeros((8, 12), dtype=np.int32)
    instances[2:6, 1:6] = 1
    instances[2:6, 6:11] = 2  # columns 5 | 6 touch
    one = separate_touching(instances, width=1)
    two = separate_touching(instances, width=2)
    assert np.all(one[2:6, 6] == 0) and np.all(one[2:6, 5] == 1)
    assert np.all(two[2:6, 5:7] == 0)
    assert np.all(two[2:6, 1:5] == 1) and np.all(two[2:6, 7:11] == 2)
    assert one.dtype == instances.dtype


def dsb_instances(n):
    folder = DSB / "instances"
    if not folder.is_dir():
        pytest.skip(f"real data not found at {folder} (../shared/datasets absent)")
    return [np.array(Image.open(p)).astype(np.int32) for p in sorted(folder.glob("*.png"))[0:n]]


def test_real_dsb_nuclei():
    for instances in dsb_instances(3):
        started = time.perf_counter()
        separated = separate_touching(instances, width=2)
        w = weight_map(separated)
        elapsed = time.perf_counter() - started
        print(f"weight map of {instances.max()} nuclei, 256x256: {elapsed:.3f} s")
        classes = (separated > 0).astype(np.int64)
        counts = np.bincount(classes.ravel(), minlength=2)
        w_c = (classes.size / (2 * counts))[classes]
        assert np.all(np.isfinite(w))
        assert np.all(w >= w_c - 1e-12)
        np.testing.assert_array_equal(w[classes == 1], w_c[classes == 1])
        gap = (instances > 0) & (separated == 0)  # where touching nuclei were cut apart
        other_background = instances == 0
        assert gap.any()
        extra = w - w_c
        assert np.median(extra[gap]) > 5.0
        assert np.median(extra[gap]) > 20 * np.median(extra[other_background])
