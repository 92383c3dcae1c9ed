"""Data: readers for data sets on disk, the synthetic default data set, augmentation and
training tiles. Arrays are single images: image (H, W) float32 in [0, 1], mask (H, W)
int64 classes, instances (H, W) int32 ids (0 = background).
"""

from minimal_unet.data.augment import (
    AugmentConfig,
    augment,
    elastic_deform,
    gray_value_variation,
    random_flip_rot90,
    random_rotation,
    random_shift,
)
from minimal_unet.data.readers import (
    Sample,
    read_dataset,
    read_folder,
    read_isbi2012,
    read_tiff_stack,
    split_samples,
)
from minimal_unet.data.synthetic import make_synthetic, make_synthetic_arrays, synthetic_sample
from minimal_unet.data.tiles import mirror_pad, random_training_tile

__all__ = [
    "Sample", "read_folder", "read_isbi2012", "read_tiff_stack", "read_dataset", "split_samples",
    "make_synthetic", "make_synthetic_arrays", "synthetic_sample",
    "AugmentConfig", "augment", "elastic_deform", "random_flip_rot90", "random_shift",
    "random_rotation", "gray_value_variation",
    "mirror_pad", "random_training_tile",
]
