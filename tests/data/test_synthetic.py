"""The synthetic data set: types, determinism, separated touching cells, visible contrast."""

import time

import numpy as np
import pytest
from skimage.filters import threshold_otsu

from minimal_unet.data.synthetic import (
    make_synthetic,
    make_synthetic_arrays,
    synthetic_instances,
    synthetic_sample,
)


def eight_adjacent_pairs(instances):
    """Set of (a, b) id pairs, a < b, that are 8-adjacent somewhere."""
    H, W = instances.shape
    padded = np.pad(instances, 1)
    pairs = set()
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            other = padded[1 + dr : 1 + dr + H, 1 + dc : 1 + dc + W]
            touch = (instances > 0) & (other > 0) & (other != instances)
            for a, b in zip(instances[touch], other[touch]):
                pairs.add((min(a, b), max(a, b)))
    return pairs


def test_types_shapes_and_ranges():
    started = time.perf_counter()
    samples = make_synthetic(24, size=(256, 256), seed=0)
    print(f"24 synthetic 256x256 images: {time.perf_counter() - started:.2f} s")
    assert len(samples) == 24
    for s in samples[0:4]:
        assert s.image.dtype == np.float32 and s.image.shape == (256, 256)
        assert s.image.min() >= 0.0 and s.image.max() <= 1.0
        assert s.mask.dtype == np.int64 and s.instances.dtype == np.int32
        np.testing.assert_array_equal(s.mask, (s.instances > 0).astype(np.int64))
        assert 0.3 < s.mask.mean() < 0.75
        assert s.instances.max() > 50  # many cells
    assert len({s.name for s in samples}) == 24


@pytest.mark.parametrize("size", [(1, 1), (5, 300), (97, 61)])
def test_any_size(size):
    image, instances = synthetic_sample(size, np.random.default_rng(0))
    assert image.shape == size and instances.shape == size


def test_deterministic_from_seed():
    a = make_synthetic(3, size=(64, 80), seed=5)
    b = make_synthetic(3, size=(64, 80), seed=5)
    c = make_synthetic(3, size=(64, 80), seed=6)
    longer = make_synthetic(5, size=(64, 80), seed=5)
    for x, y, z in zip(a, b, longer):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.instances, y.instances)
        np.testing.assert_array_equal(x.image, z.image)  # image i independent of n_images
    assert not np.array_equal(a[0].image, c[0].image)
    images, instances = make_synthetic_arrays(3, size=(64, 80), seed=5)
    assert images.shape == (3, 64, 80) and instances.shape == (3, 64, 80)
    np.testing.assert_array_equal(images[2], a[2].image)


def test_cells_touch_before_and_are_separated_after():
    rng = np.random.default_rng(0)
    touching = synthetic_instances((128, 128), rng)
    assert len(eight_adjacent_pairs(touching)) >= 10  # the task has touching cells
    for s in make_synthetic(2, size=(128, 128), seed=1):
        assert eight_adjacent_pairs(s.instances) == set()  # a background gap between them


def test_contrast_is_visible_but_moderate():
    for s in make_synthetic(3, size=(128, 128), seed=2):
        cells = s.image[s.mask == 1].mean()
        background = s.image[s.mask == 0].mean()
        assert 0.2 < cells - background < 0.7
        # A global threshold (skimage's Otsu) already finds most of the cells.
        predicted = s.image > threshold_otsu(s.image)
        truth = s.mask == 1
        iou = np.count_nonzero(predicted & truth) / np.count_nonzero(predicted | truth)
        assert 0.6 < iou < 0.98  # learnable, yet not trivial


def test_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        synthetic_sample((0, 4), np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_images"):
        make_synthetic(-1)
