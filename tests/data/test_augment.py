"""Augmentation: identity at zero displacement, labels move with the image, determinism."""

import numpy as np
import pytest

from minimal_unet.data.augment import (
    AugmentConfig,
    augment,
    elastic_deform,
    elastic_displacement,
    gray_value_variation,
    identity_coords,
    random_flip_rot90,
    random_rotation,
    random_shift,
    warp,
)


def square_scene(H=64, W=72, dtype=np.float64):
    """A bright square on a dark background, its label, and a smooth weight map."""
    image = np.full((H, W), 0.1, dtype=dtype)
    labels = np.zeros((H, W), dtype=np.int64)
    image[20:44, 24:50] = 0.9
    labels[20:44, 24:50] = 1
    rows, cols = np.mgrid[0:H, 0:W]
    weight = 1.0 + np.exp(-((rows - 30.0) ** 2 + (cols - 36.0) ** 2) / 200.0)
    return image, labels, weight


def iou(a, b):
    return np.count_nonzero(a & b) / np.count_nonzero(a | b)


def test_zero_displacement_is_identity():
    rng = np.random.default_rng(0)
    image = rng.random((17, 23))
    labels = rng.integers(0, 4, size=(17, 23))
    weight = rng.random((17, 23))
    out_image, out_labels, out_weight = warp(image, labels, weight, identity_coords((17, 23)))
    np.testing.assert_array_equal(out_labels, labels)
    np.testing.assert_allclose(out_image, image, rtol=0, atol=1e-10)
    np.testing.assert_allclose(out_weight, weight, rtol=0, atol=1e-10)
    # sigma = 0: the elastic deformation itself is the identity.
    image2, labels2, _ = elastic_deform(image, labels, None, rng, sigma=0.0)
    np.testing.assert_array_equal(labels2, labels)
    np.testing.assert_allclose(image2, image, rtol=0, atol=1e-10)


def test_displacement_field_interpolates_the_coarse_grid():
    # The bicubic field passes through the grid nodes: corners and centre of the image.
    plane = (41, 61)
    field = elastic_displacement(plane, np.random.default_rng(3), grid=3, sigma=10.0)
    coarse = np.random.default_rng(3).normal(0.0, 10.0, size=(2, 3, 3))
    for (i, r), (j, c) in [((0, 0), (0, 0)), ((1, 20), (1, 30)), ((2, 40), (2, 60))]:
        np.testing.assert_allclose(field[:, r, c], coarse[:, i, j], atol=1e-9)
    assert field.shape == (2, 41, 61)
    assert 3.0 < np.std(field) < 20.0  # displacements of the order of sigma


def test_elastic_keeps_label_values_and_moves_labels_with_image():
    image, labels, weight = square_scene()
    for seed in range(3):
        out_image, out_labels, out_weight = elastic_deform(
            image, labels, weight, np.random.default_rng(seed))
        assert set(np.unique(out_labels)) <= {0, 1}
        assert out_labels.dtype == labels.dtype and out_image.dtype == image.dtype
        assert not np.array_equal(out_labels, labels)  # it did move
        assert iou(out_image > 0.5, out_labels == 1) > 0.95
        assert weight.min() - 1e-12 <= out_weight.min() and out_weight.max() <= weight.max() + 1e-12


def test_multichannel_and_float32():
    image, labels, _ = square_scene(dtype=np.float32)
    stacked = np.stack([image, 1.0 - image])  # (2, H, W)
    out, out_labels, _ = elastic_deform(stacked, labels, None, np.random.default_rng(1))
    single, _, _ = elastic_deform(image, labels, None, np.random.default_rng(1))
    assert out.dtype == np.float32 and out.shape == stacked.shape
    np.testing.assert_array_equal(out[0], single)
    assert iou(out[1] < 0.5, out_labels == 1) > 0.95


