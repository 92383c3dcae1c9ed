"""`minimal-unet predict`: overlap-tile prediction of image files with a saved model.

Everything is checked before the first prediction: the model (any broken file is one
line), every input image (readable, grey or RGB, finite pixels), the tile size, unique
output names, and the outputs (never onto an input, never over an existing file unless
--overwrite). Memory is bounded by the tile: one image at a time, normalised in place of
its float copy, and only P(class 1) (two classes) is kept image-sized.

With --seed-threshold S (two classes) it also writes OUT/objects/<name>.tif: one id per
object (uint16 or int32 when there are more than 65535), touching objects cut apart by
the seeded watershed of instances.py: seeds where P >= S grown over P >= --threshold.
"""

from pathlib import Path

import numpy as np

from minimal_unet.backends import BACKENDS
from minimal_unet.cli._common import (
    CLIError,
    check_out_folder,
    fresh_default,
    one_line,
    positive_int,
    probability,
    refuse_existing,
    refuse_into_inputs,
)

DEFAULT_OUT = "runs/predict"


def add_predict_parser(subparsers):
    p = subparsers.add_parser(
        "predict", help="segment images with a saved model (overlap-tile)",
        description="Writes OUT/masks/<name>.png (0/255 for two classes, else class ids) "
                    "and OUT/probabilities/<name>.tif (float32; P(class 1) for two "
                    "classes, else all K maps); with --seed-threshold also "
                    "OUT/objects/<name>.tif (object ids, 0 = background). Existing outputs "
                    "are refused unless --overwrite; outputs inside an input folder are "
                    "always refused.")
    p.add_argument("model", help="model .npz written by train/demo")
    p.add_argument("inputs", nargs="+", help="image files (PNG/TIFF) or folders of them "
                                             "(hidden files such as ._x.png are skipped)")
    p.add_argument("--out", help=f"output folder (default: {DEFAULT_OUT}, or "
                                 f"{DEFAULT_OUT}-2, ... when it exists)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--tile-size", type=positive_int, help="legal input tile size")
    p.add_argument("--flips", action="store_true", help="average the 8 flips/rotations")
    p.add_argument("--threshold", type=probability, default=0.5,
                   help="foreground where P(class 1) >= threshold, in [0, 1] (two classes)")
    p.add_argument("--seed-threshold", type=probability,
                   help="also write objects/<name>.tif: seeds where P(class 1) >= this, "
                        "grown over the foreground by a watershed, so touching objects stay "
                        "apart (>= --threshold; two classes; choose both on labelled images, "
                        "see benchmarks/instances.py)")
    p.add_argument("--backend", choices=BACKENDS, default="numpy")
    p.set_defaults(func=run_predict)


def image_files(inputs):
    """The image files named by `inputs` (files, or folders: their visible PNG/TIFF files);
    two files that would give the same output name are refused, naming both."""
    from minimal_unet.data.readers import list_images

    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise CLIError(f"{path}: no PNG or TIFF images in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CLIError(f"{path}: no such file or folder")
    by_stem = {}
    for f in files:
        if f.stem in by_stem and by_stem[f.stem].resolve() != f.resolve():
            raise CLIError(f"{by_stem[f.stem]} and {f}: both would be written as "
                           f"'{f.stem}.png'; expected unique file names (stems)")
        by_stem.setdefault(f.stem, f)
    return list(by_stem.values())


def load_model(path, backend):
    from minimal_unet.model import UNet

    if not Path(path).is_file():
        raise CLIError(f"{path}: no such model file")
    try:
        return UNet.load(path, backend=backend)
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise CLIError(f"{path}: cannot load the model ({one_line(error)})") from error


def read_image(path):
    from minimal_unet.data.readers import read_array, to_float_image

    return to_float_image(read_array(path), source=str(path))  # (H, W) float32, finite


def run_predict(args):
    import tifffile
    from PIL import Image

    from minimal_unet.infer import predict_proba_tiled, prepare_image, tile_geometry
    from minimal_unet.instances import seeded_watershed
    from minimal_unet.memory import keep_freed_memory

    net = load_model(args.model, args.backend)
    files = image_files(args.inputs)
    out = Path(args.out) if args.out else fresh_default(DEFAULT_OUT)
    check_out_folder(out)
    masks = [out / "masks" / f"{f.stem}.png" for f in files]
    maps = [out / "probabilities" / f"{f.stem}.tif" for f in files]
    objects = ([out / "objects" / f"{f.stem}.tif" for f in files]
               if args.seed_threshold is not None else [])
    folders = [out / "masks", out / "probabilities"] + ([out / "objects"] if objects else [])
    refuse_into_inputs([*folders, *masks, *maps, *objects], [*args.inputs, args.model])
    if not args.overwrite:
        refuse_existing([*masks, *maps, *objects])
    if objects and net.config.n_classes != 2:
        raise CLIError(f"--seed-threshold: expected a two-class model, {args.model} has "
                       f"{net.config.n_classes} classes")
    if objects and args.seed_threshold < args.threshold:
        raise CLIError(f"--seed-threshold: expected a value >= --threshold "
                       f"({args.threshold}), got {args.seed_threshold}")
    if args.tile_size is not None:
        tile_geometry(net.config, args.tile_size)  # ValueError naming the nearest legal
    if net.config.in_channels != 1:
        raise CLIError(f"{args.model}: the net expects {net.config.in_channels} channels; "
                       f"predict reads grey (or RGB averaged to grey) images")
    for f in files:  # every input readable and finite before the first prediction
        read_image(f)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    keep_freed_memory()  # every tile allocates the same arrays again (memory.py)
    two = net.config.n_classes == 2
    for i, (f, mask_path, map_path) in enumerate(zip(files, masks, maps)):
        image = read_image(f)
        x = prepare_image(net, image)  # (H, W): as in training (net.input_offset)
        del image
        probs = predict_proba_tiled(net, x, tile_size=args.tile_size, flips=args.flips,
                                    normalize=False, classes=[1] if two else None)
        del x
        if two:
            prob_map = probs[0]  # (H, W) P(class 1)
            mask = (prob_map >= args.threshold).astype(np.uint8)
            foreground = float(np.count_nonzero(mask)) / mask.size
            mask *= 255
        else:
            prob_map = probs  # (K, H, W)
            mask = np.argmax(probs, axis=0).astype(np.uint8)
            foreground = float(np.count_nonzero(mask)) / mask.size
        Image.fromarray(mask).save(mask_path)
        tifffile.imwrite(map_path, prob_map.astype(np.float32, copy=False))
        counted = ""
        if objects:
            ids = seeded_watershed(prob_map, args.threshold, args.seed_threshold)  # (H, W)
            n_objects = int(ids.max(initial=0))
            small = np.uint16 if n_objects <= np.iinfo(np.uint16).max else np.int32
            tifffile.imwrite(objects[i], ids.astype(small))
            counted = f", {n_objects} objects"
        print(f"{f}: {mask.shape[0]}x{mask.shape[1]}, foreground {foreground:.3f}{counted} "
              f"-> {mask_path}")
        del probs, prob_map, mask
    return 0
