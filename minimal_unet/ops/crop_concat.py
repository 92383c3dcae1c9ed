"""Centre-crop a skip connection and concatenate it with the upsampled map (the U-Net's "copy
and crop" arrow).

Shape legend (as in every op module):
    N  batch size
    Cs, Hs, Ws  channels, height, width of the skip map from the contracting path
    Cu, Hu, Wu  channels, height, width of the upsampled map from the expanding path
    top, left   pixels cropped from each side: top = (Hs - Hu) / 2, left = (Ws - Wu) / 2

Valid convolutions shrink the expanding path, so the skip map is larger and is cut down to
its centre before the two are stacked along the channel axis, skip first:

    y[:, 0:Cs]       = skip[:, :, top:top + Hu, left:left + Wu]
    y[:, Cs:Cs + Cu] = up

e.g. the paper's first up step: skip (1, 512, 64, 64), up (1, 512, 56, 56), crop 4 px per
side, y (1, 1024, 56, 56). The size difference must be even (same crop on both sides) and the
skip map may not be smaller than the upsampled one; either mistake is a ValueError.

Backward: the gradient splits along channels; the skip part is zero where it was cropped
away. The cache holds (skip.shape, top, left).
"""

import numpy as np

from minimal_unet.ops import _threads
from minimal_unet.ops._checks import check_float_array, check_same_dtype


def _crop_offsets(skip, up):
    """Check both maps and return (top, left), the crop on each side."""
    check_float_array("skip", skip, ndim=4, layout="(N, Cs, Hs, Ws)")
    check_float_array("up", up, ndim=4, layout="(N, Cu, Hu, Wu)")
    check_same_dtype(skip=skip, up=up)
    N, Cs, Hs, Ws = skip.shape
    Nu, Cu, Hu, Wu = up.shape
    if Nu != N:
        raise ValueError(
            f"skip and up: expected the same batch size N, got skip N={N}, up N={Nu}"
        )
    for axis, size_skip, size_up in (("H", Hs, Hu), ("W", Ws, Wu)):
        if size_skip < size_up:
            raise ValueError(
                f"skip: expected {axis} >= up's {axis} = {size_up} (skip is centre-cropped "
                f"to up's size), got skip {axis} = {size_skip}"
            )
        if (size_skip - size_up) % 2 != 0:
            raise ValueError(
                f"skip and up: expected an even difference in {axis} (equal crop on both "
                f"sides), got skip {axis} = {size_skip}, up {axis} = {size_up}"
            )
    top = (Hs - Hu) // 2
    left = (Ws - Wu) // 2
    return top, left


def _check_upstream(dy, skip_shape, top, left):
    N, Cs, Hs, Ws = skip_shape
    Hu, Wu = Hs - 2 * top, Ws - 2 * left
    check_float_array("dy", dy, ndim=4, layout="(N, Cs + Cu, Hu, Wu)")
    if dy.shape[0] != N or dy.shape[1] <= Cs or dy.shape[2:] != (Hu, Wu):
        raise ValueError(
            f"dy: expected shape (N, Cs + Cu, Hu, Wu) = ({N}, {Cs} + Cu with Cu >= 1, "
            f"{Hu}, {Wu}), got {dy.shape}"
        )


def crop_and_concat_forward(skip, up):
    """Centre-crop `skip` to up's height and width and stack it before `up` along channels.

    Args:
        skip: (N, Cs, Hs, Ws) float32/float64, Hs >= Hu, Ws >= Wu, even differences.
        up: (N, Cu, Hu, Wu), skip's dtype.
    Returns:
        y: (N, Cs + Cu, Hu, Wu), the inputs' dtype.
        cache: (skip_shape, top, left), the skip map's shape and the crop per side.
    """
    top, left = _crop_offsets(skip, up)
    N, Cs, Hs, Ws = skip.shape
    _, Cu, Hu, Wu = up.shape
    y = np.empty((N, Cs + Cu, Hu, Wu), dtype=skip.dtype)
    cropped = skip[:, :, top : top + Hu, left : left + Wu]  # (N, Cs, Hu, Wu), a view

    def copy_channels(part):  # y[:, part] from the skip's and up's channels in it
        lo, hi = part.start, part.stop
        if lo < Cs:
            y[:, lo : min(hi, Cs)] = cropped[:, lo : min(hi, Cs)]
        if hi > Cs:
            y[:, max(lo, Cs) : hi] = up[:, max(lo, Cs) - Cs : hi - Cs]

    # In parts of channels, one per core (ops/_threads.py): two copies, no arithmetic.
    _threads.map_chunks(copy_channels, Cs + Cu, N * Hu * Wu * skip.itemsize)
    cache = (skip.shape, top, left)
    return y, cache


