"""Per validation image: instance Rand / IoU at 0.5 of a kind-oracle model (kind_oracle.py)
beside the same recipe's model without the kind channel, and each image's share of
nuclei, of true nucleus pixels called background (missed) and of predicted nucleus
pixels that are background (false). Prints only.

    python benchmarks/results/dsb_kind_oracle_2026-12-06/per_image.py \
        DATA/dsb2018-nuclei RECIPE KIND_MODEL.npz PLAIN_RUN_FOLDER
"""

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import kind_oracle  # noqa: E402 (puts the repository on the path)

from minimal_unet import metrics, thresholds  # noqa: E402
from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import load_split, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402


def rows(net, samples, normalize):
    out = []
    for p, s in zip(predict(net, samples, normalize), samples):
        pred, true = p >= 0.5, s.mask > 0
        out.append((metrics.adapted_rand_error(
            thresholds.foreground_segments(pred.astype(np.int64)), s.instances)[0],
            metrics.foreground_iou(pred, true), (true & ~pred).sum() / max(true.sum(), 1),
            (pred & ~true).sum() / max(pred.sum(), 1)))
    return np.array(out)


def main(data, recipe_name, kind_model, plain_folder):
    train, val = load_split(data, "dsb2018")
    recipe = get_recipe(recipe_name)
    plain_normalize = kind_oracle.recipe_run.make_normalizer(recipe, train)
    plain = rows(UNet.load(Path(plain_folder) / "model.npz"), val, plain_normalize)
    kind_oracle.patch(train + val)
    kind_normalize = kind_oracle.recipe_run.make_normalizer(recipe, train)
    kind = rows(UNet.load(kind_model), val, kind_normalize)
    print("image, nuclei share, kind: instance Rand / IoU / missed / false, without -> "
          "with the kind channel")
    for s, a, b in zip(val, plain, kind):
        share = np.count_nonzero(s.mask) / s.mask.size
        print(f"{s.name} {share:.2f} {kind_oracle.kind_of(s):+.0f}: "
              + " / ".join(f"{x:.3f}" for x in a) + "  ->  "
              + " / ".join(f"{x:.3f}" for x in b))
    kinds = np.array([kind_oracle.kind_of(s) for s in val])
    for name, chosen in (("mean", kinds == kinds), ("mean, kind -1", kinds < 0),
                         ("mean, kind +1", kinds > 0)):
        print(f"{name} ({chosen.sum()} images): "
              + " / ".join(f"{x:.3f}" for x in plain[chosen].mean(0)) + "  ->  "
              + " / ".join(f"{x:.3f}" for x in kind[chosen].mean(0)))


if __name__ == "__main__":
    main(*sys.argv[1:5])
