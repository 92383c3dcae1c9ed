"""ISBI 2012: how much pixel error does a second model buy? The two 2-hour models of
`isbi-adam-half-balance` (seeds 0 and 1, `--tag 120min_zen5`), each alone and their
8-fold foreground maps averaged, scored the paper's way (thresholds.score_paper_way:
each metric at the threshold best on the 25 training slices, applied to validation
slices 25-29). Also, for the record only (not the paper's way): each map's pixel error
at the threshold best on validation itself, and where the errors lie, by their distance
to the nearest pixel of the other label class (1: the pixel touches the label boundary).
Prints only.

    python benchmarks/results/isbi_offset_2026-12-06/ensemble.py DATA/isbi2012-em RUNS

RUNS: the folder holding real_data_isbi2012_<recipe>_seed<s>_<tag>/model.npz
(runs/real_data).
"""

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet import thresholds  # noqa: E402
from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402

MODELS = {  # name -> run folder (recipe, seed, tag)
    "seed0": ("isbi-adam-half-balance", 0, "120min_zen5"),
    "seed1": ("isbi-adam-half-balance", 1, "120min_zen5"),
}
SETS = [("seed0",), ("seed1",), ("seed0", "seed1")]


def boundary_distance(mask):
    """Each pixel's distance (px) to the nearest pixel of the other class (>= 1)."""
    fg = mask > 0
    return np.where(fg, ndimage.distance_transform_edt(fg),
                    ndimage.distance_transform_edt(~fg))


def main(data, runs, models=MODELS, sets=SETS):
    """Predict each model's 8-fold maps once, then score every set of `sets`."""
    train, val = load_split(data, "isbi2012")
    probs = {}
    for name, (recipe, seed, tag) in models.items():
        folder = Path(runs) / f"real_data_isbi2012_{recipe}_seed{seed}_{tag}"
        net = UNet.load(folder / "model.npz")
        normalize = make_normalizer(get_recipe(recipe), train)
        probs[name] = (predict(net, train, normalize, flips=True),
                       predict(net, val, normalize, flips=True))
        print(f"predicted {name} ({folder.name})", flush=True)
    distances = ([boundary_distance(s.mask) for s in train],
                 [boundary_distance(s.mask) for s in val])
    print("models | paper's way: t (train) -> val pixel error (train) | val at 0.5 | "
          "best t on val -> val | errors at distance 1 / 2 / >2 px (share of all pixels) at "
          "the paper's-way t, validation; training")
    for names in sets:
        tr = [np.mean([probs[n][0][i] for n in names], axis=0) for i in range(len(train))]
        va = [np.mean([probs[n][1][i] for n in names], axis=0) for i in range(len(val))]
        result = thresholds.score_paper_way(tr, [s.mask for s in train],
                                            va, [s.mask for s in val])
        pixel = result["pixel_error"]
        val_sweep = result["validation_sweep"]
        t_val, best_val = thresholds.best_threshold(val_sweep, "pixel_error")
        at_half = thresholds.value_at(val_sweep, "pixel_error", 0.5)
        shares = [" / ".join(f"{v:.5f}" for v in by_distance(p, ss, d, pixel["threshold"]))
                  for p, ss, d in ((va, val, distances[1]), (tr, train, distances[0]))]
        print(f"{'+'.join(names)} | {pixel['threshold']:.2f} -> {pixel['validation']:.5f} "
              f"({pixel['train']:.5f}) | {at_half:.5f} | {t_val:.2f} -> {best_val:.5f} | "
              f"{shares[0]}; {shares[1]}", flush=True)
    for label, ds in (("validation", distances[1]), ("training", distances[0])):
        near = sum(int((d <= 1).sum()) for d in ds) / sum(d.size for d in ds)
        print(f"{label} pixels at distance 1 (touching the label boundary): {near:.4f}")


def by_distance(probs, samples, distances, threshold):
    """Wrong pixels at `threshold` at distance 1, 2 and > 2 px from the other label class,
    each as a share of all pixels (the three add up to the pixel error)."""
    wrong = [(p >= threshold) != (s.mask > 0) for p, s in zip(probs, samples)]
    total = sum(w.size for w in wrong)
    return [sum(int((w & sel(d)).sum()) for w, d in zip(wrong, distances)) / total
            for sel in (lambda d: d <= 1, lambda d: (d > 1) & (d <= 2), lambda d: d > 2)]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
