"""Sub-pixel offset between images and their labels, and the image shift that removes it.

    offset = label_offset(train_samples)        # (dy, dx) in pixels, from the training pairs
    aligned = shift_image(image, offset)        # aligned[y, x] = image[y + dy, x + dx]

Why: augmentation by the square's 8 symmetries (flips and rotations by 90 degrees, Sec. 3.1's
"shift and rotation invariance") and the 8-fold averaged prediction assume that a label
relates to its image the same way in every orientation. If the labels sit a fraction of a
pixel off their image's structures (ISBI 2012's membrane labels match the image best half a
pixel further down: benchmarks/results/isbi_offset_2026-12-06/), a flipped training pair
puts them half a pixel off the other way, the net can only learn the orientation-average
(the label boundary blurred by about a pixel), and its centred prediction misses every
label boundary by the offset. Resampling every image, for training and for prediction
alike, by the offset measured on the training pairs puts the labels on the image's
structures in every orientation; the predictions come out in the labels' frame.

The measure (`label_offset`): the cross-correlation of each standardised image with its
standardised mask, c(dy, dx) = mean over (y, x) of m[y, x] * a[y + dy, x + dx], summed over
the training pairs for integer shifts up to `max_shift`; its peak is refined to sub-pixel
by a parabola through the peak and its two neighbours on each axis. Structures that are
dark where the mask is 1 (a negative correlation at 0) are handled by flipping the sign.
No net is involved: the offset is a property of the data, measured on training pairs only.
"""

import numpy as np
from scipy import ndimage

MAX_SHIFT = 3  # integer shifts tried on each axis: -3 .. 3 px


def _standardised(a):
    a = np.asarray(a, dtype=np.float64)
    std = a.std()
    return (a - a.mean()) / (std if std > 0 else 1.0)


def correlation(samples, max_shift=MAX_SHIFT):
    """c (2 max_shift + 1, 2 max_shift + 1): c[dy + s, dx + s] = mean over the samples and the
    pixels (y, x) at least max_shift from the border of m[y, x] * a[y + dy, x + dx], with a the
    standardised image and m the standardised mask (mask > 0)."""
    s = int(max_shift)
    if s < 1:
        raise ValueError(f"max_shift: expected an int >= 1, got {max_shift!r}")
    c = np.zeros((2 * s + 1, 2 * s + 1))
    for sample in samples:
        image = np.asarray(sample.image)
        if image.ndim != 2 or image.shape != np.shape(sample.mask):
            raise ValueError(f"label_offset: expected a (H, W) image and a mask of its shape, "
                             f"got {image.shape} and {np.shape(sample.mask)}")
        H, W = image.shape
        if min(H, W) <= 2 * s:
            raise ValueError(f"label_offset: images must be larger than {2 * s} px a side "
                             f"for shifts up to {s}, got {image.shape}")
        a = _standardised(image)
        m = _standardised(np.asarray(sample.mask) > 0)[s:H - s, s:W - s]
        for i in range(2 * s + 1):
            for j in range(2 * s + 1):
                c[i, j] += np.mean(m * a[i:H - 2 * s + i, j:W - 2 * s + j])
    return c / max(len(samples), 1)


def _vertex(left, mid, right):
    """Offset of a parabola's vertex through (-1, left), (0, mid), (1, right) from 0."""
    curvature = left - 2.0 * mid + right
    return 0.0 if curvature >= 0 else 0.5 * (left - right) / curvature


def label_offset(samples, max_shift=MAX_SHIFT):
    """(dy, dx) floats: the image offset at which the samples' masks match their images best
    (see the module docstring). Raises ValueError when the peak lies on the edge of the
    searched window (the offset would be larger than max_shift: not a sub-pixel matter)."""
    c = correlation(samples, max_shift)
    s = int(max_shift)
    if c[s, s] < 0:  # structures dark where the mask is 1
        c = -c
    i, j = np.unravel_index(int(np.argmax(c)), c.shape)
    if i in (0, 2 * s) or j in (0, 2 * s):
        raise ValueError(f"label_offset: the best match lies {i - s, j - s} px off, at the "
                         f"edge of the {2 * s + 1} x {2 * s + 1} window searched; are these "
                         f"the images of these masks?")
    dy = i - s + _vertex(c[i - 1, j], c[i, j], c[i + 1, j])
    dx = j - s + _vertex(c[i, j - 1], c[i, j], c[i, j + 1])
    return float(dy), float(dx)


def shift_image(image, offset):
    """image (..., H, W) resampled at (y + dy, x + dx): out[..., y, x] = image[..., y + dy,
    x + dx], cubic spline, mirrored at the border; float64. offset (0, 0): a float64 copy."""
    image = np.asarray(image, dtype=np.float64)
    dy, dx = (float(v) for v in offset)
    if dy == 0.0 and dx == 0.0:
        return image.copy()
    planes = image.reshape(-1, *image.shape[-2:])  # each (H, W) plane on its own
    return np.stack([ndimage.shift(plane, (-dy, -dx), order=3, mode="mirror")
                     for plane in planes]).reshape(image.shape)
