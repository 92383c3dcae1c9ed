"""Training tiles: mirrored context is the exact reflection, the centre is the labelled window."""

import numpy as np
import pytest

from minimal_unet.data.tiles import extract_tile, mirror_pad, random_training_tile


@pytest.mark.parametrize("pad", [0, 1, 3, (2, 0, 1, 4)])
def test_mirror_pad_equals_numpy_reflect(pad):
    image = np.arange(5 * 6, dtype=np.float64).reshape(5, 6)
    top, bottom, left, right = (pad,) * 4 if np.ndim(pad) == 0 else pad
    expected = np.pad(image, ((top, bottom), (left, right)), mode="reflect")
    np.testing.assert_array_equal(mirror_pad(image, pad), expected)


def test_mirror_pad_by_hand_and_edge_not_repeated():
    row = np.array([[0.0, 1.0, 2.0, 3.0]])
    padded = mirror_pad(row, (0, 0, 2, 2))
    np.testing.assert_array_equal(padded, [[2, 1, 0, 1, 2, 3, 2, 1]])


def test_mirror_pad_larger_than_image_reflects_again():
    image = np.arange(3 * 4).reshape(3, 4)
    padded = mirror_pad(image, 7)  # pad > size: numpy reflects repeatedly too
    np.testing.assert_array_equal(padded, np.pad(image, 7, mode="reflect"))
    np.testing.assert_array_equal(mirror_pad(np.array([[5.0]]), 2), np.full((5, 5), 5.0))


def test_mirror_pad_channels():
    image = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    np.testing.assert_array_equal(mirror_pad(image, 2),
                                  np.pad(image, ((0, 0), (2, 2), (2, 2)), mode="reflect"))


def test_tile_centre_is_the_labelled_window():
    rng = np.random.default_rng(0)
    image = rng.random((40, 50))
    mask = rng.integers(0, 2, size=(40, 50))
    weight = rng.random((40, 50))
    in_size, out_size = 28, 12
    margin = 8
    for seed in range(20):
        x, y, w = random_training_tile(image, mask, weight, in_size, out_size,
                                       np.random.default_rng(seed))
        assert x.shape == (28, 28) and y.shape == (12, 12) and w.shape == (12, 12)
        assert y.dtype == np.int64 and x.dtype == image.dtype and w.dtype == weight.dtype
        centre = x[margin : margin + out_size, margin : margin + out_size]
        # Find the window: the centre of x is an exact sub-block of the image.
        hits = [(r, c) for r in range(40 - 11) for c in range(50 - 11)
                if np.array_equal(image[r : r + 12, c : c + 12], centre)]
        assert len(hits) == 1
        r, c = hits[0]
        np.testing.assert_array_equal(y, mask[r : r + 12, c : c + 12])
        np.testing.assert_array_equal(w, weight[r : r + 12, c : c + 12])
        # The whole input tile is the mirror-padded image around that window.
        padded = np.pad(image, margin, mode="reflect")
        np.testing.assert_array_equal(x, padded[r : r + in_size, c : c + in_size])


def test_tiles_at_the_border_are_mirrored():
    image = np.arange(10 * 10, dtype=np.float32).reshape(10, 10)
    x = extract_tile(image, 0, 0, in_size=14, out_size=10)  # margin 2, window = whole image
    np.testing.assert_array_equal(x[2:12, 2:12], image)
    np.testing.assert_array_equal(x[0, 2:12], image[2])  # row -2 mirrors row 2
    np.testing.assert_array_equal(x[1, 2:12], image[1])  # row -1 mirrors row 1
    np.testing.assert_array_equal(x[2:12, 12], image[:, 8])  # column 10 mirrors column 8
    np.testing.assert_array_equal(x[2:12, 13], image[:, 7])  # column 11 mirrors column 7
    # The only legal window of an image exactly out_size wide is the whole image.
    mask = (image > 50).astype(np.int64)
    x2, y2, w2 = random_training_tile(image, mask, None, 14, 10, np.random.default_rng(3))
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, mask)
    assert w2 is None


def test_channels_and_determinism():
    rng = np.random.default_rng(1)
    image = rng.random((3, 30, 30)).astype(np.float32)
    mask = rng.integers(0, 2, size=(30, 30))
    a = random_training_tile(image, mask, None, 20, 8, np.random.default_rng(7))
    b = random_training_tile(image, mask, None, 20, 8, np.random.default_rng(7))
    assert a[0].shape == (3, 20, 20) and a[0].dtype == np.float32
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    positions = {random_training_tile(image, mask, None, 20, 8,
                                      np.random.default_rng(s))[1].tobytes() for s in range(10)}
    assert len(positions) > 1


def test_bad_sizes():
    image = np.zeros((20, 20))
    mask = np.zeros((20, 20), dtype=np.int64)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="out_size = 24"):
        random_training_tile(image, mask, None, 40, 24, rng)
    with pytest.raises(ValueError, match="even"):
        random_training_tile(image, mask, None, 15, 8, rng)
    with pytest.raises(ValueError, match="even"):
        random_training_tile(image, mask, None, 8, 12, rng)
    with pytest.raises(ValueError, match="mask: expected shape"):
        random_training_tile(image, mask[0:5], None, 12, 8, rng)
    with pytest.raises(TypeError, match="Generator"):
        random_training_tile(image, mask, None, 12, 8, 0)
    with pytest.raises(ValueError, match="pad"):
        mirror_pad(image, -1)
