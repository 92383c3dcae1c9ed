"""Training tiles as in the paper's overlap-tile strategy, with mirrored context.

A valid-convolution U-Net maps an input tile of in_size x in_size to an output of
out_size x out_size, the centre of the input: margin = (in_size - out_size) / 2 pixels are
lost on each side. To train on an output window that covers the image up to its border,
the input tile reaches `margin` pixels beyond the window; where that passes the image
border, the missing context is the mirror image of the inside (the paper's Fig. 2).

Mirroring is "reflect without repeating the edge pixel": for a row 0 1 2 3 the padded row
with pad 2 is 2 1 | 0 1 2 3 | 2 1 (np.pad mode="reflect"). Index i outside [0, n) maps to
the reflection with period 2 (n - 1); a pad larger than the image reflects again, so any
pad works (for n == 1 every index maps to 0).

Shapes: image (H, W) or (C, H, W); mask and weight (H, W). Sizes come from the caller (the
model's sizes module knows which tile sizes are legal).
"""

import numpy as np


def reflect_indices(start, length, n):
    """Indices (length,) int64 into an axis of size n for positions start..start+length-1,
    reflected at both ends without repeating the edge: -1 -> 1, n -> n - 2."""
    if n < 1:
        raise ValueError(f"n: expected an axis of size >= 1, got {n}")
    positions = np.arange(start, start + length, dtype=np.int64)  # (length,)
    if n == 1:
        return np.zeros(length, dtype=np.int64)
    period = 2 * (n - 1)
    folded = np.mod(positions, period)  # in [0, period)
    return np.where(folded < n, folded, period - folded)  # (length,)


def mirror_pad(image, pad):
    """Pad the last two axes (H, W) of `image` by mirroring, without repeating the edge.

    pad: int p (all four sides) or (top, bottom, left, right). Output (..., H + top + bottom,
    W + left + right); equal to np.pad(image, ..., mode="reflect") and, unlike it, defined
    for any pad also on images of size 1.
    """
    image = np.asarray(image)
    if image.ndim < 2:
        raise ValueError(f"image: expected shape (H, W) or (C, H, W), got {image.shape}")
    top, bottom, left, right = (pad, pad, pad, pad) if np.ndim(pad) == 0 else tuple(pad)
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"pad: expected >= 0, got {pad}")
    H, W = image.shape[image.ndim - 2], image.shape[image.ndim - 1]
    rows = reflect_indices(-top, H + top + bottom, H)  # (H + top + bottom,)
    cols = reflect_indices(-left, W + left + right, W)  # (W + left + right,)
    return image[..., rows[:, np.newaxis], cols[np.newaxis, :]]  # (..., H', W')


def tile_margin(in_size, out_size):
    """margin = (in_size - out_size) / 2, the context per side; a ValueError unless an int >= 0."""
    if out_size < 1 or in_size < out_size or (in_size - out_size) % 2:
        raise ValueError(f"in_size, out_size: expected out_size >= 1 and in_size - out_size "
                         f"even and >= 0, got in_size={in_size}, out_size={out_size}")
    return (in_size - out_size) // 2


def extract_tile(image, top, left, in_size, out_size):
    """The input tile (..., in_size, in_size) whose output window starts at (top, left).

    The tile covers image rows top - margin .. top - margin + in_size - 1 (same for
    columns), mirrored where they leave the image.
    """
    margin = tile_margin(in_size, out_size)
    H, W = image.shape[image.ndim - 2], image.shape[image.ndim - 1]
    rows = reflect_indices(top - margin, in_size, H)  # (in_size,)
    cols = reflect_indices(left - margin, in_size, W)  # (in_size,)
    return image[..., rows[:, np.newaxis], cols[np.newaxis, :]]  # (..., in_size, in_size)


def random_training_tile(image, mask, weight, in_size, out_size, rng):
    """A random training tile: (x_tile, y_tile, w_tile).

    image: (H, W) or (C, H, W) float; mask: (H, W) int classes; weight: (H, W) float or
    None. The output window (out_size x out_size) lies fully inside the image, its top-left
    corner uniform over all legal positions; the input tile is the window plus `margin`
    px of context per side, mirrored beyond the image border.
    Returns x_tile (..., in_size, in_size) in the image's dtype, y_tile (out_size, out_size)
    int64 (None if mask is None), w_tile (out_size, out_size) in the weight's dtype (None
    if weight is None).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image: expected shape (H, W) or (C, H, W), got {image.shape}")
    H, W = image.shape[image.ndim - 2], image.shape[image.ndim - 1]
    for name, a in (("mask", mask), ("weight", weight)):
        if a is not None and np.shape(a) != (H, W):
            raise ValueError(f"{name}: expected shape {(H, W)} (the image's H, W), "
                             f"got {np.shape(a)}")
    tile_margin(in_size, out_size)
    if H < out_size or W < out_size:
        raise ValueError(f"image: expected H, W >= out_size = {out_size} so that the labelled "
                         f"output window fits inside it, got H, W = {H}, {W}")
    top = int(rng.integers(0, H - out_size + 1))
    left = int(rng.integers(0, W - out_size + 1))
    x_tile = extract_tile(image, top, left, in_size, out_size)
    y_tile = None
    if mask is not None:
        y_tile = np.asarray(mask)[top : top + out_size, left : left + out_size].astype(np.int64)
    w_tile = None
    if weight is not None:
        w_tile = np.asarray(weight)[top : top + out_size, left : left + out_size].copy()
    return x_tile, y_tile, w_tile
