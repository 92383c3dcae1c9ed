"""Where a DSB model's 0.5 mask misses nucleus pixels, per image (a record, not a tool).

    python benchmarks/results/dsb_misses_2026-12-04/misses.py DATA/dsb2018-nuclei \
        RUN_FOLDER RECIPE

Predicts the training and validation images of the fixed split with RUN_FOLDER/model.npz
(one covering tile, no flips: the run record's scoring) and prints, per image: the
instance adapted Rand error of the components at 0.5, the share of nucleus pixels called
background, that share in depth bands of the nuclei (distance to the nearest background
pixel <= 2 px, 2-4 px, > 4 px), the share of nuclei in the image and the nucleus : background
weight ratio of the recipe's class term for that image (its own frequencies, or the training
set's when the recipe pools them). Prints only.
"""

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet import instances, metrics  # noqa: E402
from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe, train_config  # noqa: E402
from minimal_unet.train import dataset_class_weights  # noqa: E402

BANDS = ((0, 2), (2, 4), (4, np.inf))


def rows(samples, probs, power, pooled):
    for s, p in zip(samples, probs):
        ids = np.asarray(s.instances)
        nuclei = ids > 0
        missed = (p < 0.5) & nuclei
        depth = ndimage.distance_transform_edt(nuclei)
        band_rates = [missed[(depth > lo) & (depth <= hi)].sum()
                      / max(((depth > lo) & (depth <= hi) & nuclei).sum(), 1)
                      for lo, hi in BANDS]
        share = nuclei.mean()
        ratio = (pooled[1] / pooled[0] if pooled is not None  # the training set's table
                 else ((1 - share) / share) ** power)  # (n / 2 n_fg) / (n / 2 n_bg), ** power
        rand = metrics.adapted_rand_error(instances.components(p, 0.5), ids)[0]
        yield s.name, rand, missed.sum() / nuclei.sum(), band_rates, share, ratio


def main(data, run_folder, recipe_name):
    recipe = get_recipe(recipe_name)
    train, val = load_split(data, "dsb2018")
    net = UNet.load(Path(run_folder) / "model.npz")
    normalize = make_normalizer(recipe, train)
    pooled = dataset_class_weights(train, train_config(recipe))  # None: per image
    print(f"model {run_folder}, recipe {recipe_name} (balance_power {recipe.balance_power}, "
          f"balance_over {recipe.balance_over})")
    for split, samples in (("validation", val), ("training", train)):
        probs = predict(net, samples, normalize, upscale=recipe.upscale)
        table = sorted(rows(samples, probs, recipe.balance_power, pooled), key=lambda r: -r[2])
        print(f"\n{split}: {len(table)} images, sorted by the share of nucleus pixels missed")
        print("image         inst.Rand  missed  <=2px  2-4px  >4px  nuclei  weight ratio")
        for name, rand, miss, bands, share, ratio in table:
            print(f"{name:13s} {rand:9.3f} {miss:7.3f} {bands[0]:6.2f} {bands[1]:6.2f} "
                  f"{bands[2]:5.2f} {share:7.3f} {ratio:8.1f}")
        crowded = [r for r in table if r[4] >= 0.2]
        sparse = [r for r in table if r[4] < 0.2]
        for label, group in (("nuclei >= 20 %", crowded), ("nuclei < 20 %", sparse)):
            if group:
                missed = np.mean([r[2] for r in group])
                rand = np.nanmean([r[1] for r in group])
                print(f"  {label}: {len(group)} images, mean missed {missed:.3f}, "
                      f"mean instance Rand {rand:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
