"""Readers for segmentation data sets on disk: image/mask folders, ISBI 2012, TIFF stacks.

Every reader returns a list of `Sample`s, sorted by name:
- image: (H, W) float32, the raw grey values scaled to [0, 1] (uint8 / 255,
  uint16 / 65535, bool as 0/1, float images as they are). RGB(A) images are made grey by
  averaging R, G and B (alpha is dropped). Per-image normalisation is the trainer's job.
- mask: (H, W) int64 class labels in [0, n_classes), or None for unlabelled images.
- instances: (H, W) int32 object ids (0 = background) when the data set has them, or None.
- name: the file stem (or "<stack stem>_<page>" for TIFF stacks).

Mask files hold either the classes themselves (0..K-1), or, for two classes, a binary
image 0/255 (255 -> class 1); a bool image is 0/1. Any other value is a ValueError that
names the file and the values found.

Images are decoded to their grey values whatever the PNG mode: a palette ("P") image is
looked up in its palette (never read as palette indices), "LA" drops alpha, CMYK/YCbCr are
converted to RGB. Mask files keep palette indices (the VOC convention: index = class).
A NaN or Inf pixel in an image is a ValueError naming the file and the pixel (row, col).

Hidden files (names starting with ".", such as macOS "._x.png" and ".DS_Store") are skipped
by every reader and by `list_images`, which the CLI uses too.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")


@dataclass
class Sample:
    """One labelled image: image (H, W) float32 in [0, 1], mask (H, W) int64 or None,
    instances (H, W) int32 or None, name str."""

    image: np.ndarray
    mask: np.ndarray | None
    instances: np.ndarray | None
    name: str


def is_hidden(path):
    """True for names starting with "." (macOS "._x.png" resource forks, ".DS_Store")."""
    return Path(path).name.startswith(".")


def is_image_file(path):
    """A visible PNG or TIFF file name (the suffix decides, case-insensitive)."""
    path = Path(path)
    return not is_hidden(path) and path.suffix.lower() in IMAGE_SUFFIXES


def list_images(folder):
    """The visible PNG/TIFF files of `folder`, sorted by name (hidden files skipped)."""
    return sorted(f for f in Path(folder).iterdir() if is_image_file(f) and f.is_file())


# PIL modes decoded to grey/RGB values for images (palette lookups, alpha dropped).
_CONVERT_FOR_IMAGES = {"P": "RGB", "PA": "RGB", "LA": "L", "La": "L", "CMYK": "RGB",
                       "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "RGBa": "RGB"}


def read_array(path, kind="image"):
    """Read one PNG or TIFF file into a NumPy array; errors name the file.

    kind "image": PNG palette/CMYK/... modes are decoded to their grey or RGB values.
    kind "mask": the stored values as they are (palette indices are class ids).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            return np.asarray(tifffile.imread(path))
        with Image.open(path) as im:
            if kind == "image" and im.mode in _CONVERT_FOR_IMAGES:
                a = np.array(im.convert(_CONVERT_FOR_IMAGES[im.mode]))
                if a.ndim == 3 and (a[..., 0:1] == a[..., 1:3]).all():
                    return np.ascontiguousarray(a[..., 0])  # a grey palette: its grey values
                return a
            return np.array(im)
    except Exception as error:  # PIL and tifffile raise many kinds; name the file
        raise ValueError(f"{path}: cannot read image file ({_one_line(error)})") from error


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def check_finite(a, source="image"):
    """Raise ValueError naming the first NaN/Inf pixel (row, col[, channel]) of `a`."""
    if np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.complexfloating):
        bad = ~np.isfinite(a)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{source}: expected finite pixel values, got {a[where]} at "
                             f"pixel (row, col) {where} ({int(bad.sum())} non-finite "
                             f"pixel(s))")
    return a


