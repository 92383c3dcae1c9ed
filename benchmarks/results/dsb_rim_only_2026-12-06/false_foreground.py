"""Where a DSB model's 0.5 mask loses foreground IoU on the validation images: false
nucleus pixels (and how many lie within 2 px of a true nucleus) against missed ones.

    python benchmarks/results/dsb_rim_only_2026-12-06/false_foreground.py \
        DATA/dsb2018-nuclei RUN_FOLDER RECIPE

Predicts the 20 validation images of the fixed split with RUN_FOLDER/model.npz (one
covering tile, no flips: the run record's scoring). Prints only.
"""

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402


def main(data, run_folder, recipe_name):
    train, val = load_split(data, "dsb2018")
    net = UNet.load(Path(run_folder) / "model.npz")
    recipe = get_recipe(recipe_name)
    probs = predict(net, val, make_normalizer(recipe, train), upscale=recipe.upscale)
    tp = fp = fn = fp_ring = 0
    rows = []
    for s, p in zip(val, probs):
        truth, called = np.asarray(s.mask) > 0, p >= 0.5
        tp_i, fp_i, fn_i = (truth & called).sum(), (~truth & called).sum(), (truth & ~called).sum()
        ring = (~truth & called & (ndimage.distance_transform_edt(~truth) <= 2)).sum()
        tp, fp, fn, fp_ring = tp + tp_i, fp + fp_i, fn + fn_i, fp_ring + ring
        rows.append((s.name, truth.mean(), tp_i / (tp_i + fp_i + fn_i), fp_i, ring, fn_i))
    print(f"{run_folder}: validation, threshold 0.5")
    print(f"pooled IoU {tp / (tp + fp + fn):.4f}; false nucleus pixels {fp} ({fp_ring} within "
          f"2 px of a true nucleus), missed {fn}, right {tp}")
    print(f"mean IoU over images {np.mean([r[2] for r in rows]):.4f}; the 8 lowest:")
    for name, share, iou, fp_i, ring, fn_i in sorted(rows, key=lambda r: r[2])[:8]:
        print(f"  {name[:12]} nuclei {share:.3f} IoU {iou:.3f} false {fp_i} (within 2 px "
              f"{ring}) missed {fn_i}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
