"""A DSB model's instance adapted Rand error / foreground IoU at thresholds above 0.5,
everywhere, and only on the images whose 0.5 mask covers under 20 % (the crowded-looking
ones kept at 0.5), on the training and the validation images.

    python benchmarks/results/dsb_rim_only_2026-12-06/thresholds.py \
        DATA/dsb2018-nuclei RUN_FOLDER RECIPE

Objects: connected components of the thresholded map (the study's scoring,
recipe_run.score). Predicts with RUN_FOLDER/model.npz (one covering tile, no flips).
Prints only; the validation rows read the validation truth, so they show where the
trade-off lies, they choose nothing.
"""

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet import metrics, thresholds  # noqa: E402
from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402

LEVELS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def table(net, samples, normalize):
    """(n_images, len(LEVELS), 2) instance Rand and IoU, and each image's share at 0.5."""
    probs = predict(net, samples, normalize)
    out, share = np.empty((len(samples), len(LEVELS), 2)), np.empty(len(samples))
    for i, (p, s) in enumerate(zip(probs, samples)):
        share[i] = (p >= 0.5).mean()
        for j, t in enumerate(LEVELS):
            pred = (p >= t).astype(np.int64)
            out[i, j] = (metrics.adapted_rand_error(thresholds.foreground_segments(pred),
                                                    s.instances)[0],
                         metrics.foreground_iou(pred > 0, s.mask > 0))
    return out, share


def main(data, run_folder, recipe_name):
    train, val = load_split(data, "dsb2018")
    net = UNet.load(Path(run_folder) / "model.npz")
    normalize = make_normalizer(get_recipe(recipe_name), train)
    print(f"{run_folder}: instance Rand / IoU, means over images")
    for name, samples in (("train", train), ("val", val)):
        out, share = table(net, samples, normalize)
        print(name, "everywhere:", "  ".join(f"{t}: {out[:, j, 0].mean():.3f} / "
                                             f"{out[:, j, 1].mean():.3f}"
                                             for j, t in enumerate(LEVELS)))
        crowded = share >= 0.2
        mixed = ["  ".join(f"{t}: {m[:, 0].mean():.3f} / {m[:, 1].mean():.3f}"
                           for t, m in ((t, np.where(crowded[:, None], out[:, 0], out[:, j]))
                                        for j, t in enumerate(LEVELS)))]
        print(f"{name} 0.5 on the {crowded.sum()} images whose 0.5 mask covers >= 20 %, the "
              f"level elsewhere:", *mixed)


if __name__ == "__main__":
    main(*sys.argv[1:4])
