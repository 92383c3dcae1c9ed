"""Overlap-tile inference (paper, Fig. 2): segment an image of any size tile by tile.

A "valid" U-Net maps an input tile of side `in_size` to an output window of side
`out_size = in_size - 2 * margin` centred in it (margin = 92 px for the paper's net). To
predict an (H, W) image:

    1. mirror-pad the image by `margin` on every side (the missing context at the border),
    2. cut input tiles whose output windows cover the image: window origins on a grid of
       multiples of 2**depth (the pooling period, so each tile computes exactly what a
       pass over the whole padded image would), the last row/column shifted back inward
       to end at the image border (rounded to that grid, so it may reach < 2**depth
       pixels past it; those outputs are dropped),
    3. run the net on one tile at a time and write each window into a preallocated
       (K, H, W) array.

Memory therefore scales with the tile, not the image: only the padded input and the
(K, H, W) output are image-sized. A "same" U-Net (zero-padded convs) has margin 0: tiles
abut without context, so seams can show where the zero padding differs from the image.

Optional test-time augmentation averages over the 8 flips/rotations of the dihedral
group: P(x) = 1/8 sum_g g^-1 f(g x), which makes P(h x) = h P(x) for every h in the group.

Shapes: image (H, W) or (C, H, W); probabilities (K, H, W) float (the net's dtype).
"""

import numpy as np

from minimal_unet.data.tiles import mirror_pad
from minimal_unet.sizes import (
    is_legal_input_size,
    legal_input_sizes,
    nearest_legal_input_sizes,
    output_size,
)

DEFAULT_MAX_TILE = 572  # the paper's tile; bounds memory when no tile size is given


def normalize_image(image, dtype=np.float32, eps=1e-8):
    """Per-image normalisation used for training AND inference: zero mean, unit std.

    image: (H, W) or (C, H, W), any real dtype. Statistics are taken per channel over
    H and W in float64: x' = (x - mean) / max(std, eps). Returns `dtype`.
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(f"image: expected shape (H, W) or (C, H, W), got shape {x.shape}")
    mean = x.mean(axis=(-2, -1), keepdims=True)
    std = x.std(axis=(-2, -1), keepdims=True)
    return ((x - mean) / np.maximum(std, eps)).astype(dtype)


def tile_geometry(config, tile_size):
    """Check `tile_size` and return (in_size, out_size, margin) for this net."""
    if not isinstance(tile_size, int | np.integer) or tile_size <= 0:
        raise ValueError(f"tile_size: expected a positive int, got {tile_size!r}")
    tile_size = int(tile_size)
    if not is_legal_input_size(config, tile_size):
        lo, hi = nearest_legal_input_sizes(config, tile_size)
        nearest = " or ".join(str(s) for s in (lo, hi) if s is not None)
        raise ValueError(
            f"tile_size: {tile_size} is not a legal input size for this net "
            f"(depth {config.depth}, padding {config.padding!r}); nearest legal: {nearest}"
        )
    out_size = output_size(config, tile_size)
    margin = (tile_size - out_size) // 2
    return tile_size, out_size, margin


def default_tile_size(config, H, W, max_tile=DEFAULT_MAX_TILE):
    """The smallest legal tile whose output covers the image, capped at `max_tile`."""
    legal = legal_input_sizes(config, 1, max(max_tile, 2 ** (config.depth + 4) + 200))
    if len(legal) == 0:
        raise ValueError(f"no legal input size <= {max_tile} for depth {config.depth}")
    covering = [s for s in legal if output_size(config, s) >= max(H, W)]
    if covering and covering[0] <= max_tile:
        return int(covering[0])
    capped = [s for s in legal if s <= max_tile]
    return int(capped[-1] if capped else legal[0])


def window_origins(length, out_size, period=1):
    """Origins of output windows of side `out_size` that cover [0, length).

    The windows start at multiples of `stride` = out_size rounded down to a multiple of
    `period`; the last one is shifted back inward to end at `length`, rounded up to the
    next multiple of `period` (so it may reach up to period - 1 pixels past the border;
    those outputs are discarded). Returns (origins, covered), covered = last origin +
    out_size >= length. With period = 1 the last window ends exactly at the border.
    """
    if out_size >= period:
        stride = out_size - out_size % period
    else:  # windows smaller than the pooling period cannot keep its phase: no alignment
        stride, period = out_size, 1
    last = max(0, -(-(length - out_size) // period) * period)  # ceil to a multiple of period
    origins = list(range(0, last, stride)) + [last]
    return origins, last + out_size


def _as_chw(image):
    """(H, W) -> (1, H, W); (C, H, W) unchanged."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image[None]  # (1, H, W)
    if image.ndim == 3:
        return image
    raise ValueError(f"image: expected shape (H, W) or (C, H, W), got shape {image.shape}")


