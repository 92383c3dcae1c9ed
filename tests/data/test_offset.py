"""The labels' sub-pixel offset from their images (data/offset.py): recovered where it was
put, removed by the shift, the recipe's preprocessing built on it."""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from minimal_unet import recipe_run, recipes
from minimal_unet.data import offset
from minimal_unet.data.readers import Sample
from minimal_unet.infer import normalize_image


def smooth_field(seed, shape=(96, 96), sigma=3.0):
    """A random image with structures a few pixels wide (membrane-like level sets)."""
    noise = np.random.default_rng(seed).standard_normal(shape)
    return ndimage.gaussian_filter(noise, sigma, mode="wrap")


def pairs(true_offset, n=4, sign=1.0):
    """Samples whose mask at (y, x) is the image's structure at (y + dy, x + dx): the mask is
    drawn on the field resampled by scipy (not by data/offset.py), thresholded at 0."""
    dy, dx = true_offset
    samples = []
    for k in range(n):
        field = smooth_field(k)
        moved = ndimage.shift(field, (-dy, -dx), order=3, mode="wrap")  # moved[y] = field[y+d]
        samples.append(Sample(sign * field, (moved > 0).astype(np.int64), None, f"s{k}"))
    return samples


@pytest.mark.parametrize("true_offset", [(0.0, 0.0), (0.5, 0.0), (-0.4, 0.3), (1.3, -0.6)])
def test_label_offset_finds_the_offset_the_masks_were_drawn_at(true_offset):
    found = offset.label_offset(pairs(true_offset))
    np.testing.assert_allclose(found, true_offset, atol=0.12)  # the parabola's bias
    # structures dark where the mask is 1: the same offset
    found_dark = offset.label_offset(pairs(true_offset, sign=-1.0))
    np.testing.assert_allclose(found_dark, found, atol=1e-12)


def test_shifting_the_images_by_the_offset_removes_it():
    samples = pairs((0.6, 0.15))
    found = offset.label_offset(samples)
    aligned = [dataclasses.replace(s, image=offset.shift_image(s.image, found)) for s in samples]
    np.testing.assert_allclose(offset.label_offset(aligned), (0.0, 0.0), atol=0.05)


def test_shift_image_samples_the_image_at_the_offset():
    image = smooth_field(7, (20, 24)).astype(np.float32)
    out = offset.shift_image(image, (1.0, 2.0))  # integer: the spline returns the samples
    assert out.dtype == np.float64 and out.shape == image.shape
    np.testing.assert_allclose(out[2:-3, 2:-4], image[3:-2, 4:-2], atol=1e-6)
    half = offset.shift_image(image, (0.0, 0.5))  # between two samples: near their mean
    np.testing.assert_allclose(half[4:-4, 4:-4], 0.5 * (image[4:-4, 4:-4] + image[4:-4, 5:-3]),
                               atol=0.05 * np.abs(image).max())
    unchanged = offset.shift_image(image, (0, 0))
    np.testing.assert_array_equal(unchanged, image)
    assert unchanged is not image


def test_label_offset_refuses_unrelated_masks_and_bad_shapes():
    far = pairs((0.0, 5.0))  # farther than the window: not a sub-pixel offset
    with pytest.raises(ValueError, match="edge of the 7 x 7 window"):
        offset.label_offset(far)
    bad = Sample(np.zeros((10, 12)), np.zeros((10, 11), np.int64), None, "x")
    with pytest.raises(ValueError, match=r"\(10, 12\) and \(10, 11\)"):
        offset.label_offset([bad])
    with pytest.raises(ValueError, match="max_shift"):
        offset.correlation(pairs((0.0, 0.0), n=1), max_shift=0)


def test_an_aligned_recipe_resamples_every_image_by_the_training_offset():
    train, val = pairs((0.5, -0.25)), pairs((0.5, -0.25), n=1)
    recipe = dataclasses.replace(recipes.RECIPES["smoke"], align_labels=True)
    assert recipe.extras_in_use() == []  # train.train implements it too (TrainConfig)
    normalize = recipe_run.make_normalizer(recipe, train)
    found = offset.label_offset(train)  # the training pairs only, never validation
    image = val[0].image
    np.testing.assert_array_equal(normalize(image),
                                  normalize_image(offset.shift_image(image, found),
                                                  dtype=np.float64))
    # At twice the resolution the same offset is twice as many of the net's pixels.
    doubled = recipe_run.make_normalizer(dataclasses.replace(recipe, upscale=2), train)
    np.testing.assert_array_equal(
        doubled(image), normalize_image(offset.shift_image(image, [2 * v for v in found]),
                                        dtype=np.float64))
    plain = recipe_run.make_normalizer(dataclasses.replace(recipe, align_labels=False), train)
    np.testing.assert_array_equal(plain(image), normalize_image(image, dtype=np.float64))
