"""Images at k times their resolution (data/resolution.py): the interpolation's values and
centring against the formula, labels repeated, probabilities averaged back."""

import numpy as np
import pytest

from minimal_unet.data import resolution
from minimal_unet.data.readers import Sample


def test_upscaled_image_blocks_average_back_to_the_original_pixels():
    rng = np.random.default_rng(3)
    image = rng.random((6, 9)).astype(np.float32)
    up = resolution.upscale_image(image, 2)
    assert up.shape == (12, 18) and up.dtype == np.float64
    # Linear interpolation over pixel areas: the two sub-pixels of a block sit a quarter
    # pixel either side of the pixel's centre (3/4 of it, 1/4 of a neighbour each), so
    # away from the edge their mean is the pixel smoothed by (1/8, 3/4, 1/8) along each
    # axis, centred on it: no shift between the two resolutions.
    back = resolution.downscale_proba(up, 2)
    rows = 0.125 * image[:-2] + 0.75 * image[1:-1] + 0.125 * image[2:]
    smooth = 0.125 * rows[:, :-2] + 0.75 * rows[:, 1:-1] + 0.125 * rows[:, 2:]
    np.testing.assert_allclose(back[1:-1, 1:-1], smooth, rtol=1e-6)
    # the interpolated values themselves: sub-pixel (2i+1) is 3/4 of pixel i, 1/4 of i+1
    np.testing.assert_allclose(up[3, 5], 0.75 * (0.75 * image[1, 2] + 0.25 * image[1, 3])
                               + 0.25 * (0.75 * image[2, 2] + 0.25 * image[2, 3]), rtol=1e-6)
    assert resolution.upscale_image(image, 1) is image
    with pytest.raises(ValueError, match=r"divisible by upscale 2, got \(5, 6\)"):
        resolution.downscale_proba(np.zeros((5, 6)), 2)


def test_upscaled_sample_repeats_its_labels_and_keeps_its_name():
    ids = np.array([[0, 1], [2, 2]], np.int32)
    sample = Sample(np.array([[0.0, 1.0], [0.5, 0.5]], np.float32), (ids > 0).astype(np.int64),
                    ids, "s")
    up = resolution.upscale_sample(sample, 3)
    assert up.name == "s" and up.image.shape == (6, 6) and up.image.dtype == np.float32
    np.testing.assert_array_equal(up.instances, np.kron(ids, np.ones((3, 3), np.int32)))
    np.testing.assert_array_equal(up.mask, np.kron(sample.mask, np.ones((3, 3), np.int64)))
    no_labels = resolution.upscale_sample(Sample(sample.image, None, None, "n"), 2)
    assert no_labels.mask is None and no_labels.instances is None