def to_float_image(a, source="image"):
    """Scale a 2-D (or RGB(A) (H, W, 3|4)) array to a (H, W) float32 image in [0, 1]."""
    check_finite(a, source)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        red, green, blue = (to_float_image(a[:, :, k], source) for k in range(3))
        return ((red + green + blue) / 3).astype(np.float32)  # (H, W), alpha dropped
    if a.ndim != 2:
        raise ValueError(f"{source}: expected a grey (H, W) or RGB(A) (H, W, 3|4) image, "
                         f"got shape {a.shape}")
    if a.dtype == bool:
        return a.astype(np.float32)
    if a.dtype in (np.uint8, np.uint16):
        # float32 division, no float64 temporary (8 bytes a pixel); it rounds exactly as
        # (a / 255.0).astype(float32) does for every uint8 and uint16 value (tested).
        out = a.astype(np.float32)
        out /= np.float32(255 if a.dtype == np.uint8 else 65535)
        return out
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32)
    raise TypeError(f"{source}: expected a uint8, uint16, bool or float image, got dtype {a.dtype}")


def to_classes(a, n_classes=2, source="mask"):
    """Turn a label image into (H, W) int64 classes in [0, n_classes).

    bool -> 0/1; for n_classes == 2 a {0, 255} image -> 0/1; otherwise the values must
    already be classes 0..n_classes-1.
    """
    if a.ndim != 2:
        raise ValueError(f"{source}: expected a (H, W) label image, got shape {a.shape}")
    if a.dtype == bool:
        return a.astype(np.int64)
    if not np.issubdtype(a.dtype, np.integer) and not np.all(a == np.round(a)):
        raise ValueError(f"{source}: expected integer class labels, got non-integer values")
    values = np.unique(a)
    if n_classes == 2 and set(values.tolist()) <= {0, 255}:
        return (a == 255).astype(np.int64)
    bad = values[(values < 0) | (values >= n_classes)]
    if bad.size:
        hint = " or {0, 255}" if n_classes == 2 else ""
        raise ValueError(f"{source}: expected class labels in 0..{n_classes - 1}{hint}, "
                         f"got values {bad[:10].tolist()}")
    return a.astype(np.int64)


