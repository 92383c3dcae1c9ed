"""Missed and false nucleus pixels of dsb-adam-balance seed 0 (per-image class term,
power 1) on the training images, crowded (nuclei >= 20 % of the pixels) vs sparse.

    python benchmarks/results/dsb_misses_2026-12-04/false_foreground.py DATA/dsb2018-nuclei

Prints only. The run folder is runs/real_data/real_data_dsb2018_dsb-adam-balance_seed0.
"""

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402


def main(data):
    train, _ = load_split(data, "dsb2018")
    run = REPO / "runs/real_data/real_data_dsb2018_dsb-adam-balance_seed0/model.npz"
    probs = predict(UNet.load(run), train, make_normalizer(get_recipe("dsb-adam-balance"), train))
    groups = {"crowded (>= 20 %)": [], "sparse (< 20 %)": []}
    for s, p in zip(train, probs):
        nuclei = np.asarray(s.mask) > 0
        called = p >= 0.5
        key = "crowded (>= 20 %)" if nuclei.mean() >= 0.2 else "sparse (< 20 %)"
        groups[key].append(((called & ~nuclei).sum() / nuclei.sum(),
                            (~called & nuclei).sum() / nuclei.sum()))
    for key, rows in groups.items():
        false, missed = np.mean(rows, axis=0)
        print(f"{key}: {len(rows)} images, false nucleus pixels / true {false:.3f}, "
              f"missed {missed:.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
