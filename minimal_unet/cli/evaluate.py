"""`minimal-unet evaluate`: a folder of predicted masks against label masks -> metrics.

With --objects, predicted object ids (`predict --seed-threshold`'s objects/) against
instance ids: the adapted Rand error of the objects (touching objects count apart), and
the pixel error and foreground IoU of their union, since the Rand error ignores the true
background and cannot see objects grown into it.
"""

import json
from pathlib import Path

from minimal_unet.cli._common import (
    CLIError,
    check_out_folder,
    refuse_existing,
    refuse_into_inputs,
)
from minimal_unet.cli.demo import format_metrics


def add_evaluate_parser(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="predicted masks vs label masks -> metrics JSON",
        description="Pairs files by name (stem). Masks are 0/255 or class ids. Empty masks "
                    "are legal (IoU/Dice of two empty sets = 1; see minimal_unet.metrics); "
                    "undefined metrics are written as null.")
    p.add_argument("predictions", help="folder of predicted masks (PNG/TIFF)")
    p.add_argument("labels", help="folder of label masks (PNG/TIFF)")
    p.add_argument("--out", help="metrics JSON path (default: metrics.json beside the "
                                 "PREDICTIONS folder, never inside an input folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--no-warping", action="store_true", help="skip the (slow) warping error")
    p.add_argument("--objects", action="store_true",
                   help="PREDICTIONS are object ids and LABELS instance ids (0 = background, "
                        "integer PNG/TIFF): adapted Rand error of the objects, pixel error "
                        "and IoU of their foreground")
    p.set_defaults(func=run_evaluate)


def _nan_to_null(tree):
    """Undefined metrics (NaN, e.g. the Rand error of an empty ground truth) as JSON null,
    so that the file is standard JSON."""
    if isinstance(tree, dict):
        return {k: _nan_to_null(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_nan_to_null(v) for v in tree]
    if isinstance(tree, float) and tree != tree:
        return None
    return tree


def object_ids(path):
    """(H, W) int64 ids read from an integer PNG/TIFF; a clear error for anything else."""
    import numpy as np

    from minimal_unet.data.readers import read_array

    ids = read_array(path, kind="mask")
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer) or ids.min(initial=0) < 0:
        raise CLIError(f"{path}: expected (H, W) non-negative integer object ids, got "
                       f"{ids.dtype} of shape {ids.shape}")
    return ids.astype(np.int64)


def score_objects(pred, gt):
    """Adapted Rand error of object ids against instance ids, and their foregrounds."""
    import numpy as np

    from minimal_unet import metrics

    error, precision, recall = metrics.adapted_rand_error(pred, gt)
    foreground = (pred > 0).astype(np.int64), (gt > 0).astype(np.int64)
    return {"adapted_rand_error": error, "rand_precision": precision, "rand_recall": recall,
            "pixel_error": metrics.pixel_error(*foreground),
            "foreground_iou": metrics.foreground_iou(*foreground),
            "objects": int(len(np.unique(pred[pred > 0]))),
            "true_objects": int(len(np.unique(gt[gt > 0])))}


def run_evaluate(args):
    from minimal_unet.data.readers import files_by_stem, read_array, to_classes
    from minimal_unet.metrics import evaluate
    from minimal_unet.train import mean_metrics

    preds, labels = files_by_stem(args.predictions), files_by_stem(args.labels)
    missing = sorted(set(preds) - set(labels))
    if missing:
        raise CLIError(f"{args.labels}: no label for prediction(s) {', '.join(missing[0:5])}")
    predictions = Path(args.predictions)
    out = Path(args.out) if args.out else predictions.resolve().parent / "metrics.json"
    refuse_into_inputs([out], [args.predictions, args.labels])
    if not args.overwrite:
        refuse_existing([out])
    check_out_folder(out.parent)
    read = object_ids if args.objects else (
        lambda path: to_classes(read_array(path, kind="mask"), source=str(path)))
    pairs = []
    for stem, f in preds.items():  # every pair readable and of equal shape before work
        pred, gt = read(f), read(labels[stem])
        if pred.shape != gt.shape:
            raise CLIError(f"{f}: shape {pred.shape} differs from its label {labels[stem]} "
                           f"{gt.shape}")
        pairs.append(stem)
    per_image = {}
    for stem in pairs:
        pred, gt = read(preds[stem]), read(labels[stem])
        per_image[stem] = (score_objects(pred, gt) if args.objects
                           else evaluate(pred, gt, warping=not args.no_warping))
    result = {"per_image": per_image, "mean": mean_metrics(per_image.values())}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_nan_to_null(result), indent=1))
    print(f"{len(per_image)} image(s): {format_metrics(result['mean'])}")
    print(f"wrote {out}")
    return 0
