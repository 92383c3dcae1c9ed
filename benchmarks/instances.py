"""Objects on real data: the seeded watershed (minimal_unet/instances.py) against plain
connected components, both with their thresholds chosen on the TRAINING images.

Trains nothing: it reads the models of finished runs of benchmarks/real_data.py
(--runs/<stem>/model.npz, the record --results/<stem>.json must say "finished"), predicts
the training and validation images of the fixed split (one covering tile, no flips: the
curve's probabilities; --flips for the 8-fold average), and records per seed and as the
mean over seeds the validation adapted Rand error of
- "at_0.5":      components of P >= 0.5 (the run record's scoring, recomputed here),
- "components":  components at the threshold best on the training images,
- "watershed":   seeds (P >= s) grown over P >= t, (t, s) best on the training images,
                 with the pixel error and foreground IoU of its foreground P >= t,
- "watershed_on_mask": the same over the 0.5 mask's own pixels (t = 0.5, s chosen):
                 the objects cover the thresholded mask exactly, pixel error and IoU as
                 at 0.5. The adapted Rand error ignores true background and counts
                 missed object pixels as one segment, so a low t lowers it by growing
                 the objects; this row shows what the cuts alone give.
Objects are counted as the run records count them: ISBI's cells (4-connected components
of the mask, membrane pixels ignored); DSB's nuclei by their instance ids, so touching
nuclei are separate objects. The paper scored ISBI by thresholding alone (arXiv
1505.04597, Sec. 4); the watershed rows are a post-processing the peers did not use, so
they are recorded beside the thresholded scores, never in their place.

    python benchmarks/instances.py --data PATH/isbi2012-em --dataset isbi2012 \
        --recipe isbi-adam-half-balance --seeds 0,1 --train-images 10
    python benchmarks/instances.py --data PATH/dsb2018-nuclei --dataset dsb2018 \
        --recipe dsb-adam-half-balance --seeds 0,1

Writes --results/instances_<dataset>_<recipe>[_<tag>][_flips].json / .md; an existing
file is refused unless --overwrite.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(REPO / "benchmarks"))

from real_data import FOLDERS, machine, paper_train_subset, run_stem  # noqa: E402

from minimal_unet import instances, metrics, thresholds  # noqa: E402
from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import SPLITS, load_split, make_normalizer, predict  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402

ROWS = ("at_0.5", "components", "watershed", "watershed_on_mask")


def objects_of(sample):
    """The true objects of a sample: its instance ids, else the mask's 4-connected cells."""
    if sample.instances is not None:
        return np.asarray(sample.instances)
    return thresholds.foreground_segments(sample.mask)


def run_model(args, seed):
    """The finished run's model and its record's step count; a one-line error otherwise."""
    stem = run_stem(args.dataset, args.recipe, seed, args.tag)
    record_path = Path(args.results) / f"{stem}.json"
    model_path = Path(args.runs) / stem / "model.npz"
    if not record_path.is_file() or not model_path.is_file():
        raise SystemExit(f"instances: error: expected a finished run's record {record_path} "
                         f"and model {model_path}; run benchmarks/real_data.py first")
    record = json.loads(record_path.read_text())
    if record.get("status") != "finished":
        raise SystemExit(f"instances: error: {record_path}: expected status 'finished', got "
                         f"{record.get('status')!r} (a model saved mid-run is not scored)")
    return UNet.load(model_path), record["steps"], record.get("final", {})


def score_seed(args, seed, train_samples, val_samples):
    """Validation scores of one seed's model, thresholds chosen on `train_samples`."""
    net, steps, final = run_model(args, seed)
    recipe = get_recipe(args.recipe)
    normalize = make_normalizer(recipe, train_samples)
    train_probs = predict(net, train_samples, normalize, flips=args.flips,
                          upscale=recipe.upscale)
    val_probs = predict(net, val_samples, normalize, flips=args.flips, upscale=recipe.upscale)
    val_objects = [objects_of(s) for s in val_samples]
    chosen = instances.choose(train_probs, [objects_of(s) for s in train_samples],
                              val_probs, val_objects)
    at_half = [metrics.adapted_rand_error(instances.components(p, 0.5), o)[0]
               for p, o in zip(val_probs, val_objects)]
    for row in ("watershed", "watershed_on_mask"):  # the quality of the objects' foreground
        t = chosen[row]["threshold"]
        foreground = [metrics.evaluate(p, s.mask, threshold=t, warping=False)
                      for p, s in zip(val_probs, val_samples)]
        for key in ("pixel_error", "foreground_iou"):
            chosen[row][key] = float(np.mean([f[key] for f in foreground]))
    chosen["at_0.5"] = {"validation": float(np.nanmean(at_half))}
    chosen.update(seed=seed, steps=steps, record_final=final)
    return chosen


def mean_row(per_seed):
    """Mean over seeds of each row's validation scores."""
    mean = {}
    for row in ROWS:
        keys = [k for k in per_seed[0][row] if k not in ("threshold", "seed_threshold")]
        mean[row] = {k: float(np.mean([s[row][k] for s in per_seed])) for k in keys}
    return mean


