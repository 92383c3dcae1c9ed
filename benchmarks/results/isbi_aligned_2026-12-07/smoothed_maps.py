"""ISBI 2012: does smoothing the 8-fold probability map before the threshold lower the
paper's-way pixel error? The model of `isbi-adam-aligned` seed 1, two hours by the clock
(`--tag 120min_aligned`); its 8-fold maps of the 25 training and 5 validation slices,
each smoothed by a Gaussian of sigma 0-2 px (reflected at the edges), then the threshold
best on the TRAINING slices (0.200, 0.225, .., 0.700) applied to validation; beside it,
for the record only, the threshold best on validation itself. Prints only.

    python benchmarks/results/isbi_aligned_2026-12-07/smoothed_maps.py DATA/isbi2012-em \
        runs/real_data/real_data_isbi2012_isbi-adam-aligned_seed1_120min_aligned/model.npz
"""

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402

THRESHOLDS = np.round(np.arange(0.2, 0.71, 0.025), 3)
SIGMAS = (0, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def pixel_error(probs, samples, t):
    """Mean over slices of the fraction of pixels called wrong at threshold t."""
    return float(np.mean([np.mean((p >= t) != (s.mask > 0)) for p, s in zip(probs, samples)]))


def main(data, model):
    train, val = load_split(data, "isbi2012")
    net = UNet.load(model)
    normalize = make_normalizer(get_recipe("isbi-adam-aligned"), train)
    maps = (predict(net, train, normalize, flips=True), predict(net, val, normalize, flips=True))
    for sigma in SIGMAS:
        smooth = [[p if sigma == 0 else ndimage.gaussian_filter(p, sigma, mode="reflect")
                   for p in part] for part in maps]
        on_train = [pixel_error(smooth[0], train, t) for t in THRESHOLDS]
        on_val = [pixel_error(smooth[1], val, t) for t in THRESHOLDS]
        i, j = int(np.argmin(on_train)), int(np.argmin(on_val))
        print(f"sigma {sigma}: train best t {THRESHOLDS[i]} train {on_train[i]:.5f} -> val "
              f"{on_val[i]:.5f} | val best t {THRESHOLDS[j]} {on_val[j]:.5f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