def crop_and_concat_backward(dy, cache):
    """Split dL/dy along channels and pad the skip part back to the skip map's full size.

    Args:
        dy: (N, Cs + Cu, Hu, Wu) upstream gradient.
        cache: (skip_shape, top, left) from crop_and_concat_forward.
    Returns:
        dskip: (N, Cs, Hs, Ws), dy's dtype, zero outside the cropped window.
        dup: (N, Cu, Hu, Wu), dy's dtype (a new array, not a view of dy).
    """
    skip_shape, top, left = cache
    _check_upstream(dy, skip_shape, top, left)
    N, Cs, Hs, Ws = skip_shape
    _, C, Hu, Wu = dy.shape
    dskip = np.zeros((N, Cs, Hs, Ws), dtype=dy.dtype)  # zero outside the cropped window
    dup = np.empty((N, C - Cs, Hu, Wu), dtype=dy.dtype)

    def split_channels(part):  # dskip / dup channels in `part` of dy's channels
        lo, hi = part.start, part.stop
        if lo < Cs:
            dskip[:, lo : min(hi, Cs), top : top + Hu, left : left + Wu] = dy[:, lo : min(hi, Cs)]
        if hi > Cs:
            dup[:, max(lo, Cs) - Cs : hi - Cs] = dy[:, max(lo, Cs) : hi]

    # In parts of channels, one per core (ops/_threads.py).
    _threads.map_chunks(split_channels, C, N * Hs * Ws * dy.itemsize)
    return dskip, dup


def crop_and_concat_forward_naive(skip, up):
    """Crop-and-concatenate with an explicit loop over every output element."""
    top, left = _crop_offsets(skip, up)
    N, Cs, Hs, Ws = skip.shape
    _, Cu, Hu, Wu = up.shape
    # BEGIN SOLUTION
    # HINT: channels < Cs: skip[n, c, top + i, left + j], then up; cache (skip.shape, top, left)
    y = np.empty((N, Cs + Cu, Hu, Wu), dtype=skip.dtype)
    for n in range(N):
        for c in range(Cs + Cu):
            for i in range(Hu):
                for j in range(Wu):
                    if c < Cs:
                        y[n, c, i, j] = skip[n, c, top + i, left + j]
                    else:
                        y[n, c, i, j] = up[n, c - Cs, i, j]
    cache = (skip.shape, top, left)
    return y, cache
    # END SOLUTION


def crop_and_concat_backward_naive(dy, cache):
    """Crop-and-concatenate backward with an explicit loop; same signature as the fast one."""
    skip_shape, top, left = cache
    _check_upstream(dy, skip_shape, top, left)
    N, Cs, Hs, Ws = skip_shape
    _, C, Hu, Wu = dy.shape
    # BEGIN SOLUTION
    # HINT: split dy at channel Cs; dskip is zero outside [top:top + Hu, left:left + Wu]
    dskip = np.zeros((N, Cs, Hs, Ws), dtype=dy.dtype)
    dup = np.empty((N, C - Cs, Hu, Wu), dtype=dy.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Hu):
                for j in range(Wu):
                    if c < Cs:
                        dskip[n, c, top + i, left + j] = dy[n, c, i, j]
                    else:
                        dup[n, c - Cs, i, j] = dy[n, c, i, j]
    return dskip, dup
    # END SOLUTION
