"""The labels' offset from their images, measured without a net (minimal_unet/data/offset.py:
the cross-correlation of each standardised image with its standardised mask over integer
shifts of -3..3 px, its peak refined by a parabola on each axis), for the training and the
validation pairs of both data sets, with the central 5 x 5 of the correlation. Prints only.

    python benchmarks/results/isbi_offset_2026-12-06/label_offset.py DATASETS
"""

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet.data.offset import correlation, label_offset  # noqa: E402
from minimal_unet.recipe_run import load_split  # noqa: E402


def main(datasets):
    np.set_printoptions(precision=4, suppress=True)
    for dataset, folder in (("isbi2012", "isbi2012-em"), ("dsb2018", "dsb2018-nuclei")):
        train, val = load_split(Path(datasets) / folder, dataset)
        for name, samples in (("training", train), ("validation", val)):
            dy, dx = label_offset(samples)
            print(f"{dataset} {name} ({len(samples)} pairs): the mask at (y, x) matches the "
                  f"image at (y + {dy:.3f}, x + {dx:.3f})")
            print("  correlation, rows dy = -2..2, columns dx = -2..2:")
            print("  " + str(correlation(samples)[1:6, 1:6]).replace("\n", "\n  "))


if __name__ == "__main__":
    main(sys.argv[1])
