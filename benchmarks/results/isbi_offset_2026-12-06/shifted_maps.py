"""ISBI 2012: are the 2-hour model's maps aligned with the labels? The seed-0 model of
`isbi-adam-half-balance` (`--tag 120min_zen5`) predicts the 5 validation slices and the
first 5 training slices, without flips and 8-fold averaged; each map is then moved by
(dy, dx) and its pixel error taken against the labels (q[y, x] = p[y + dy, x + dx]):
    1. whole pixels, dy, dx in -1, 0, 1, thresholds 0.4 and 0.5, a 2 px frame left out;
    2. sub-pixel moves (linear interpolation), dy -0.25 .. 1 and dx -0.5 .. 0.75 in steps
       of 0.25, threshold 0.4 (the paper's-way threshold of these models), a 4 px frame
       left out; the move best on the 5 training slices, applied to validation, and the
       move best on validation itself (for the record only).
A model that is aligned with its labels scores best at (0, 0). Prints only.

    python benchmarks/results/isbi_offset_2026-12-06/shifted_maps.py DATA/isbi2012-em RUNS
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

RUN = "real_data_isbi2012_isbi-adam-half-balance_seed0_120min_zen5"


def whole_pixel_table(probs, samples, t):
    """Rows dy = -1, 0, 1; columns dx = -1, 0, 1: mean pixel error, 2 px frame left out."""
    rows = []
    for dy in (-1, 0, 1):
        row = []
        for dx in (-1, 0, 1):
            err = []
            for p, s in zip(probs, samples):
                H, W = p.shape
                moved = p[2 + dy:H - 2 + dy, 2 + dx:W - 2 + dx] >= t
                err.append(np.mean(moved != (s.mask[2:H - 2, 2:W - 2] > 0)))
            row.append(np.mean(err))
        rows.append(" ".join(f"{v:.4f}" for v in row))
    return " | ".join(rows)


def sub_pixel_grid(probs, samples, t=0.4):
    """{(dy, dx): mean pixel error of the maps moved by (dy, dx)}, 4 px frame left out."""
    grid = {}
    for dy in np.arange(-0.25, 1.01, 0.25):
        for dx in np.arange(-0.5, 0.76, 0.25):
            err = []
            for p, s in zip(probs, samples):
                q = ndimage.shift(p, (-dy, -dx), order=1, mode="nearest")  # q[y] = p[y + dy]
                err.append(np.mean((q[4:-4, 4:-4] >= t) != (s.mask[4:-4, 4:-4] > 0)))
            grid[(float(dy), float(dx))] = float(np.mean(err))
    return grid


def report_moves(net, normalize, train, val, flips, label):
    """Print the whole-pixel tables and the sub-pixel summary of one model's maps
    (validation and the first 5 training slices); `label` starts each line."""
    grids = {}
    for name, samples in (("val", val), ("train5", train[:5])):
        probs = predict(net, samples, normalize, flips=flips)
        for t in (0.4, 0.5):
            print(f"{label}{name} t={t}: {whole_pixel_table(probs, samples, t)}", flush=True)
        grids[name] = sub_pixel_grid(probs, samples)
    return grids


def summary(grids):
    """The sub-pixel line: unmoved, the best move on train5 applied to val, best on val."""
    best = min(grids["train5"], key=grids["train5"].get)
    best_val = min(grids["val"], key=grids["val"].get)
    return (f"none: train5 {grids['train5'][(0.0, 0.0)]:.4f} val {grids['val'][(0.0, 0.0)]:.4f}; "
            f"best on train5 {best}: train5 {grids['train5'][best]:.4f} val "
            f"{grids['val'][best]:.4f}; best on val {best_val}: {grids['val'][best_val]:.4f}")


def main(data, runs):
    train, val = load_split(data, "isbi2012")
    net = UNet.load(Path(runs) / RUN / "model.npz")
    normalize = make_normalizer(get_recipe("isbi-adam-half-balance"), train)
    print("whole-pixel moves: rows dy = -1, 0, 1; columns dx = -1, 0, 1")
    for flips in (False, True):
        grids = report_moves(net, normalize, train, val, flips, f"flips={flips} ")
        print(f"sub-pixel moves, flips={flips}: {summary(grids)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
