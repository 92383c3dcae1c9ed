"""Where the image's edge lies against the DSB masks' edge, crowded vs sparse pictures
(a record, not a tool; no model).

    python benchmarks/results/dsb_postprocess_2026-12-05/margins.py DATA/dsb2018-nuclei

For each training and validation image: the gradient magnitude of the image (grey,
normalised by its mean and std, Gaussian sigma 1, Sobel) and its grey value, averaged
over bands of signed distance to the mask's edge (d = 1 is the mask's outermost pixel,
d = 0 the first background pixel outside, negative farther out). If the annotators drew
the nuclei's visible edge, the gradient peaks at d = 0 or 1; a peak at d = 3 says the
masks reach 2 px beyond what the picture shows. Printed per group: crowded pictures
(nuclei >= 20 % of the pixels) and the others, the mean profiles and how many images
peak at each d; then the share of training steps the crowded training pictures get at
each TrainConfig.sample_power of recipe dsb-adam-crowded. Prints only.
"""

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from minimal_unet.recipe_run import load_split  # noqa: E402
from minimal_unet.train import TrainConfig, sampling_odds  # noqa: E402

BANDS = np.arange(-4, 7)  # signed distance, -4 .. 6


def profile(sample):
    """(mean gradient magnitude, mean normalised grey value) at each distance in BANDS."""
    image = np.asarray(sample.image, dtype=np.float64)
    image = (image - image.mean()) / (image.std() + 1e-12)
    smooth = ndimage.gaussian_filter(image, 1.0)
    grad = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1))
    mask = sample.mask > 0
    signed = np.where(mask, ndimage.distance_transform_edt(mask),
                      1 - ndimage.distance_transform_edt(~mask)).round()  # (H, W)
    bands = [signed == d for d in BANDS]
    return (np.array([grad[b].mean() if b.any() else np.nan for b in bands]),
            np.array([smooth[b].mean() if b.any() else np.nan for b in bands]))


def main(data):
    train, val = load_split(data, "dsb2018")
    groups = {"crowded (nuclei >= 20 %)": [], "others": []}
    for s in [*train, *val]:
        key = "crowded (nuclei >= 20 %)" if np.mean(s.mask > 0) >= 0.2 else "others"
        groups[key].append(profile(s))  # (gradient, intensity) by d
    print("signed distance d: " + " ".join(f"{d:6d}" for d in BANDS))
    for name, rows in groups.items():
        grads, levels = np.array([g for g, _ in rows]), np.array([v for _, v in rows])
        peaks = BANDS[np.nanargmax(grads, axis=1)]
        counts = ", ".join(f"d {d}: {np.count_nonzero(peaks == d)}" for d in np.unique(peaks))
        print(f"{name}, {len(rows)} images, mean by d of the gradient, then of the "
              f"normalised grey value (nuclei may be darker or brighter):")
        for table in (grads, levels):
            print("                   " + " ".join(f"{v:6.3f}" for v in np.nanmean(table, 0)))
        print(f"  images whose gradient peaks at: {counts}")
    crowded = np.array([np.mean(s.mask > 0) >= 0.2 for s in train])
    prepared = [(None, s.mask, None) for s in train]  # sampling_odds reads the masks only
    for power in (0.0, 0.5, 1.0):
        odds = sampling_odds(prepared, TrainConfig(sample_power=power))
        share = crowded.mean() if odds is None else odds[crowded].sum()
        print(f"sample_power {power:g}: the {crowded.sum()} crowded of {len(train)} training "
              f"pictures are picked in {100 * share:.1f} % of the steps")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    raise SystemExit(main(sys.argv[1]))
