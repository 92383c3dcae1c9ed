"""Overlap-tile inference against one pass of the same net over the whole padded image."""

import numpy as np
import pytest

from minimal_unet.data.offset import shift_image
from minimal_unet.data.tiles import mirror_pad
from minimal_unet.infer import (
    context_margin,
    default_tile_size,
    labels_from_proba,
    normalize_image,
    predict_labels,
    predict_proba_stack,
    predict_proba_tiled,
    prepare_image,
    window_origins,
)
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.sizes import is_legal_input_size, nearest_legal_input_size, output_size


def tiny_net(depth=2, padding="valid", dtype=np.float64, seed=0):
    return UNet(UNetConfig(depth=depth, base_channels=4, padding=padding), seed=seed,
                dtype=dtype)


def whole_image_proba(net, image):
    """One forward pass over the whole image mirror-padded by the margin (the oracle)."""
    H, W = image.shape
    smallest = nearest_legal_input_size(net.config, 1)
    margin = (smallest - output_size(net.config, smallest)) // 2  # context lost per side
    padded = mirror_pad(normalize_image(image, dtype=net.dtype), margin)  # (H+2m, W+2m)
    assert is_legal_input_size(net.config, H + 2 * margin)
    assert is_legal_input_size(net.config, W + 2 * margin)
    probs = net.predict_proba(padded[None, None])[0]  # (K, H, W)
    assert probs.shape == (2, H, W)
    return probs


# depth 2: margin 20, outputs multiples of 4; image 52 x 68 -> padded 92 x 108 (legal).
# depth 3: margin 44, outputs = 4 mod 8;     image 44 x 52 -> padded 132 x 140 (legal).
@pytest.mark.parametrize("depth, shape, tile_sizes", [
    (2, (52, 68), [44, 64, 68, 92, 132]),   # out 4, 24, 28, 52 (divides H), 92 (> image)
    (3, (44, 52), [100, 108, 140]),         # out 12, 20, 52
])
def test_tiled_equals_whole_image_float64(depth, shape, tile_sizes):
    net = tiny_net(depth)
    image = np.random.default_rng(1).random(shape)
    expected = whole_image_proba(net, image)
    for tile in tile_sizes:
        got = predict_proba_tiled(net, image, tile_size=tile)
        assert got.shape == expected.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10,
                                   err_msg=f"tile {tile}")


def test_tiles_overlap_and_cover_image():
    # 100 px, windows of 24 on a grid of 8: origins 0, 24, 48, 72 and the last at 80.
    origins, covered = window_origins(100, 24, period=8)
    assert origins == [0, 24, 48, 72, 80] and covered == 104
    # period 1: the last window ends exactly at the border.
    origins, covered = window_origins(100, 24, period=1)
    assert origins[-1] == 76 and covered == 100
    assert window_origins(10, 24, period=8) == ([0], 24)


def test_flips_average_is_equivariant():
    net = tiny_net(2)
    image = np.random.default_rng(2).random((40, 56))
    p = predict_proba_tiled(net, image, tile_size=64, flips=True)
    cases = [
        (image[:, ::-1], lambda a: a[:, :, ::-1]),
        (image[::-1, :], lambda a: a[:, ::-1, :]),
        (np.rot90(image), lambda a: np.rot90(a, axes=(1, 2))),
        (image.T, lambda a: a.transpose(0, 2, 1)),
    ]
    for transformed, apply in cases:
        q = predict_proba_tiled(net, np.ascontiguousarray(transformed), tile_size=64,
                                flips=True)
        np.testing.assert_allclose(q, apply(p), rtol=0, atol=1e-10)
    # Without averaging a random net is not flip-equivariant: the test above can fail.
    p0 = predict_proba_tiled(net, image, tile_size=64)
    q0 = predict_proba_tiled(net, np.ascontiguousarray(image[:, ::-1]), tile_size=64)
    assert np.abs(q0 - p0[:, :, ::-1]).max() > 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_dtypes_and_probabilities(dtype):
    net = tiny_net(2, dtype=dtype)
    image = np.random.default_rng(3).random((37, 23)).astype(np.float32)
    probs = predict_proba_tiled(net, image, tile_size=48)
    assert probs.shape == (2, 37, 23) and probs.dtype == dtype
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=1e-5)
    labels = predict_labels(net, image, tile_size=48)
    assert labels.shape == (37, 23) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, probs.argmax(axis=0))
    stack = predict_proba_stack(net, [image, image[0:20]], tile_size=48)
    assert [s.shape for s in stack] == [(2, 37, 23), (2, 20, 23)]
    np.testing.assert_array_equal(stack[0], probs)


