"""DSB 2018: do averaged models (seeds, or the two ends of the IoU / instance-Rand
trade-off) move the trade-off itself? Instance adapted Rand error and foreground IoU on
the 20 validation images, means, for single models and for the mean of their foreground
probabilities, at 0.5 and at the threshold chosen on the 80 training images (the lowest
training instance Rand whose training IoU is not below that at 0.5). One covering tile,
no flips (recipe_run.predict). Prints only.

    python benchmarks/results/dsb_ensembles_2026-12-06/ensembles.py DATA/dsb2018-nuclei RUNS

RUNS: the folder holding real_data_dsb2018_<recipe>_seed<s>/model.npz (runs/real_data).
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

LEVELS = (0.2, 0.3, 0.4, 0.5, 0.6)
MODELS = {  # name -> recipe, seed
    "halo0": ("dsb-adam-crowded-rim-halo", 0), "halo1": ("dsb-adam-crowded-rim-halo", 1),
    "only0": ("dsb-adam-crowded-rim-only", 0), "only1": ("dsb-adam-crowded-rim-only", 1),
}
SETS = [("halo0",), ("halo1",), ("only0",), ("only1",), ("halo0", "halo1"),
        ("only0", "only1"), ("halo0", "halo1", "only0", "only1")]


def means(probs, samples):
    """(len(LEVELS), 2): mean instance Rand and IoU at each level."""
    out = np.zeros((len(LEVELS), 2))
    for prob, s in zip(probs, samples):
        for j, t in enumerate(LEVELS):
            fg = prob >= t
            seg = thresholds.foreground_segments(fg.astype(np.int64))
            out[j] += metrics.adapted_rand_error(seg, s.instances)[0], \
                metrics.foreground_iou(fg, s.mask > 0)
    return out / len(samples)


def main(data, runs):
    train, val = load_split(data, "dsb2018")
    probs = {}
    for name, (recipe, seed) in MODELS.items():
        net = UNet.load(Path(runs) / f"real_data_dsb2018_{recipe}_seed{seed}" / "model.npz")
        normalize = make_normalizer(get_recipe(recipe), train)
        probs[name] = (predict(net, train, normalize), predict(net, val, normalize))
        print(f"predicted {name}", flush=True)
    half = LEVELS.index(0.5)
    print("models | val at 0.5: Rand / IoU | t chosen on train | val at t: Rand / IoU")
    for names in SETS:
        tr = [np.mean([probs[n][0][i] for n in names], axis=0) for i in range(len(train))]
        va = [np.mean([probs[n][1][i] for n in names], axis=0) for i in range(len(val))]
        m_tr, m_va = means(tr, train), means(va, val)
        ok = [j for j in range(len(LEVELS)) if m_tr[j, 1] >= m_tr[half, 1]]
        j = min(ok, key=lambda k: m_tr[k, 0])
        print(f"{'+'.join(names):24s} | {m_va[half, 0]:.3f} / {m_va[half, 1]:.3f} | "
              f"{LEVELS[j]} | {m_va[j, 0]:.3f} / {m_va[j, 1]:.3f} | every level, val: "
              + " ".join(f"{t}:{m_va[k, 0]:.3f}/{m_va[k, 1]:.3f}" for k, t in enumerate(LEVELS)),
              flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
