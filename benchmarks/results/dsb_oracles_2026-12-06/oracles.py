"""What a perfect touching-border class, and a perfect threshold per image, would buy a DSB
model: instance adapted Rand error / foreground IoU on the validation images.

    python benchmarks/results/dsb_oracles_2026-12-06/oracles.py \
        DATA/dsb2018-nuclei RUN_FOLDER RECIPE

For each threshold t, the objects are scored two ways:
- plain: 4-connected components of P >= t (the study's scoring, recipe_run.score);
- oracle border: the TRUE touching pixels (weight_map.separate_touching, width 2, of the
  validation instances) taken out of P >= t, the components of what is left as seeds,
  grown back over P >= t by a flood of 1 - P (instances.flood). The foreground, so the
  IoU, is the same as plain's; only touching objects are cut apart, as a net with a
  perfect "touching border" class would cut them.
Then each image at its own best t of the grid, with its IoU not below its IoU at 0.5.
Per image, the plain and oracle rows of both are printed too.
Both read the validation truth: ceilings of those two levers, not results. Prints only.
Predicts with RUN_FOLDER/model.npz (one covering tile, no flips).
"""

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet import instances, metrics, thresholds  # noqa: E402
from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402
from minimal_unet.weight_map import separate_touching  # noqa: E402

LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
WAYS = ("plain", "oracle border")


def scores(prob, sample):
    """(len(LEVELS), 2 ways, 2) instance Rand and IoU of one image."""
    border = (sample.instances > 0) & (separate_touching(sample.instances, 2) == 0)
    out = np.empty((len(LEVELS), 2, 2))
    for j, t in enumerate(LEVELS):
        fg = prob >= t  # (H, W) bool
        iou = metrics.foreground_iou(fg, sample.mask > 0)
        plain = thresholds.foreground_segments(fg.astype(np.int64))
        seeds = thresholds.foreground_segments((fg & ~border).astype(np.int64))
        cut = instances.flood(seeds.astype(np.int32), 1.0 - prob, fg)
        for w, seg in enumerate((plain, cut)):
            out[j, w] = metrics.adapted_rand_error(seg, sample.instances)[0], iou
    return out


def main(data, run_folder, recipe_name):
    train, val = load_split(data, "dsb2018")
    net = UNet.load(Path(run_folder) / "model.npz")
    normalize = make_normalizer(get_recipe(recipe_name), train)
    out = np.stack([scores(p, s) for p, s in zip(predict(net, val, normalize), val)])
    at_half = LEVELS.index(0.5)
    print(f"{run_folder}: validation, instance Rand / IoU, means over {len(val)} images")
    for w, way in enumerate(WAYS):
        print(f"{way}, one t for all:", "  ".join(
            f"{t}: {out[:, j, w, 0].mean():.3f} / {out[:, j, w, 1].mean():.3f}"
            for j, t in enumerate(LEVELS)))
        best, rows = [], []
        for sample, image in zip(val, out[:, :, w]):  # (len(LEVELS), 2)
            allowed = np.flatnonzero(image[:, 1] >= image[at_half, 1] - 1e-12)
            j = allowed[np.argmin(image[allowed, 0])]
            best.append(image[j])
            rows.append(f"  {sample.name}: 0.5 {image[at_half, 0]:.3f} / {image[at_half, 1]:.3f}"
                        f", best t {LEVELS[j]} {image[j, 0]:.3f} / {image[j, 1]:.3f}")
        best = np.array(best)
        print(f"{way}, each image at its best t (IoU not below its IoU at 0.5): "
              f"{best[:, 0].mean():.3f} / {best[:, 1].mean():.3f}", *rows, sep="\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
