"""Data augmentation as in the paper: elastic deformation, shift, rotation, gray values.

Every function takes the image together with its labels and weight map, applies ONE
random geometric transform to all three, and returns new arrays (the inputs are never
modified). Randomness comes only from the numpy Generator `rng` passed in, so a seed
replays a run exactly.

Shapes: image (H, W) or (C, H, W) float32/float64 (the dtype is kept); labels (H, W) int
(or None); weight (H, W) float (or None). A geometric transform moves pixel content: the
output at pixel p is the input sampled at T(p), with
  - image: cubic spline interpolation (order 3),
  - labels: nearest neighbour (order 0), so the label values stay the same set,
  - weight: linear interpolation (order 1), a smooth map stays within its old range
    (recomputing it from the warped labels is more faithful but costs an EDT per tile),
and mirrored content where T(p) leaves the image (mode "mirror", the paper's mirroring).
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def _require_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")


def _check_arrays(image, labels, weight):
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image: expected shape (H, W) or (C, H, W), got {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"image: expected a float32 or float64 array, got dtype {image.dtype}")
    plane = image.shape[image.ndim - 2 : image.ndim]  # (H, W)
    for name, a in (("labels", labels), ("weight", weight)):
        if a is not None and np.shape(a) != plane:
            raise ValueError(f"{name}: expected shape {plane} (the image's H, W), "
                             f"got {np.shape(a)}")
    return image, plane


def warp(image, labels=None, weight=None, coords=None):
    """Sample image / labels / weight at `coords` (2, H, W): out[p] = in[coords[:, p]].

    coords[0] holds row positions, coords[1] column positions (float64). Identity
    coordinates (the pixel grid) give back the inputs: exactly for labels, and to
    rounding error for image and weight.
    """
    image, plane = _check_arrays(image, labels, weight)
    if coords is None or np.shape(coords) != (2, *plane):
        raise ValueError(f"coords: expected shape {(2, *plane)}, got {np.shape(coords)}")
    if image.ndim == 2:
        out_image = ndimage.map_coordinates(image, coords, order=3, mode="mirror",
                                            output=image.dtype)
    else:
        out_image = np.stack([ndimage.map_coordinates(channel, coords, order=3, mode="mirror",
                                                      output=image.dtype)
                              for channel in image])  # (C, H, W)
    out_labels = None
    if labels is not None:
        out_labels = ndimage.map_coordinates(np.asarray(labels), coords, order=0, mode="mirror")
    out_weight = None
    if weight is not None:
        out_weight = ndimage.map_coordinates(np.asarray(weight), coords, order=1, mode="mirror")
    return out_image, out_labels, out_weight


def identity_coords(plane):
    """The pixel grid (2, H, W) float64: coords[0] = row index, coords[1] = column index."""
    H, W = plane
    rows, cols = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64),
                             indexing="ij")  # (H, W) each
    return np.stack([rows, cols])  # (2, H, W)


def elastic_displacement(plane, rng, grid=3, sigma=10.0):
    """The paper's smooth random displacement field (2, H, W) float64, in pixels.

    Displacement vectors are drawn from N(0, sigma^2) on a coarse grid x grid lattice whose
    corner nodes sit on the image corners, then interpolated to every pixel with bicubic
    splines: pixel (i, j) reads the lattice at (i (grid-1)/(H-1), j (grid-1)/(W-1)).
    """
    _require_rng(rng)
    if grid < 2:
        raise ValueError(f"grid: expected >= 2 lattice nodes per side, got {grid}")
    H, W = plane
    coarse = rng.normal(0.0, sigma, size=(2, grid, grid))  # (2, grid, grid) row, col shifts
    u = np.arange(H) * ((grid - 1) / max(H - 1, 1))  # (H,) lattice row coordinate
    v = np.arange(W) * ((grid - 1) / max(W - 1, 1))  # (W,) lattice column coordinate
    uu, vv = np.meshgrid(u, v, indexing="ij")  # (H, W) each
    lattice_coords = np.stack([uu, vv])  # (2, H, W)
    return np.stack([ndimage.map_coordinates(coarse[k], lattice_coords, order=3, mode="mirror")
                     for k in range(2)])  # (2, H, W)


def elastic_deform(image, labels=None, weight=None, rng=None, grid=3, sigma=10.0):
    """The paper's elastic deformation: displacements ~ N(0, sigma^2) on a grid x grid
    lattice, bicubic to every pixel, then out[p] = in[p + displacement(p)].

    Returns (image, labels, weight) deformed (None stays None); see the module text for
    the interpolation of each. `rng` is required (a numpy Generator).
    """
    _require_rng(rng)
    _, plane = _check_arrays(image, labels, weight)
    displacement = elastic_displacement(plane, rng, grid=grid, sigma=sigma)  # (2, H, W)
    coords = identity_coords(plane) + displacement  # (2, H, W)
    return warp(image, labels, weight, coords)


def random_flip_rot90(image, labels=None, weight=None, rng=None):
    """One of the 8 symmetries of the square: rotate by k x 90 degrees, then maybe flip
    left-right, k and the flip uniform. Exact (a pure index permutation); a (H, W) input
    becomes (W, H) for odd k; every array is transformed the same way.
    """
    _require_rng(rng)
    _check_arrays(image, labels, weight)
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))

    def transform(a):
        if a is None:
            return None
        a = np.rot90(a, k, axes=(a.ndim - 2, a.ndim - 1))
        a = np.flip(a, axis=a.ndim - 1) if flip else a
        return np.ascontiguousarray(a)

    return transform(image), transform(labels), transform(weight)


def random_shift(image, labels=None, weight=None, rng=None, max_shift=16):
    """Shift content by integer (dy, dx) uniform in [-max_shift, max_shift]; mirrored edges.

    out[i, j] = in[i - dy, j - dx] (reflected at the border). Integer shifts need no
    interpolation, so all three arrays move exactly.
    """
    _require_rng(rng)
    _, plane = _check_arrays(image, labels, weight)
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
    coords = identity_coords(plane) - np.array([dy, dx], dtype=np.float64).reshape(2, 1, 1)
    # Integer positions: order-0 sampling moves all three arrays exactly.
    out_image = _nearest(np.asarray(image), coords)
    out_labels = None if labels is None else _nearest(np.asarray(labels), coords)
    out_weight = None if weight is None else _nearest(np.asarray(weight), coords)
    return out_image, out_labels, out_weight


def _nearest(a, coords):
    """Order-0 sampling of a (H, W) or (C, H, W) array at coords (2, H, W), mirror mode."""
    if a.ndim == 2:
        return ndimage.map_coordinates(a, coords, order=0, mode="mirror")
    return np.stack([ndimage.map_coordinates(c, coords, order=0, mode="mirror") for c in a])


def random_rotation(image, labels=None, weight=None, rng=None, max_angle=180.0):
    """Rotate about the image centre by an angle uniform in [-max_angle, max_angle] degrees.

    out[p] = in[c + R(theta) (p - c)], c the centre; image cubic, labels nearest, weight
    linear, mirrored content outside.
    """
    _require_rng(rng)
    _, plane = _check_arrays(image, labels, weight)
    theta = np.deg2rad(rng.uniform(-max_angle, max_angle))
    H, W = plane
    centre = np.array([(H - 1) / 2.0, (W - 1) / 2.0]).reshape(2, 1, 1)
    grid = identity_coords(plane) - centre  # (2, H, W) relative to the centre
    rows = np.cos(theta) * grid[0] - np.sin(theta) * grid[1]  # (H, W)
    cols = np.sin(theta) * grid[0] + np.cos(theta) * grid[1]  # (H, W)
    coords = np.stack([rows, cols]) + centre  # (2, H, W)
    return warp(image, labels, weight, coords)


def gray_value_variation(image, rng, gamma=(0.8, 1.25), contrast=(0.8, 1.2),
                         brightness=(-0.1, 0.1)):
    """Random gamma, contrast and brightness change of the grey values, same dtype.

    With lo, hi = image min, max and t = (image - lo) / (hi - lo) in [0, 1]:
      t = t ** g                        (gamma g ~ U(gamma), log-uniform would be similar)
      t = (t - mean(t)) * c + mean(t)   (contrast c ~ U(contrast))
      t = t + b                         (brightness b ~ U(brightness))
      out = lo + t (hi - lo)
    A constant image is returned unchanged (copy).
    """
    _require_rng(rng)
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"image: expected a float32 or float64 array, got dtype {image.dtype}")
    g = rng.uniform(*gamma)
    c = rng.uniform(*contrast)
    b = rng.uniform(*brightness)
    lo, hi = float(image.min()), float(image.max())
    if hi <= lo:
        return image.copy()
    t = (image.astype(np.float64) - lo) / (hi - lo)
    t = t**g
    mean = t.mean()
    t = (t - mean) * c + mean + b
    return (lo + t * (hi - lo)).astype(image.dtype)


@dataclass
class AugmentConfig:
    """Which augmentations `augment` applies, in this order, and their strengths."""

    flip_rot90: bool = True
    rotation_max_angle: float = 0.0  # degrees; 0 = off
    shift_max: int = 0  # pixels; 0 = off
    elastic: bool = True
    elastic_grid: int = 3
    elastic_sigma: float = 10.0
    gray_values: bool = True


def augment(image, labels=None, weight=None, rng=None, config=None):
    """Apply the augmentations of `config` (default AugmentConfig()) in order:
    flip/rot90, rotation, shift, elastic deformation, gray values. Returns
    (image, labels, weight)."""
    _require_rng(rng)
    config = AugmentConfig() if config is None else config
    if config.flip_rot90:
        image, labels, weight = random_flip_rot90(image, labels, weight, rng)
    if config.rotation_max_angle > 0:
        image, labels, weight = random_rotation(image, labels, weight, rng,
                                                max_angle=config.rotation_max_angle)
    if config.shift_max > 0:
        image, labels, weight = random_shift(image, labels, weight, rng,
                                             max_shift=config.shift_max)
    if config.elastic:
        image, labels, weight = elastic_deform(image, labels, weight, rng,
                                               grid=config.elastic_grid,
                                               sigma=config.elastic_sigma)
    if config.gray_values:
        image = gray_value_variation(image, rng)
    return image, labels, weight
