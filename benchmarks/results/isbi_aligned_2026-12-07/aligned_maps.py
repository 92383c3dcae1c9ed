"""ISBI 2012: do the maps of a model trained with `align_labels` still fit the labels
better moved? The same test as `../isbi_offset_2026-12-06/shifted_maps.py` (whose functions
it uses), on models of `isbi-adam-aligned`: each predicts the 5 validation slices and the
first 5 training slices, 8-fold averaged, on images resampled by the recipe's offset; each
map is moved by (dy, dx) and scored against the labels:
    1. whole pixels, dy, dx in -1, 0, 1, thresholds 0.4 and 0.5, a 2 px frame left out;
    2. sub-pixel moves (linear interpolation), dy -0.25 .. 1 and dx -0.5 .. 0.75 in steps
       of 0.25, threshold 0.4, a 4 px frame left out.
An aligned model scores best at (0, 0); the half-balance 2-hour model, trained without the
alignment, scored best moved by (0.5, 0.25). Prints only.

    python benchmarks/results/isbi_aligned_2026-12-07/aligned_maps.py \
        DATA/isbi2012-em RUNS RUN [RUN ...]
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE.parent / "isbi_offset_2026-12-06"))

from shifted_maps import report_moves, summary  # noqa: E402

from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, make_normalizer  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402


def main(data, runs, names):
    train, val = load_split(data, "isbi2012")
    normalize = make_normalizer(get_recipe("isbi-adam-aligned"), train)  # with the shift
    for run in names:
        net = UNet.load(Path(runs) / run / "model.npz")
        print(f"{run}: 8-fold maps; whole-pixel moves, rows dy = -1, 0, 1; columns dx = -1, 0, 1")
        grids = report_moves(net, normalize, train, val, True, "  ")
        print(f"  sub-pixel moves: {summary(grids)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