def _predict_tiles(net, x, tile_size):
    """Overlap-tile prediction of one already normalised image x (C, H, W) -> (K, H, W).

    Why the windows start on multiples of 2**depth: a 2x2 max-pool groups pixels in pairs,
    so the net commutes with a shift of its input only when the shift is a multiple of
    2**depth. Tiles on that grid compute exactly what one pass over the whole (mirror-
    padded) image would; the stitched map then has no seams at all.
    """
    config = net.config
    C, H, W = x.shape
    in_size, out_size, margin = tile_geometry(config, tile_size)
    period = 2 ** config.depth  # the pooling grid
    rows, Hc = window_origins(H, out_size, period)
    cols, Wc = window_origins(W, out_size, period)
    # Context: `margin` mirrored pixels per side, and beyond the bottom/right border as
    # much as the last aligned window reaches past it (Hc - H, Wc - W pixels).
    padded = mirror_pad(x, (margin, margin + Hc - H, margin, margin + Wc - W))  # (C, Hp, Wp)
    probs = None
    for i0 in rows:
        for j0 in cols:
            # Output window [i0, i0+out) needs input [i0, i0+out+2*margin) of `padded`.
            tile = padded[:, i0:i0 + in_size, j0:j0 + in_size]  # (C, in, in)
            tile = np.ascontiguousarray(tile[None], dtype=net.dtype)  # (1, C, in, in)
            p = net.ops.asnumpy(net.predict_proba(net.ops.asarray(tile)))[0]  # (K, out, out)
            if probs is None:
                probs = np.empty((p.shape[0], Hc, Wc), dtype=p.dtype)  # (K, Hc, Wc)
            probs[:, i0:i0 + out_size, j0:j0 + out_size] = p
    return probs[:, 0:H, 0:W]  # (K, H, W)


# The dihedral group of the square: (k quarter turns, then flip left-right?) and inverses.
DIHEDRAL = [(k, flip) for flip in (False, True) for k in range(4)]


def _transform(a, k, flip):
    """g(a) for a (..., H, W): rotate by k quarter turns, then optionally flip left-right."""
    a = np.rot90(a, k, axes=(-2, -1))
    return a[..., ::-1] if flip else a


def _untransform(a, k, flip):
    """g^-1(a): undo the flip, then rotate back."""
    a = a[..., ::-1] if flip else a
    return np.rot90(a, -k, axes=(-2, -1))


def predict_proba_tiled(net, image, tile_size=None, flips=False, normalize=True):
    """Class probabilities of one image of any size by overlap-tile prediction.

    net: a UNet. image: (H, W) or (C, H, W) raw intensities (normalised here with
    `normalize_image`, as in training, unless normalize=False).
    tile_size: legal input size of the net (None: `default_tile_size`); an illegal size is
    a ValueError naming the nearest legal sizes.
    flips: average over the 8 flips/rotations, each undone on the probabilities.
    Returns probs (K, H, W) in the net's dtype; probs.sum(axis=0) == 1.
    """
    x = _as_chw(image)
    C, H, W = x.shape
    if C != net.config.in_channels:
        raise ValueError(f"image: expected {net.config.in_channels} channel(s), got {C}")
    x = normalize_image(x, dtype=net.dtype) if normalize else x.astype(net.dtype)
    if tile_size is None:
        tile_size = default_tile_size(net.config, H, W)
    tile_geometry(net.config, tile_size)  # fail early on a bad tile size
    if not flips:
        return _predict_tiles(net, x, tile_size)
    total = None
    for k, flip in DIHEDRAL:
        p = _untransform(_predict_tiles(net, _transform(x, k, flip), tile_size), k, flip)
        total = p.copy() if total is None else total + p  # (K, H, W)
    return total / len(DIHEDRAL)


def predict_proba_stack(net, images, tile_size=None, flips=False, normalize=True):
    """`predict_proba_tiled` over a list/stack of images; returns a list of (K, H, W)."""
    return [predict_proba_tiled(net, im, tile_size, flips, normalize) for im in images]


def labels_from_proba(probs, threshold=None):
    """(K, H, W) probabilities -> (H, W) int64 labels.

    threshold None: argmax over classes. Otherwise (two classes only) foreground where
    probs[1] >= threshold.
    """
    if threshold is None:
        return np.argmax(probs, axis=0).astype(np.int64)
    if probs.shape[0] != 2:
        raise ValueError(f"threshold needs 2 classes, got {probs.shape[0]}")
    return (probs[1] >= threshold).astype(np.int64)


def predict_labels(net, image, tile_size=None, flips=False, threshold=None):
    """Label map (H, W) int64 of one image: argmax, or probs[1] >= threshold."""
    return labels_from_proba(predict_proba_tiled(net, image, tile_size, flips), threshold)