def markdown(result):
    def fmt(v):
        return f"{v:.3f}"
    lines = [f"# {result['dataset']}: objects from `{result['recipe']}` models, thresholds "
             f"chosen on training images", "",
             f"Written by `benchmarks/instances.py` on {result['date']}. Models: the finished "
             f"runs' `model.npz` ({', '.join(str(s['steps']) for s in result['seeds'])} steps);"
             f" {result['train_images']} training images choose the thresholds, the "
             f"{result['val_images']} validation images are scored; "
             f"{'8-fold flips' if result['flips'] else 'no flips'}. Objects: "
             f"{result['objects']}. Adapted Rand error of the validation images (lower is "
             f"better):", "",
             "| seed | at 0.5 | components (t) | watershed (t, s) | its pixel error / IoU | "
             "watershed on the 0.5 mask (s) | its pixel error / IoU |",
             "|---|---|---|---|---|---|---|"]

    def cells(row, seeds=None):  # the Rand error (with its thresholds), the foreground's
        rand = fmt(row["validation"]) + (f" ({seeds})" if seeds else "")
        return [rand, f"{fmt(row['pixel_error'])} / {fmt(row['foreground_iou'])}"]
    for s in result["seeds"]:
        c, w, m = s["components"], s["watershed"], s["watershed_on_mask"]
        lines.append("| " + " | ".join(
            [str(s["seed"]), fmt(s["at_0.5"]["validation"]),
             f"{fmt(c['validation'])} ({c['threshold']:g})",
             *cells(w, f"{w['threshold']:g}, {w['seed_threshold']:g}"),
             *cells(m, f"{m['seed_threshold']:g}")]) + " |")
    m = result["mean"]
    lines += ["| " + " | ".join(
        ["mean", fmt(m["at_0.5"]["validation"]), fmt(m["components"]["validation"]),
         *cells(m["watershed"]), *cells(m["watershed_on_mask"])]) + " |", "",
        "t: foreground where P >= t; s: seeds where P >= s (seeded watershed of 1 - P over "
        "the foreground; an object without a seed is kept whole). Chosen on the training "
        "images from t, s in 0.1..0.9, s >= t (on the 0.5 mask: t = 0.5, s chosen); the "
        "validation sweep is in the JSON, never chosen from. `at 0.5` is the run record's "
        "scoring. The adapted Rand error ignores true background: a low t grows every "
        "object into it at no cost there, which the pixel error and IoU columns show.", ""]
    return "\n".join(lines)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="the data set's folder")
    p.add_argument("--dataset", choices=tuple(SPLITS), default="isbi2012")
    p.add_argument("--recipe", required=True, help="the runs' recipe name")
    p.add_argument("--seeds", default="0,1", help="comma-separated seeds of finished runs")
    p.add_argument("--tag", default="", help="the runs' tag (real_data.py --tag)")
    p.add_argument("--train-images", type=int,
                   help="choose on N evenly spaced training images (default all)")
    p.add_argument("--flips", action="store_true", help="average the 8 flips/rotations")
    p.add_argument("--results", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--runs", default=str(REPO / "runs" / "real_data"))
    p.add_argument("--overwrite", action="store_true", help="replace existing result files")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        parser.error(f"--data: expected the data set's folder, got {args.data!r}")
    if (Path(args.data) / FOLDERS[args.dataset]).is_dir():  # a folder holding both sets
        args.data = str(Path(args.data) / FOLDERS[args.dataset])
    seeds = [int(s) for s in args.seeds.split(",")]
    stem = (f"instances_{args.dataset}_{args.recipe}" + (f"_{args.tag}" if args.tag else "")
            + ("_flips" if args.flips else ""))
    outputs = [Path(args.results) / f"{stem}{ext}" for ext in (".json", ".md")]
    for path in outputs:
        if path.exists() and not args.overwrite:
            parser.error(f"{path} exists; pass --overwrite to replace it")
    for seed in seeds:  # every model there before the first prediction
        run_model(args, seed)
    train_samples, val_samples = load_split(args.data, args.dataset)
    train_samples = paper_train_subset(train_samples, args.train_images)
    per_seed = []
    for seed in seeds:
        started = time.time()
        per_seed.append(score_seed(args, seed, train_samples, val_samples))
        w = per_seed[-1]["watershed"]
        print(f"seed {seed}: watershed ({w['threshold']:g}, {w['seed_threshold']:g}) Rand "
              f"{w['validation']:.4f}, components {per_seed[-1]['components']['validation']:.4f}"
              f", at 0.5 {per_seed[-1]['at_0.5']['validation']:.4f} "
              f"({time.time() - started:.0f} s)", flush=True)
    result = {"dataset": args.dataset, "recipe": args.recipe, "tag": args.tag,
              "date": time.strftime("%Y-%m-%d", time.gmtime()), "flips": args.flips,
              "train_images": len(train_samples), "val_images": len(val_samples),
              "objects": "instance ids (touching nuclei apart)" if val_samples[0].instances
              is not None else "4-connected cells of the mask (membrane ignored)",
              "machine": machine(), "seeds": per_seed, "mean": mean_row(per_seed)}
    Path(args.results).mkdir(parents=True, exist_ok=True)
    outputs[0].write_text(json.dumps(result, indent=1) + "\n")
    outputs[1].write_text(markdown(result))
    print(f"wrote {outputs[0]} and {outputs[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
