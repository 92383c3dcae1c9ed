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

Memory therefore scales with the tile, not the image: each tile is gathered from the
image by mirrored indices (no padded copy of the image is made) and its window is
written straight into the output, so only the normalised input and the output arrays are
image-sized (`classes=` keeps just the class maps needed, e.g. P(class 1) alone).

A "same" U-Net (zero-padded convs) keeps the size, but an output pixel near a tile's
border sees the tile's zero padding instead of the image. So it is tiled like a valid
net: the context margin is the receptive field's half-width (the largest reach of one
output pixel to either side, `context_margin`), rounded up to a multiple of 2**depth;
each tile's outer `margin` pixels of output are discarded and the windows, on the pooling
grid, overlap by it. The stitched prediction then equals one pass over the whole image
mirror-padded by that margin (tests: < 1e-10 in float64, any tile size), without seams.
A "same" tile must exceed 2 * margin (depth 2: margin 24, depth 4: margin 112).

Optional test-time augmentation averages over the 8 flips/rotations of the dihedral
group: P(x) = 1/8 sum_g g^-1 f(g x), which makes P(h x) = h P(x) for every h in the group.

Shapes: image (H, W) or (C, H, W); probabilities (K, H, W) float (the net's dtype).
"""

import numpy as np

from minimal_unet.data.offset import shift_image
from minimal_unet.data.tiles import reflect_indices
from minimal_unet.sizes import (
    is_legal_input_size,
    legal_input_sizes,
    nearest_legal_input_sizes,
    output_size,
    receptive_field_interval,
)

DEFAULT_MAX_TILE = 572  # the paper's tile; bounds memory when no tile size is given


def normalize_image(image, dtype=np.float32, eps=1e-8, rows_per_chunk=None):
    """Per-image normalisation used for training AND inference: zero mean, unit std.

    image: (H, W) or (C, H, W), any real dtype. Statistics are taken per channel over
    H and W in float64: x' = (x - mean) / max(std, eps). Returns `dtype`.
    Computed in blocks of rows (two passes: mean, then the centred sum of squares), so
    the only image-sized array made is the result. A NaN or Inf pixel is a ValueError
    naming it (it would turn every output into NaN, i.e. a silent all-background mask).
    """
    x = np.asarray(image)
    if x.ndim not in (2, 3):
        raise ValueError(f"image: expected shape (H, W) or (C, H, W), got shape {x.shape}")
    chw = x[None] if x.ndim == 2 else x  # (C, H, W)
    C, H, W = chw.shape
    step = rows_per_chunk or max(1, (1 << 20) // max(W, 1))  # ~1 M pixels per block
    blocks = [slice(r, min(r + step, H)) for r in range(0, H, step)]
    n = max(H * W, 1)
    out = np.empty(chw.shape, dtype=dtype)
    for c in range(C):
        mean = sum(float(chw[c, b].sum(dtype=np.float64)) for b in blocks) / n
        if not np.isfinite(mean):  # a NaN/Inf pixel would silently spoil every output
            bad = np.argwhere(~np.isfinite(chw[c]))
            where = tuple(int(i) for i in bad[0]) if len(bad) else "?"
            raise ValueError(f"image: expected finite pixel values, got a NaN or Inf at "
                             f"(row, col) {where} of channel {c}")
        square = sum(float(np.square(chw[c, b].astype(np.float64) - mean).sum())
                     for b in blocks)
        scale = max(np.sqrt(square / n), eps)
        for b in blocks:
            out[c, b] = (chw[c, b].astype(np.float64) - mean) / scale
    return out[0] if x.ndim == 2 else out


def context_margin(config):
    """Context pixels per side a tile needs: valid nets, (in - out) / 2 (92 for the paper);
    same nets, the receptive field's half-width rounded up to a multiple of 2**depth."""
    if config.padding == "valid":
        n = legal_input_sizes(config, 1, 2 ** (config.depth + 4) + 200)[0]
        return (n - output_size(config, n)) // 2
    period = 2 ** config.depth
    reach = 0
    for o in range(period):  # the reach depends on the position on the pooling grid
        first, last = receptive_field_interval(config, o)
        reach = max(reach, o - first, last - o)
    return -(-reach // period) * period


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
    if config.padding == "same":
        margin = context_margin(config)
        out_size = tile_size - 2 * margin
        if out_size < 1:
            smallest = 2 * margin + 2 ** config.depth
            raise ValueError(
                f"tile_size: {tile_size} is too small for this 'same' net (depth "
                f"{config.depth}): it needs {margin} px of context per side; expected a "
                f"multiple of {2 ** config.depth} >= {smallest}")
        return tile_size, out_size, margin
    out_size = output_size(config, tile_size)
    margin = (tile_size - out_size) // 2
    return tile_size, out_size, margin


def default_tile_size(config, H, W, max_tile=DEFAULT_MAX_TILE):
    """The smallest legal tile whose output covers the image, capped at `max_tile`."""
    legal = legal_input_sizes(config, 1, max(max_tile, 2 ** (config.depth + 4) + 200))
    if len(legal) == 0:
        raise ValueError(f"no legal input size <= {max_tile} for depth {config.depth}")
    margin = context_margin(config) if config.padding == "same" else 0
    legal = [s for s in legal if s > 2 * margin] or [2 * margin + 2 ** config.depth]
    covering = [s for s in legal if output_size(config, s) - 2 * margin >= max(H, W)]
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


def iter_tile_predictions(net, x, tile_size, classes=None):
    """Overlap-tile prediction of one normalised image x (C, H, W), one tile at a time.

    Yields (i, j, p): p (K', h, w) are the probabilities of image pixels [i, i+h) x
    [j, j+w) (K' = len(classes), all classes if None); every pixel exactly once.

    Why the windows start on multiples of 2**depth: a 2x2 max-pool groups pixels in pairs,
    so the net commutes with a shift of its input only when the shift is a multiple of
    2**depth. Tiles on that grid compute exactly what one pass over the whole (mirror-
    padded) image would; the stitched map then has no seams at all. Each tile is gathered
    by mirrored indices (`reflect_indices`): no padded copy of the image is made.
    """
    config = net.config
    C, H, W = x.shape
    in_size, out_size, margin = tile_geometry(config, tile_size)
    period = 2 ** config.depth  # the pooling grid
    rows, _ = window_origins(H, out_size, period)
    cols, _ = window_origins(W, out_size, period)
    keep = margin if config.padding == "same" else 0  # same nets: drop the outer margin
    # Each pixel is yielded once: a window shifted back inward (the last one) yields only
    # the part its predecessor did not cover.
    row_from = [max(o, prev + out_size) for o, prev in zip(rows, [-out_size] + rows)]
    col_from = [max(o, prev + out_size) for o, prev in zip(cols, [-out_size] + cols)]
    for i0, i1 in zip(rows, row_from):
        # Output window [i0, i0+out) needs input rows [i0 - margin, i0 + out + margin).
        r = reflect_indices(i0 - margin, in_size, H)  # (in,)
        for j0, j1 in zip(cols, col_from):
            c = reflect_indices(j0 - margin, in_size, W)  # (in,)
            tile = x[:, r[:, np.newaxis], c[np.newaxis, :]]  # (C, in, in)
            tile = np.ascontiguousarray(tile[None], dtype=net.dtype)  # (1, C, in, in)
            p = net.ops.asnumpy(net.predict_proba(net.ops.asarray(tile)))[0]  # (K, o, o)
            if classes is not None:
                p = p[list(classes)]
            top, left = keep + i1 - i0, keep + j1 - j0  # same nets: skip the outer margin
            h, w = min(i0 + out_size, H) - i1, min(j0 + out_size, W) - j1
            yield i1, j1, p[:, top:top + h, left:left + w]


def _predict_tiles(net, x, tile_size):
    """Overlap-tile prediction of one already normalised image x (C, H, W) -> (K, H, W)."""
    probs = None
    for i0, j0, p in iter_tile_predictions(net, x, tile_size):
        if probs is None:
            probs = np.empty((p.shape[0], *x.shape[1:]), dtype=p.dtype)  # (K, H, W)
        probs[:, i0:i0 + p.shape[1], j0:j0 + p.shape[2]] = p
    return probs


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


def prepare_image(net, image, dtype=None):
    """The net's input from a raw image (..., H, W), as training made it: resampled by
    `net.input_offset` when it has one (data/offset.py: the labels' offset from their
    images; training did the same), then `normalize_image` in `dtype` (None: the net's;
    training keeps float64 until it cuts its tiles)."""
    if tuple(net.input_offset) != (0.0, 0.0):
        image = shift_image(image, net.input_offset)
    return normalize_image(image, dtype=net.dtype if dtype is None else dtype)


def predict_proba_tiled(net, image, tile_size=None, flips=False, normalize=True,
                        classes=None):
    """Class probabilities of one image of any size by overlap-tile prediction.

    net: a UNet. image: (H, W) or (C, H, W) raw intensities (made the net's input here with
    `prepare_image`, as in training, unless normalize=False: then already its input).
    tile_size: legal input size of the net (None: `default_tile_size`); an illegal size is
    a ValueError naming the nearest legal sizes.
    flips: average over the 8 flips/rotations, each undone on the probabilities.
    classes: indices of the class maps to return (None: all); the others are never stored.
    Returns probs (K, H, W) (K = len(classes)) in the net's dtype; with all classes,
    probs.sum(axis=0) == 1. Besides the input, only this output is image-sized.
    """
    x = _as_chw(image)
    C, H, W = x.shape
    if C != net.config.in_channels:
        raise ValueError(f"image: expected {net.config.in_channels} channel(s), got {C}")
    if tile_size is None:
        tile_size = default_tile_size(net.config, H, W)
    tile_geometry(net.config, tile_size)  # fail early on a bad tile size
    x = prepare_image(net, x) if normalize else x.astype(net.dtype, copy=False)
    K = net.config.n_classes if classes is None else len(classes)
    probs = np.zeros((K, H, W), dtype=net.dtype)
    for k, flip in (DIHEDRAL if flips else DIHEDRAL[0:1]):
        # g(probs) is a view of probs: writing g-space windows into it undoes g for free.
        view = _transform(probs, k, flip)
        for i0, j0, p in iter_tile_predictions(net, _transform(x, k, flip), tile_size,
                                               classes):
            view[:, i0:i0 + p.shape[1], j0:j0 + p.shape[2]] += p
    if flips:
        probs /= len(DIHEDRAL)
    return probs


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
