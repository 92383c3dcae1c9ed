"""The embedded default data set: synthetic fluorescence-like images of touching cells.

No download, any size, deterministic from a seed. Each image is made in four steps:

1. Seeds on a jittered grid (spacing ~ 2 cell radii), a few dropped to leave background.
2. Cells: every pixel goes to its nearest seed (a Voronoi partition), and belongs to that
   seed's cell when it lies inside the seed's ellipse (random axes and orientation),
   whose outline is made irregular by a smooth noise field. Neighbouring cells that grow
   into each other meet along the straight Voronoi boundary.
3. Touching cells are separated by a 2 px background gap (`separate_touching`), so the
   binary mask (1 = cell, 0 = background) has thin gaps between touching cells: the
   task the paper's weight map is made for.
4. The image: per-cell brightness, a grainy texture, dimmer cell rims, a dark background,
   uneven illumination, a blur (optics) and Gaussian noise; values clipped to [0, 1].
   The contrast is moderate, so a small U-Net learns it in minutes on a CPU.

Shapes: image (H, W) float32 in [0, 1]; instances (H, W) int32, 0 = background, 1..N.
"""

import numpy as np
from scipy import ndimage

from minimal_unet.data.readers import Sample
from minimal_unet.weight_map import separate_touching

CELL_RADIUS = 11.0  # mean cell radius in px


def _smooth_noise(shape, sigma, rng):
    """A Gaussian-smoothed white-noise field (H, W) float64, rescaled to unit std."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return field / (field.std() + 1e-12)


def _coarse_field(size, rng, grid=4):
    """A very smooth random field (H, W) float64: a (grid, grid) normal grid, cubic zoom."""
    coarse = rng.standard_normal((grid, grid))
    zoom = (size[0] / grid, size[1] / grid)
    return ndimage.zoom(coarse, zoom, order=3, mode="grid-mirror", grid_mode=True)


def _seeds(size, rng):
    """Cell centres (n, 2) float64 as (row, col) on a jittered grid, ~15% dropped."""
    H, W = size
    spacing = 1.8 * CELL_RADIUS
    rows = np.arange(spacing / 2 - spacing, H + spacing, spacing)  # a ring beyond the border
    cols = np.arange(spacing / 2 - spacing, W + spacing, spacing)
    grid = np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1).reshape(-1, 2)  # (n, 2)
    grid = grid + rng.uniform(-0.35, 0.35, size=grid.shape) * spacing
    keep = rng.uniform(size=len(grid)) > 0.15
    return grid[keep]


def synthetic_instances(size, rng):
    """Instance image (H, W) int32 of touching, irregular elliptic cells (before separation)."""
    H, W = size
    seeds = _seeds(size, rng)  # (n, 2) (row, col), some outside the image
    n = len(seeds)
    radius = CELL_RADIUS * rng.uniform(0.8, 1.25, size=n)  # (n,) major semi-axis
    aspect = rng.uniform(0.65, 1.0, size=n)  # (n,) minor / major
    angle = rng.uniform(0.0, np.pi, size=n)  # (n,) orientation of the major axis

    # Owner of each pixel = nearest seed (a Voronoi partition), from one EDT with indices,
    # on a canvas padded by m px so that the seeds outside the image fit on it.
    m = int(np.ceil(3 * CELL_RADIUS))
    seed_pixels = np.round(seeds).astype(np.int64) + m  # (n, 2) on the padded canvas
    seed_index = np.full((H + 2 * m, W + 2 * m), -1, dtype=np.int64)
    seed_index[seed_pixels[:, 0], seed_pixels[:, 1]] = np.arange(n)
    _, (near_r, near_c) = ndimage.distance_transform_edt(seed_index < 0, return_indices=True)
    owner = seed_index[near_r, near_c][m : m + H, m : m + W]  # (H, W) seed index

    # Elliptic metric of the owner: rho = |R(-angle) (p - s)| scaled by the axes, 1 on the
    # outline of the owner's ellipse.
    rr, cc = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")  # (H, W) each
    dr = rr - seeds[owner, 0]  # (H, W)
    dc = cc - seeds[owner, 1]  # (H, W)
    cos, sin = np.cos(angle[owner]), np.sin(angle[owner])  # (H, W)
    along = dr * cos + dc * sin  # (H, W) along the major axis
    across = -dr * sin + dc * cos  # (H, W)
    major = radius[owner]
    minor = major * aspect[owner]
    rho = np.sqrt((along / major) ** 2 + (across / minor) ** 2)  # (H, W)

    wobble = 0.12 * _smooth_noise(size, 3.0, rng)  # (H, W) irregular outlines
    instances = np.where(rho + wobble < 1.0, owner + 1, 0)  # (H, W)

    # Renumber 1..N in raster order of first appearance, dropping seeds with no pixels.
    ids, first = np.unique(instances.ravel(), return_index=True)
    order = ids[ids > 0][np.argsort(first[ids > 0])]
    table = np.zeros(n + 1, dtype=np.int32)
    table[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return table[instances]


def render_image(instances, rng):
    """Fluorescence-like image (H, W) float32 in [0, 1] of the cells in `instances`."""
    size = instances.shape
    n = int(instances.max(initial=0))
    cell = instances > 0
    brightness = np.concatenate([[0.0], rng.uniform(0.4, 0.7, size=n)])  # (n + 1,)
    signal = brightness[instances]  # (H, W)
    texture = 1.0 + 0.12 * _smooth_noise(size, 1.2, rng)  # grainy chromatin-like texture
    inside = ndimage.distance_transform_edt(cell)  # (H, W) px from the background
    rim = 1.0 - 0.3 * np.exp(-((inside - 1.0) ** 2) / 4.0)  # dimmer rims
    image = 0.1 + signal * texture * rim * cell
    illumination = 1.0 + 0.15 * _coarse_field(size, rng)  # uneven, smooth
    image = ndimage.gaussian_filter(image * illumination, 0.8)  # optics blur
    image = image + 0.04 * rng.standard_normal(size)  # camera noise
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def synthetic_sample(size, rng):
    """One synthetic (image (H, W) float32 in [0, 1], instances (H, W) int32).

    The instances are already separated: touching cells have a 2 px background gap.
    """
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size: expected (H, W) with H, W >= 1, got {size}")
    size = (int(size[0]), int(size[1]))
    touching = synthetic_instances(size, rng)
    instances = separate_touching(touching, width=2)
    image = render_image(instances, rng)
    return image, instances


def make_synthetic(n_images, size=(256, 256), seed=0):
    """`n_images` synthetic Samples (mask = instances > 0, int64), names "synthetic_000"...

    Deterministic: the same (n_images, size, seed) give the same images, and image i is
    the same whatever n_images is (each image has its own child seed).
    """
    if n_images < 0:
        raise ValueError(f"n_images: expected >= 0, got {n_images}")
    children = np.random.SeedSequence(seed).spawn(n_images)
    samples = []
    for i, child in enumerate(children):
        image, instances = synthetic_sample(size, np.random.default_rng(child))
        mask = (instances > 0).astype(np.int64)
        samples.append(Sample(image=image, mask=mask, instances=instances,
                              name=f"synthetic_{i:03d}"))
    return samples


def make_synthetic_arrays(n_images, size=(256, 256), seed=0):
    """Like make_synthetic, as arrays: images (n, H, W) float32, instances (n, H, W) int32."""
    samples = make_synthetic(n_images, size, seed)
    images = np.stack([s.image for s in samples]) if samples else np.zeros((0, *size), np.float32)
    instances = np.stack([s.instances for s in samples]) if samples else np.zeros((0, *size),
                                                                                     np.int32)
    return images, instances
