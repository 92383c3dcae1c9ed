"""Images at k times their resolution and probabilities back at the original one.

    big = upscale_sample(sample, 2)        # image (2H, 2W), labels repeated 2x2
    prob = downscale_proba(prob_big, 2)    # (2H, 2W) -> (H, W), the mean of each 2x2 block

Used by the recipes' `upscale` knob (minimal_unet/recipe_run.py): a net trained and run
on finer pixels, scored on the original ones. The geometry is the same both ways: pixel
(i, j) is the k x k block at (k i, k j).
"""

import numpy as np
from scipy import ndimage

from minimal_unet.data.readers import Sample


def upscale_image(image, k):
    """(H, W) -> (k H, k W) float64, linear interpolation with pixels as areas: pixel
    (i, j) becomes the k x k block at (k i, k j), centred where the pixel was
    (scipy.ndimage.zoom, grid_mode=True). k == 1: the image itself."""
    if k == 1:
        return image
    return ndimage.zoom(np.asarray(image, np.float64), k, order=1, grid_mode=True,
                        mode="nearest")


def upscale_sample(sample, k):
    """The Sample at k times its resolution: the image by `upscale_image` (float32, as
    read), the mask and instance ids by repeating each pixel k x k (no label is invented
    between two others)."""
    if k == 1:
        return sample

    def repeat(a):
        return None if a is None else np.repeat(np.repeat(a, k, axis=0), k, axis=1)

    return Sample(upscale_image(sample.image, k).astype(np.float32), repeat(sample.mask),
                  repeat(sample.instances), sample.name)


def downscale_proba(prob, k):
    """(k H, k W) -> (H, W): the mean of each k x k block, the original pixel's probability
    (the blocks of `upscale_image`)."""
    H, W = prob.shape[0] // k, prob.shape[1] // k
    if prob.shape != (k * H, k * W):
        raise ValueError(f"prob: expected a shape divisible by upscale {k}, got {prob.shape}")
    return prob.reshape(H, k, W, k).mean(axis=(1, 3)) if k > 1 else prob
