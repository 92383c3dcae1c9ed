"""A ceiling for "tell the net the kind of picture": the TRUE kind as a second input channel.

    OPENBLAS_NUM_THREADS=1 MINIMAL_UNET_THREADS=1 python \
        benchmarks/results/dsb_kind_oracle_2026-12-06/kind_oracle.py \
        DATA/dsb2018-nuclei RECIPE SEED STEPS OUT.json

The DSB masks follow two edge conventions: on the crowded pictures (nuclei >= 20 % of
the pixels) they start at the foot of a soft ramp, elsewhere on the image's edge
(../dsb_postprocess_2026-12-05/). Every loss weighting tried moved along one IoU /
instance-Rand trade-off, and no statistic of the grey values told the kinds apart
(../dsb_oracles_2026-12-06/kind_rule.py). This script asks whether the net could keep
the two conventions apart if it KNEW the kind: each image gets a second, constant input
channel, +1 on a crowded picture and -1 elsewhere, the kind read from its MASK, on the
training and on the validation images alike. That reads the validation labels, so the
result is a ceiling for any kind predicted from the image, not a result.

Everything else is recipe_run.run_recipe unchanged (same sampler, augmentation, loss,
optimiser, schedule, evaluation), with three patches in this process only: the recipe's
UNetConfig gets in_channels=2, the normaliser appends the kind channel to each image it
normalises, and the grey-value augmentation acts on the image channel alone (its random
draws unchanged). Writes OUT.json: {"recipe", "seed", "steps", "final", "curve"}, and
the trained net as OUT.npz; refuses to start if either exists.
"""

import dataclasses
import importlib
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet import recipe_run  # noqa: E402
from minimal_unet.recipes import get_recipe, unet_config  # noqa: E402

# the module (minimal_unet.data exports its function `augment` under the same name)
augment = importlib.import_module("minimal_unet.data.augment")

CROWDED_SHARE = 0.2  # nuclei >= 20 % of the pixels: a crowded picture


def kind_of(sample):
    """+1.0 for a crowded picture, -1.0 otherwise, from the sample's mask."""
    return 1.0 if np.count_nonzero(sample.mask) >= CROWDED_SHARE * sample.mask.size else -1.0


def patch(samples):
    """Install the three patches; the kinds are looked up by the image's bytes."""
    kinds = {np.asarray(s.image).tobytes(): kind_of(s) for s in samples}
    plain_normalizer = recipe_run.make_normalizer
    plain_gray = augment.gray_value_variation

    def make_normalizer(recipe, train_samples):
        normalize = plain_normalizer(recipe, train_samples)

        def with_kind(image):
            x = normalize(image)  # (H, W) float64
            kind = kinds[np.asarray(image).tobytes()]
            return np.stack([x, np.full(x.shape, kind)])  # (2, H, W)
        return with_kind

    def gray_image_channel(image, rng, **kwargs):
        if image.ndim == 2:
            return plain_gray(image, rng, **kwargs)
        out = image.copy()
        out[0] = plain_gray(image[0], rng, **kwargs)
        return out

    recipe_run.make_normalizer = make_normalizer
    recipe_run.unet_config = lambda recipe: dataclasses.replace(unet_config(recipe),
                                                                in_channels=2)
    augment.gray_value_variation = gray_image_channel


def main(data, recipe_name, seed, steps, out):
    out = Path(out)
    for path in (out, out.with_suffix(".npz")):  # the metrics and the trained model
        if path.exists():
            raise SystemExit(f"{path}: exists; not overwritten")
    train, val = recipe_run.load_split(data, "dsb2018")
    patch(train + val)
    print(f"crowded: {sum(kind_of(s) > 0 for s in train)} of {len(train)} training, "
          f"{sum(kind_of(s) > 0 for s in val)} of {len(val)} validation pictures", flush=True)
    run = recipe_run.run_recipe(get_recipe(recipe_name), train, val, seed=int(seed),
                                steps=int(steps), eval_every_minutes=1e9)
    record = {k: run[k] for k in ("recipe", "seed", "steps", "final", "curve")}
    out.write_text(json.dumps(record, indent=1, default=float))
    run["net"].save(out.with_suffix(".npz"))
    print(json.dumps(run["final"]), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
