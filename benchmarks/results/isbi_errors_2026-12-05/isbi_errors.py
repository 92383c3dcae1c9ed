"""One-off analysis (2026-12-05): where an ISBI model's wrong pixels lie.

For each validation slice (25-29) and the first five training slices, the model's 0.5
mask against the labels: the share of all pixels that are wrong at taxicab distance
1, 2, ..., 5 and > 5 from the nearest pixel of the other class (1: right at a label
boundary), the two kinds of error, and pixel error at a few thresholds. One covering
tile per image, no flips (recipe_run.predict). Run from the repository root:
    python benchmarks/results/isbi_errors_2026-12-05/isbi_errors.py DATA/isbi2012-em \
        runs/real_data/real_data_isbi2012_isbi-adam-half-balance_seed0_35min/model.npz
Output in output.txt here (the model file itself is not committed, as no run's is).
"""
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root

from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402

train, val = load_split(sys.argv[1], 'isbi2012')
recipe = get_recipe('isbi-adam-half-balance')
norm = make_normalizer(recipe, train)
for run in sys.argv[2:]:
    net = UNet.load(run)
    for part, samples in (("val", val), ("train", train[:5])):
        probs = predict(net, samples, norm)
        tot = np.zeros(6)
        n = fp = fn = 0
        err_t = {t: 0 for t in (0.3, 0.35, 0.4, 0.5, 0.6)}
        for p, s in zip(probs, samples):
            m = np.asarray(s.mask) > 0
            # distance of each pixel to the nearest pixel of the other class (1 = touching boundary)
            d = np.where(m, ndi.distance_transform_cdt(m, metric='taxicab'),
                         ndi.distance_transform_cdt(~m, metric='taxicab'))
            pred = p >= 0.5
            wrong = pred != m
            for k in range(1, 6):
                tot[k - 1] += np.sum(wrong & (d == k))
            tot[5] += np.sum(wrong & (d > 5))
            fp += np.sum(pred & ~m)  # membrane called cell
            fn += np.sum(~pred & m)  # cell called membrane
            n += m.size
            for t in err_t:
                err_t[t] += np.sum((p >= t) != m)
        print(run, part, f"pixel err {tot.sum()/n:.4f}; by distance 1..5,>5:",
              " ".join(f"{v/n:.4f}" for v in tot),
              f"| cell-called-membrane {fn/n:.4f} membrane-called-cell {fp/n:.4f}",
              "| by threshold", {t: round(float(v / n), 4) for t, v in err_t.items()}, flush=True)
