"""The labels' offset per image, beside the pooled one: is one offset per data set enough?

`data/offset.label_offset` measured on each training and validation pair alone
(ISBI 2012: every slice; DSB 2018: percentiles over the images), then on each split pooled
(what `align_labels` uses). A small spread says one offset per data set is all there is to
remove; a wide one would call for aligning each training pair by its own. Prints only.

    python benchmarks/results/isbi_aligned_2026-12-07/per_image_offset.py DATASETS_DIR
"""

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet.data.offset import label_offset  # noqa: E402
from minimal_unet.recipe_run import load_split  # noqa: E402

FOLDERS = {"isbi2012": "isbi2012-em", "dsb2018": "dsb2018-nuclei"}


def per_image(samples):
    """(n, 2) offsets, NaN where an image's peak lies on the window's edge."""
    offsets = []
    for sample in samples:
        try:
            offsets.append(label_offset([sample]))
        except ValueError:
            offsets.append((np.nan, np.nan))
    return np.array(offsets)


def main(datasets):
    for dataset, folder in FOLDERS.items():
        train, val = load_split(Path(datasets) / folder, dataset)
        for name, samples in (("train", train), ("val", val)):
            o = per_image(samples)
            print(f"{dataset} {name} ({len(samples)} pairs): pooled "
                  f"{np.round(label_offset(samples), 3).tolist()}, per image mean "
                  f"{np.round(np.nanmean(o, 0), 3).tolist()} std "
                  f"{np.round(np.nanstd(o, 0), 3).tolist()}, peak on the window's edge "
                  f"{int(np.isnan(o[:, 0]).sum())}", flush=True)
            if dataset == "isbi2012":
                print(f"  dy {np.round(o[:, 0], 2).tolist()}\n  dx {np.round(o[:, 1], 2).tolist()}")
            else:
                for axis, label in ((0, "dy"), (1, "dx")):
                    pct = np.nanpercentile(o[:, axis], [5, 25, 50, 75, 95])
                    print(f"  {label} percentiles 5/25/50/75/95: {np.round(pct, 2).tolist()}")


if __name__ == "__main__":
    main(sys.argv[1])