def test_determinism():
    image, labels, weight = square_scene()
    a = augment(image, labels, weight, np.random.default_rng(11))
    b = augment(image, labels, weight, np.random.default_rng(11))
    c = augment(image, labels, weight, np.random.default_rng(12))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_flip_rot90_is_exact_symmetry():
    image = np.arange(12, dtype=np.float64).reshape(3, 4)
    labels = np.arange(12).reshape(3, 4)
    expected = []
    for k in range(4):
        r = np.rot90(image, k)
        expected += [r, r[:, ::-1]]
    seen = set()
    for seed in range(40):
        out_image, out_labels, out_weight = random_flip_rot90(image, labels, None,
                                                              np.random.default_rng(seed))
        assert out_weight is None
        np.testing.assert_array_equal(out_labels.astype(np.float64), out_image)  # moved together
        match = [i for i, e in enumerate(expected) if e.shape == out_image.shape
                 and np.array_equal(e, out_image)]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == set(range(8))


def test_shift_is_exact_with_mirrored_edges():
    image = np.arange(30, dtype=np.float64).reshape(5, 6)
    weight = image * 2
    out_image, out_labels, out_weight = random_shift(image, image.astype(np.int64), weight,
                                                     np.random.default_rng(4), max_shift=2)
    padded = np.pad(image, 2, mode="reflect")  # ndimage "mirror" = numpy "reflect"
    windows = [padded[2 - dy : 2 - dy + 5, 2 - dx : 2 - dx + 6]
               for dy in range(-2, 3) for dx in range(-2, 3)]
    assert any(np.array_equal(out_image, w) for w in windows)
    np.testing.assert_array_equal(out_labels, out_image.astype(np.int64))
    np.testing.assert_array_equal(out_weight, out_image * 2)


def test_rotation_moves_labels_with_image():
    image, labels, weight = square_scene(H=64, W=64)
    out_image, out_labels, _ = random_rotation(image, labels, weight, np.random.default_rng(2),
                                               max_angle=45.0)
    assert set(np.unique(out_labels)) <= {0, 1}
    assert iou(out_image > 0.5, out_labels == 1) > 0.95


def test_rotation_matches_a_pixel_by_pixel_oracle():
    image = np.random.default_rng(5).random((9, 9))
    labels = np.arange(81).reshape(9, 9)
    angle = np.random.default_rng(0).uniform(-90.0, 90.0)  # what random_rotation draws
    _, out_labels, _ = random_rotation(image, labels, None, np.random.default_rng(0), 90.0)
    theta = np.deg2rad(angle)
    # Oracle: nearest-neighbour rotation by the same angle, written out pixel by pixel.
    expected = np.zeros_like(labels)
    for r in range(9):
        for c in range(9):
            src_r = 4 + np.cos(theta) * (r - 4) - np.sin(theta) * (c - 4)
            src_c = 4 + np.sin(theta) * (r - 4) + np.cos(theta) * (c - 4)
            rr, cc = int(np.floor(src_r + 0.5)), int(np.floor(src_c + 0.5))
            if 0 <= rr < 9 and 0 <= cc < 9:
                expected[r, c] = labels[rr, cc]
    inside = expected > 0
    np.testing.assert_array_equal(out_labels[inside], expected[inside])


def test_gray_value_variation():
    image = np.linspace(0.0, 1.0, 50, dtype=np.float32).reshape(5, 10)
    out = gray_value_variation(image, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == image.shape
    assert not np.allclose(out, image)
    assert np.all(np.diff(out.ravel()) > 0)  # monotonic: the order of grey values is kept
    flat = np.full((3, 3), 0.5)
    np.testing.assert_array_equal(gray_value_variation(flat, np.random.default_rng(0)), flat)


def test_augment_pipeline_keeps_alignment():
    image, labels, weight = square_scene(H=64, W=64)
    config = AugmentConfig(rotation_max_angle=30.0, shift_max=4, gray_values=False)
    out_image, out_labels, out_weight = augment(image, labels, weight, np.random.default_rng(9),
                                                config)
    assert out_weight.shape == (64, 64)
    assert iou(out_image > 0.5, out_labels == 1) > 0.9


def test_bad_inputs():
    image, labels, _ = square_scene()
    with pytest.raises(TypeError, match="Generator"):
        elastic_deform(image, labels)
    with pytest.raises(ValueError, match="labels: expected shape"):
        elastic_deform(image, labels[0:10], None, np.random.default_rng(0))
    with pytest.raises(TypeError, match="float32 or float64"):
        elastic_deform(labels, None, None, np.random.default_rng(0))
    with pytest.raises(ValueError, match="grid"):
        elastic_deform(image, None, None, np.random.default_rng(0), grid=1)