def test_threshold_labels():
    probs = np.array([[[0.9, 0.4], [0.2, 0.7]], [[0.1, 0.6], [0.8, 0.3]]])
    np.testing.assert_array_equal(labels_from_proba(probs), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(labels_from_proba(probs, 0.7), [[0, 0], [1, 0]])
    with pytest.raises(ValueError, match="2 classes"):
        labels_from_proba(np.ones((3, 2, 2)) / 3, 0.5)


@pytest.mark.parametrize("depth, tile_sizes", [
    (1, [20, 24, 40, 64]),        # margin 10 (reach 9): outputs 0?, 4, 20, 44
    (2, [52, 56, 68, 100, 144]),  # margin 24 (reach 23): outputs 4, 8, 20, 52, 96
])
def test_same_net_tiles_are_seamless(depth, tile_sizes):
    """A "same" net tiled with a receptive-field margin equals one pass over the whole
    image mirror-padded by that margin, for every tile size (no seams)."""
    net = tiny_net(depth, padding="same")
    margin = context_margin(net.config)
    period = 2 ** depth
    assert margin % period == 0
    image = np.random.default_rng(4).random((30, 45))
    x = normalize_image(image, np.float64)
    # The oracle: the whole image padded by the margin, plus mirrored rows/columns to a
    # multiple of the pooling period (they lie beyond every kept pixel's receptive field).
    extra_h, extra_w = -(30 + 2 * margin) % period, -(45 + 2 * margin) % period
    padded = mirror_pad(x, (margin, margin + extra_h, margin, margin + extra_w))
    whole = net.predict_proba(padded[None, None])[0]
    expected = whole[:, margin:margin + 30, margin:margin + 45]
    for tile in tile_sizes:
        if tile <= 2 * margin:
            with pytest.raises(ValueError, match="too small for this 'same' net"):
                predict_proba_tiled(net, image, tile_size=tile)
            continue
        got = predict_proba_tiled(net, image, tile_size=tile)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10, err_msg=f"tile {tile}")
    # The old way (tiles abut, each with its own zero padding) shows seams: the margin
    # matters, so this test would fail without it.
    abutting = np.concatenate([net.predict_proba(x[None, None, 0:28, 0:24])[0],
                               net.predict_proba(x[None, None, 0:28, 24:44])[0]], axis=2)
    assert np.abs(abutting - expected[:, 0:28, 0:44]).max() > 1e-3


def test_normalize_image():
    image = np.random.default_rng(5).random((9, 7)) * 50 + 3
    x = normalize_image(image, np.float64)
    assert abs(x.mean()) < 1e-12 and abs(x.std() - 1) < 1e-12
    assert normalize_image(np.full((4, 4), 2.0)).max() == 0  # constant: no division by 0
    assert normalize_image(image).dtype == np.float32


def test_bad_tile_size_names_nearest_legal():
    net = tiny_net(2)
    image = np.zeros((20, 20))
    with pytest.raises(ValueError, match=r"not a legal.*nearest legal: 64 or 68"):
        predict_proba_tiled(net, image, tile_size=66)
    with pytest.raises(ValueError, match="positive int"):
        predict_proba_tiled(net, image, tile_size=0)
    with pytest.raises(ValueError, match=r"\(H, W\) or \(C, H, W\)"):
        predict_proba_tiled(net, np.zeros(5))
    with pytest.raises(ValueError, match="channel"):
        predict_proba_tiled(net, np.zeros((3, 8, 8)))


def test_default_tile_size_is_legal_and_covers():
    config = UNetConfig(depth=2, base_channels=4)
    tile = default_tile_size(config, 50, 30)
    assert is_legal_input_size(config, tile) and output_size(config, tile) >= 50
    big = default_tile_size(config, 5000, 5000)
    assert is_legal_input_size(config, big) and big <= 572


def test_non_finite_pixel_is_an_error_naming_it():
    net = tiny_net(2)
    image = np.random.default_rng(6).random((40, 40))
    image[12, 30] = np.nan
    with pytest.raises(ValueError, match=r"finite.*\(12, 30\)"):
        predict_proba_tiled(net, image)
    image[12, 30] = np.inf
    with pytest.raises(ValueError, match=r"\(12, 30\)"):
        normalize_image(image)


def test_a_net_with_an_input_offset_predicts_on_the_resampled_image():
    """A net trained with align_labels (net.input_offset) sees every image resampled by the
    offset, as in training: its probabilities are those of the plain net on that image."""
    net = tiny_net()
    image = np.random.default_rng(5).random((52, 68))
    plain = predict_proba_tiled(net, image, tile_size=92)
    net.input_offset = (0.6, -0.15)
    moved = shift_image(image, (0.6, -0.15))
    np.testing.assert_array_equal(prepare_image(net, image), normalize_image(moved, net.dtype))
    other = np.float32 if net.dtype == np.float64 else np.float64  # training asks for float64
    asked = prepare_image(net, image, dtype=other)
    assert asked.dtype == other
    np.testing.assert_array_equal(asked, normalize_image(moved, other))
    aligned = predict_proba_tiled(net, image, tile_size=92)
    np.testing.assert_array_equal(aligned, predict_proba_tiled(net, normalize_image(
        moved, net.dtype), tile_size=92, normalize=False))
    assert np.abs(aligned - plain).max() > 1e-3  # the offset changed what the net saw
    # normalize=False: the caller passes the net's input, which is used as it is
    np.testing.assert_array_equal(predict_proba_tiled(net, normalize_image(image, net.dtype),
                                                      tile_size=92, normalize=False), plain)
