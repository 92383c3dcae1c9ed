"""A threshold per kind of picture, the kind read from the image alone, chosen on training.

    python benchmarks/results/dsb_oracles_2026-12-06/kind_rule.py \
        DATA/dsb2018-nuclei RUN_FOLDER RECIPE

Kind: an image is "crowded" when its share of pixels above its Otsu threshold (a
statistic of the grey values, no labels), or its share of P >= 0.5, reaches a cut. The
crowded images are scored at a lower threshold t, the others at 0.5. The feature, cut
and t are chosen on the 80 TRAINING images (the lowest mean instance Rand whose mean IoU
is not below 0.5's) and then applied to validation. Objects: components of the
thresholded map (recipe_run.score). Prints only.
"""

import sys
from pathlib import Path

import numpy as np
from skimage.filters import threshold_otsu

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet import metrics, thresholds  # noqa: E402
from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402

LEVELS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
FEATURES = ("Otsu share", "share of P >= 0.5")
CUTS = np.round(np.arange(0.05, 0.5, 0.01), 2)


def table(net, samples, normalize):
    """(n, len(LEVELS), 2) instance Rand and IoU; (n, 3) Otsu share, P share, true share."""
    out, feat = np.empty((len(samples), len(LEVELS), 2)), np.empty((len(samples), 3))
    for k, (p, s) in enumerate(zip(predict(net, samples, normalize), samples)):
        image = s.image.astype(np.float64)
        feat[k] = ((image > threshold_otsu(image)).mean(), (p >= 0.5).mean(),
                   (s.mask > 0).mean())
        for j, t in enumerate(LEVELS):
            fg = p >= t
            out[k, j] = (metrics.adapted_rand_error(
                thresholds.foreground_segments(fg.astype(np.int64)), s.instances)[0],
                metrics.foreground_iou(fg, s.mask > 0))
    return out, feat


def ruled(out, feat, f, cut, j):
    """Mean (instance Rand, IoU) with LEVELS[j] on the images whose feature f >= cut."""
    crowded = feat[:, f] >= cut
    at_half = out[:, LEVELS.index(0.5)]
    return np.where(crowded[:, None], out[:, j], at_half).mean(axis=0), int(crowded.sum())


def main(data, run_folder, recipe_name):
    train, val = load_split(data, "dsb2018")
    net = UNet.load(Path(run_folder) / "model.npz")
    normalize = make_normalizer(get_recipe(recipe_name), train)
    (tr, ftr), (va, fva) = table(net, train, normalize), table(net, val, normalize)
    for name, feat in (("train", ftr), ("val", fva)):
        crowded = feat[:, 2] >= 0.2
        print(f"{name}: Otsu share of the images with nuclei >= 20 %:",
              np.round(np.sort(feat[crowded, 0]), 2), "; the others' largest:",
              np.round(np.sort(feat[~crowded, 0])[-5:], 2))
    half = LEVELS.index(0.5)
    floor = tr[:, half, 1].mean() - 1e-12
    rules = [(f, cut, j) for f in range(len(FEATURES)) for cut in CUTS
             for j in range(len(LEVELS)) if ruled(tr, ftr, f, cut, j)[0][1] >= floor]
    f, cut, j = min(rules, key=lambda rule: ruled(tr, ftr, *rule)[0][0])
    (r_tr, i_tr), _ = ruled(tr, ftr, f, cut, j)
    (r_va, i_va), n_va = ruled(va, fva, f, cut, j)
    print(f"{run_folder}: instance Rand / IoU")
    print(f"0.5 everywhere: train {tr[:, half, 0].mean():.3f} / {tr[:, half, 1].mean():.3f}, "
          f"val {va[:, half, 0].mean():.3f} / {va[:, half, 1].mean():.3f}")
    print(f"chosen on train: {FEATURES[f]} >= {cut:.2f} -> threshold {LEVELS[j]}: train "
          f"{r_tr:.3f} / {i_tr:.3f}, val {r_va:.3f} / {i_va:.3f} ({n_va} val images ruled "
          "crowded)")


if __name__ == "__main__":
    main(*sys.argv[1:4])