def files_by_stem(folder):
    """{stem: path} of the PNG/TIFF files in `folder`; duplicate stems are an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    files = {}
    for path in list_images(folder):
        if path.stem in files:
            raise ValueError(f"{folder}: two files with stem {path.stem!r}: "
                             f"{files[path.stem].name} and {path.name}")
        files[path.stem] = path
    if not files:
        raise ValueError(f"{folder}: no PNG or TIFF files in this folder (expected at least one)")
    return files


def _check_partners(folder_a, stems_a, folder_b, stems_b):
    """Raise unless both folders hold files with the same stems, listing the orphans."""
    only_a = sorted(set(stems_a) - set(stems_b))
    only_b = sorted(set(stems_b) - set(stems_a))
    if only_a or only_b:
        raise ValueError(f"file stems differ: in {folder_a} without a partner in {folder_b}: "
                         f"{only_a}; in {folder_b} without a partner in {folder_a}: {only_b}")


def _check_same_size(image, image_path, other, other_path):
    if image.shape != other.shape:
        raise ValueError(f"{other_path}: size {other.shape} differs from its image "
                         f"{image_path} of size {image.shape}")


def read_folder(path, n_classes=2, images="images", masks="masks", instances="instances"):
    """Read `path/images/*` with `path/masks/*` (and `path/instances/*` if that folder exists).

    Files pair up by stem (name without extension); PNG and TIFF are both accepted.
    Returns a list of Sample sorted by stem. Errors name the files: stems without a
    partner, an image and mask of different sizes, mask values that are not classes.
    """
    root = Path(path)
    image_files = files_by_stem(root / images)
    mask_files = files_by_stem(root / masks)
    _check_partners(root / images, image_files, root / masks, mask_files)
    instance_files = None
    if (root / instances).is_dir():
        instance_files = files_by_stem(root / instances)
        _check_partners(root / images, image_files, root / instances, instance_files)
    samples = []
    for stem in sorted(image_files):
        image_path = image_files[stem]
        image = to_float_image(read_array(image_path), source=str(image_path))
        mask_raw = read_array(mask_files[stem], kind="mask")
        _check_same_size(image, image_path, mask_raw, mask_files[stem])
        mask = to_classes(mask_raw, n_classes, source=str(mask_files[stem]))
        ids = None
        if instance_files is not None:
            ids_raw = read_array(instance_files[stem], kind="mask")
            _check_same_size(image, image_path, ids_raw, instance_files[stem])
            if not np.issubdtype(ids_raw.dtype, np.integer) or ids_raw.min() < 0:
                raise ValueError(f"{instance_files[stem]}: expected non-negative integer "
                                 f"instance ids, got dtype {ids_raw.dtype}")
            ids = ids_raw.astype(np.int32)
        samples.append(Sample(image=image, mask=mask, instances=ids, name=stem))
    return samples


def read_tiff_stack(images_tif, labels_tif=None, n_classes=2):
    """Read a multi-page TIFF stack (n, H, W) (and its label stack) into n Samples.

    Sample names are "<image stack stem>_<page, 2 digits>". Label pages are converted like
    mask files (0/255 -> 0/1 for two classes). A single-page (H, W) TIFF gives one Sample.
    """
    images_tif = Path(images_tif)
    stack = read_array(images_tif)
    stack = stack[np.newaxis] if stack.ndim == 2 else stack  # (n, H, W)
    if stack.ndim != 3:
        raise ValueError(f"{images_tif}: expected a stack of grey pages (n, H, W), "
                         f"got shape {stack.shape}")
    labels = None
    if labels_tif is not None:
        labels = read_array(labels_tif, kind="mask")
        labels = labels[np.newaxis] if labels.ndim == 2 else labels  # (n, H, W)
        if labels.shape != stack.shape:
            raise ValueError(f"{labels_tif}: label stack shape {labels.shape} differs from "
                             f"image stack {images_tif} shape {stack.shape}")
    samples = []
    for page in range(stack.shape[0]):
        source = f"{images_tif} page {page}"
        image = to_float_image(stack[page], source=source)
        mask = None
        if labels is not None:
            mask = to_classes(labels[page], n_classes, source=f"{labels_tif} page {page}")
        samples.append(Sample(image=image, mask=mask, instances=None,
                              name=f"{images_tif.stem}_{page:02d}"))
    return samples


def read_isbi2012(path, split="train"):
    """Read the ISBI 2012 EM data: 0 = membrane, 255 = cell  ->  classes 0 = membrane, 1 = cell.

    Either the PNG layout `path/train/images`, `path/train/labels`, `path/test/images`
    (the README's "Getting the data sets"), or the challenge's original stacks
    `path/train-volume.tif`, `path/train-labels.tif`, `path/test-volume.tif`.
    split: "train" (30 labelled images) or "test" (30 images, mask None).
    """
    root = Path(path)
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    if (root / f"{split}-volume.tif").is_file():
        labels = root / "train-labels.tif" if split == "train" else None
        return read_tiff_stack(root / f"{split}-volume.tif", labels)
    if split == "train":
        return read_folder(root / "train", n_classes=2, images="images", masks="labels")
    samples = []
    for stem, image_path in sorted(files_by_stem(root / "test" / "images").items()):
        image = to_float_image(read_array(image_path), source=str(image_path))
        samples.append(Sample(image=image, mask=None, instances=None, name=stem))
    return samples


def read_dataset(path, layout="folder", n_classes=2, labels=None, split="train"):
    """Read a data set by layout: "folder" (read_folder), "isbi2012" (read_isbi2012, `split`),
    "tiff" (read_tiff_stack: `path` is the image stack, `labels` the label stack)."""
    if layout == "folder":
        return read_folder(path, n_classes=n_classes)
    if layout == "isbi2012":
        return read_isbi2012(path, split=split)
    if layout == "tiff":
        return read_tiff_stack(path, labels, n_classes=n_classes)
    raise ValueError(f"layout: expected 'folder', 'isbi2012' or 'tiff', got {layout!r}")


def split_samples(samples, n_val):
    """Split into (train, validation): the last `n_val` samples by name are validation.

    The fixed splits of the README's "Real data" are of this form: ISBI 2012 n_val = 5
    (sections 25-29), DSB 2018 n_val = 20 (the last 20 stems).
    """
    if not 0 <= n_val <= len(samples):
        raise ValueError(f"n_val: expected 0..{len(samples)}, got {n_val}")
    ordered = sorted(samples, key=lambda s: s.name)
    n_train = len(ordered) - n_val
    return ordered[0:n_train], ordered[n_train:len(ordered)]
