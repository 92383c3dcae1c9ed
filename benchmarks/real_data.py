"""Segmentation quality on real data: a named, seeded recipe for a budget, with a curve.

    # one run: the recipe, a seed, a budget (training minutes, or --steps)
    python benchmarks/real_data.py --data PATH/isbi2012-em --dataset isbi2012 \
        --recipe isbi-peers --seed 0 --minutes 35 --eval-every 5
    # a study: every recipe x every seed, one after the other, every run recorded
    python benchmarks/real_data.py --data PATH/isbi2012-em --dataset isbi2012 --study \
        --seeds 0,1 --minutes 35 [--recipes isbi-peers,isbi-paper-map] [--tag nov]
    # a smoke run of a few seconds
    python benchmarks/real_data.py --data PATH/isbi2012-em --dataset isbi2012 \
        --recipe smoke --steps 3 --paper-train-slices 2 --results /tmp/r --runs /tmp/runs

Timing runs: give the benchmark the machine (both cores) and BLAS's own kernel choice:
`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/real_data.py ...`;
the BLAS kernel and threads are recorded (threadpoolctl).

Data (--data: the data set's folder, or a folder holding isbi2012-em/ and
dsb2018-nuclei/; the fixed splits of minimal_unet/recipe_run.SPLITS):
    isbi2012  the ISBI 2012 EM layout (train/images, train/labels): sections 00-24 train,
              25-29 validation; 0 = membrane, 1 = cell
    dsb2018   images/, masks/, instances/: the first 80 stems train, the last 20 validate
Recipes: minimal_unet/recipes.py (`--list` prints them). The budget counts training
steps only; the evaluations every --eval-every minutes of training are not timed in.
Evaluations predict each image with one covering tile (recipe_run.covering_tile: the same
probabilities as the training tile would give, without computing overlaps twice).

Per run, in --results: real_data_<dataset>_<recipe>_seed<seed>[_<tag>].json / .md /
.png (the curve: pixel error, IoU, adapted Rand, warping error against training minutes,
the peers' points beside it), and in --runs/<same stem>/ the model (model.npz, saved at
every evaluation). At the end of an ISBI run (unless --no-paper-way) the scoring of the
challenge: probabilities averaged over the 8 flips/rotations, pixel and Rand error over
thresholds 0.05..0.95, each at the threshold that is best on the TRAINING slices.
A study also writes study_<dataset>[_<tag>].md / .json: every run (diverged ones too) and
the mean over seeds per recipe (benchmarks/study.py). Existing result files are never
overwritten (--overwrite); a record is rewritten after every evaluation, so a killed run
keeps its curve, and `--keep-finished` continues a stopped study (finished runs kept, the
others rerun). Every evaluation also saves the whole run (--runs/<stem>/state.npz:
net, optimiser, random generators, clock, curve), and `--resume` continues each
unfinished run from it, to the same parameters as a run never stopped: a long run (the
2-hour budget) may span several sittings, each resumed part recorded under "resumed".
The peers' numbers and their source: benchmarks/results/peers.md.
`--rescore` trains nothing: it scores finished runs' saved models the challenge's way
again and adds the metrics their records lack (the ones recorded must come out the same).
`--floors` trains nothing: it scores the labels themselves (and, with instance ids, the
labels with touching instances cut apart) to show each metric's floor, in
floors_<dataset>.md.
"""

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing
sys.path.insert(0, str(REPO / "benchmarks"))

import study  # noqa: E402
from run_report import (  # noqa: E402
    budget_words,
    check_free,
    data_label,
    finished_record,
    machine,
    run_stem,
    same_budget,
    write_run,
)

from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipe_run import (  # noqa: E402
    SPLITS,
    evaluate_paper_way,
    load_split,
    make_normalizer,
    run_recipe,
    saved_curve,
    score,
)
from minimal_unet.recipes import (  # noqa: E402
    RECIPES,
    STUDIES,
    get_recipe,
    unet_config,
    with_defaults,
)
from minimal_unet.train import TrainingDiverged  # noqa: E402
from minimal_unet.weight_map import separate_touching  # noqa: E402

# A PyTorch U-Net with the peers' recipe (class balance, lr 0.003 constant, base 32), on a
# 2-core x86-64 machine, PyTorch 2.13 CPU, measured by the project on 2026-11-25; the
# numbers and their source are in benchmarks/results/peers.md. Points of the curve.
PEERS = {
    "isbi2012": [dict(minutes=15, steps=619, pixel_error=0.142, foreground_iou=0.829,
                      adapted_rand_error=0.421),
                 dict(minutes=35, steps=1417, pixel_error=0.090, foreground_iou=0.892,
                      adapted_rand_error=0.151)],
    "dsb2018": [dict(minutes=15, steps=3106, pixel_error=0.073, foreground_iou=0.553,
                     adapted_rand_error=0.246)],
}
STATE_NAME = "state.npz"  # in --runs/<stem>/: the run's saved state, for --resume
# --data may also name a folder that holds the data sets under these names.
FOLDERS = {"isbi2012": "isbi2012-em", "dsb2018": "dsb2018-nuclei"}


# ----- one run -------------------------------------------------------------------------------

def paper_train_subset(train_samples, n):
    """n training images evenly spaced by name (all of them for n None or >= len)."""
    if n is None or n >= len(train_samples):
        return train_samples
    picks = np.linspace(0, len(train_samples) - 1, n).round().astype(int)
    return [train_samples[i] for i in picks]


def one_run(args, recipe_name, seed, split, results_dir):
    """Train one recipe with one seed; returns the record (a JSON-able dict).

    After every evaluation the model and the run's state are saved and the record so far
    is written with status "running", so a run that is killed keeps its curve up to that
    point, and --resume continues it from there."""
    recipe = get_recipe(recipe_name)
    train_samples, val_samples = split
    stem = run_stem(args.dataset, recipe_name, seed, args.tag)
    run_dir = Path(args.runs) / stem
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / STATE_NAME
    resume = args.resume and state_path.is_file()
    now = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    record = {"dataset": args.dataset, "data": data_label(args.data),
              "recipe_name": recipe_name, "seed": seed, "tag": args.tag,
              "budget": {"minutes": args.minutes, "steps": args.steps,
                         "eval_every_minutes": args.eval_every},
              "machine": machine(), "peer_curve": PEERS.get(args.dataset, []),
              "started": now, "recipe": recipe.to_dict(), "curve": [],
              "paper_train_slices": args.paper_train_slices}  # None: all of them
    record["peers"] = record["peer_curve"][-1] if record["peer_curve"] else {}
    if resume:  # the first part's record (start, machine), the curve of the saved state
        old_path = results_dir / f"{stem}.json"
        old = json.loads(old_path.read_text()) if old_path.is_file() else {}
        record.update({k: old[k] for k in ("started", "machine", "resumed") if k in old})
        record["curve"] = saved_curve(state_path)
        record.setdefault("resumed", []).append(
            {"at": now, "step": record["curve"][-1]["step"] if record["curve"] else 0,
             "machine": machine()})
    elif state_path.exists():  # an older run's state (--overwrite): never resume into it
        state_path.unlink()
    paper_way = not args.no_paper_way and (args.dataset == "isbi2012" or args.paper_way)
    print(f"{stem}: {len(train_samples)} train / {len(val_samples)} val images, recipe "
          f"{recipe}", flush=True)

    def on_eval(net, row):
        net.save(run_dir / "model.npz")
        record["curve"].append(row)
        write_run({**record, "status": "running", "steps": row["step"], "final": row},
                  results_dir, stem)
    try:
        run = run_recipe(recipe, train_samples, val_samples, seed=seed, steps=args.steps,
                         minutes=args.minutes, eval_every_minutes=args.eval_every,
                         paper_way=paper_way,
                         paper_train_samples=paper_train_subset(train_samples,
                                                                args.paper_train_slices),
                         on_eval=on_eval, state_path=state_path, resume=resume,
                         ema_decays=args.ema, log=lambda line: print(line, flush=True))
    except TrainingDiverged as error:  # a loser is kept in the record
        record.update(status="diverged", error=str(error))
        return record
    net = run.pop("net")
    net.save(run_dir / "model.npz")
    for average in run.get("ema", []):  # the weight averages beside the last weights
        average.pop("net").save(run_dir / ema_model_name(average["decay"]))
    record.update(status="finished", **run)
    record["ours"] = run["final"]  # the shape docs/make_figures.py tabulates
    record["load_average_at_end"] = list(os.getloadavg())
    return record


def ema_model_name(decay):
    """The file name of the weight average with `decay` in a run's folder."""
    return f"model_ema{decay!r}.npz"  # repr: two decays never share a name


# ----- a study -------------------------------------------------------------------------------

def study_stem(args):
    return f"study_{args.dataset}" + (f"_{args.tag}" if args.tag else "")


def write_study(records, results_dir, args):
    """study_<dataset>[_<tag>].md / .json of these run records (benchmarks/study.py)."""
    return study.write_summary(records, results_dir / study_stem(args),
                               title=f"Recipe study on {args.dataset}"
                                     + (f" ({args.tag})" if args.tag else ""),
                               dataset=args.dataset, budget_words=budget_words(args),
                               budget={"minutes": args.minutes, "steps": args.steps},
                               note=args.note, peers=PEERS.get(args.dataset, []))


def summarize(args, names, seeds, results_dir):
    """The study summary of runs recorded before (by other processes); trains nothing."""
    check_free([results_dir / f"{study_stem(args)}.md"], args.overwrite)
    records = []
    for name in names:
        for seed in seeds:
            path = results_dir / f"{run_stem(args.dataset, name, seed, args.tag)}.json"
            if not path.is_file():
                records.append({"recipe_name": name, "seed": seed, "status": "missing"})
                continue
            records.append(same_budget(json.loads(path.read_text()), path, args))
    print(f"wrote {write_study(records, results_dir, args)}")
    return 0


# ----- scoring saved models again ------------------------------------------------------------

def rescore(args, names, seeds, split, results_dir):
    """Score each finished run's saved model the challenge's way again and add to its record
    the metrics it lacks (pixel_f_error, scored since 2026-12-05); trains nothing.

    The model is the run's final one (--runs/<stem>/model.npz), so every metric recorded
    before must come out the same: a run where one differs is reported and left as it was
    (returns 1). A rescored record lists the pass under "rescored"."""
    train_samples, val_samples = split
    failures = 0
    for name in names:
        for seed in seeds:
            stem = run_stem(args.dataset, name, seed, args.tag)
            path, model = results_dir / f"{stem}.json", Path(args.runs) / stem / "model.npz"
            record = finished_record(results_dir, stem, args)
            if record is None or not model.is_file():
                print(f"{stem}: no finished record with its model ({path}, {model}); skipped")
                failures += 1
                continue
            recipe = get_recipe(name)
            knobs = {k: v for k, v in recipe.to_dict().items() if k != "note"}
            ran = {k: v for k, v in with_defaults(record["recipe"]).items() if k != "note"}
            if ran != knobs:  # a note may have been reworded since; no knob may differ
                raise SystemExit(f"real_data: error: {path} ran recipe {ran}, recipes.py "
                                 f"now says {knobs}")
            net = UNet.load(model, config=unet_config(recipe))
            # The run's own choice where its record has it (older records: the argument).
            slices = record.get("paper_train_slices", args.paper_train_slices)
            t0 = time.perf_counter()
            paper = evaluate_paper_way(net, paper_train_subset(train_samples, slices),
                                       val_samples,
                                       make_normalizer(recipe, train_samples),
                                       upscale=recipe.upscale)
            old = record.get("paper_way") or {}
            changed = [f"{metric}.{part}" for metric in old if isinstance(old[metric], dict)
                       and metric in paper for part in ("threshold", "train", "validation")
                       if part in old[metric]
                       and not np.isclose(old[metric][part], paper[metric][part],
                                          rtol=0, atol=1e-12)]
            if changed:
                print(f"{stem}: the saved model does not give the recorded scores "
                      f"({', '.join(changed)} differ); record left unchanged")
                failures += 1
                continue
            record["paper_way"] = paper
            record.setdefault("rescored", []).append(
                {"at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                 "added": sorted(set(paper) - set(old)), "seconds": time.perf_counter() - t0,
                 "paper_train_slices": slices, "machine": machine()})
            write_run(record, results_dir, stem)
            print(f"{stem}: rescored, the recorded scores reproduced; pixel_f_error "
                  f"{paper['pixel_f_error']['validation']:.4f} at threshold "
                  f"{paper['pixel_f_error']['threshold']:.2f}", flush=True)
    return 1 if failures else 0


# ----- what a perfect mask would score ------------------------------------------------------

def label_floors(samples):
    """Scores of the ground-truth mask itself, and of it with touching instances cut apart
    (weight_map.separate_touching, 1 and 2 px), against the samples: the floor of each
    metric for a net that learns the mask (or the separated mask) perfectly."""
    candidates = {"the mask itself": lambda s: s.mask}
    if all(s.instances is not None for s in samples):
        for width in (1, 2):
            candidates[f"separate_touching, {width} px"] = (
                lambda s, w=width: (separate_touching(s.instances, w) > 0).astype(np.int64))
    return {name: score([make(s).astype(np.float64) for s in samples], samples, warping=False)
            for name, make in candidates.items()}


def write_floors(args, split, results_dir):
    path = results_dir / f"floors_{args.dataset}.md"
    check_free([path], args.overwrite)
    lines = [f"# {args.dataset}: what a perfect prediction of the labels would score", "",
             "Predictions: the ground-truth mask itself, or the mask with a gap cut where "
             "two instances touch (`weight_map.separate_touching`). `adapted_rand_error` "
             "compares 4-connected foreground components with those of the mask (touching "
             "nuclei are ONE segment there); `instance_rand_error` compares them with the "
             "instance ids. Written by `benchmarks/real_data.py --floors`.", ""]
    for part, samples in zip(("train", "validation"), split):
        rows = [{"prediction": name, **{k: v for k, v in r.items() if "precision" not in k
                                        and "recall" not in k}}
                for name, r in label_floors(samples).items()]
        lines += [f"## {part} ({len(samples)} images)", "", *study.table(rows), ""]
    path.write_text("\n".join(lines))
    print("\n".join(lines))


# ----- command line --------------------------------------------------------------------------

def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="the data set's folder (e.g. .../isbi2012-em)")
    p.add_argument("--dataset", choices=tuple(SPLITS), default="isbi2012")
    p.add_argument("--recipe", help="a name from minimal_unet/recipes.py (--list)")
    p.add_argument("--seed", type=int, default=0)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="training budget in minutes")
    budget.add_argument("--steps", type=int, help="training budget in steps")
    p.add_argument("--eval-every", type=float, default=5.0,
                   help="validate every N minutes of training (default 5; 0: only at the end)")
    p.add_argument("--no-paper-way", action="store_true",
                   help="ISBI: skip the 8-fold, threshold-from-training-slices scoring")
    p.add_argument("--paper-way", action="store_true",
                   help="DSB: score the challenge's way too (ISBI always does)")
    p.add_argument("--ema", default="",
                   help="comma-separated decays (e.g. 0.999,0.9995): weight averages kept "
                        "beside the trained weights and scored at the end like them "
                        "(recipe_run.py); not with --resume")
    p.add_argument("--paper-train-slices", type=int,
                   help="choose the thresholds on N evenly spaced training slices (default all)")
    p.add_argument("--study", action="store_true", help="run --recipes x --seeds in sequence")
    p.add_argument("--recipes", help="comma-separated (default: the data set's STUDIES list)")
    p.add_argument("--seeds", default="0,1", help="comma-separated seeds of a study")
    p.add_argument("--tag", default="", help="suffix of the result file names")
    p.add_argument("--results", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--runs", default=str(REPO / "runs" / "real_data"),
                   help="models, one folder per run")
    p.add_argument("--overwrite", action="store_true", help="replace existing result files")
    p.add_argument("--keep-finished", action="store_true",
                   help="continue a stopped study: finished runs (same budget) are kept, not "
                        "rerun; unfinished ones are rerun, replacing their partial records")
    p.add_argument("--resume", action="store_true",
                   help="continue unfinished runs from their saved state (--runs/<stem>/"
                        f"{STATE_NAME}), the others as --keep-finished does")
    p.add_argument("--summarize", action="store_true",
                   help="with --study: train nothing, write the study summary from the run "
                        "records in --results (studies run in parallel processes, one seed "
                        "each); unfinished runs are listed with their status")
    p.add_argument("--note", default="", help="a line for the study summary (e.g. how a "
                                              "step budget relates to wall-clock minutes)")
    p.add_argument("--list", action="store_true", help="print the recipes and exit")
    p.add_argument("--floors", action="store_true",
                   help="score the labels themselves (no training): each metric's floor")
    p.add_argument("--rescore", action="store_true",
                   help="train nothing: score the finished runs' saved models the "
                        "challenge's way again, adding the metrics their records lack "
                        "(the recorded ones must come out the same); needs --overwrite")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for name, recipe in RECIPES.items():
            print(f"{name:20s} {recipe.note}")
        return 0
    if args.data is None or not Path(args.data).is_dir():
        parser.error(f"--data: expected the data set's folder, got {args.data!r}")
    if (Path(args.data) / FOLDERS[args.dataset]).is_dir():  # a folder holding both sets
        args.data = str(Path(args.data) / FOLDERS[args.dataset])
    if args.floors:
        Path(args.results).mkdir(parents=True, exist_ok=True)
        write_floors(args, load_split(args.data, args.dataset), Path(args.results))
        return 0
    if args.minutes is None and args.steps is None:
        parser.error("expected a budget: --minutes M or --steps N")
    try:
        args.ema = tuple(float(d) for d in args.ema.split(",") if d.strip())
    except ValueError:
        parser.error(f"--ema: expected comma-separated numbers in (0, 1), got {args.ema!r}")
    if any(not 0.0 < d < 1.0 for d in args.ema):
        parser.error(f"--ema: expected decays in (0, 1), got {args.ema}")
    if args.ema and args.resume:
        parser.error("--ema: the weight averages are not in a saved run state; not with "
                     "--resume")
    if args.study:
        names = args.recipes.split(",") if args.recipes else STUDIES[args.dataset]
        seeds = [int(s) for s in args.seeds.split(",")]
    elif args.recipe:
        names, seeds = [args.recipe], [args.seed]
    else:
        parser.error("expected --recipe NAME or --study")
    for name in names:
        if name not in RECIPES:
            parser.error(f"recipe: expected one of {sorted(RECIPES)}, got {name!r}")
    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    stems = [run_stem(args.dataset, n, s, args.tag) for n in names for s in seeds]
    if args.summarize:
        if not args.study:
            parser.error("--summarize: expected --study (the recipes and seeds to summarise)")
        return summarize(args, names, seeds, results_dir)
    if args.rescore:
        if not args.overwrite:
            raise SystemExit("real_data: error: --rescore rewrites the runs' records; pass "
                             "--overwrite as well")
        return rescore(args, names, seeds, load_split(args.data, args.dataset), results_dir)
    kept = {stem: finished_record(results_dir, stem, args) for stem in stems
            } if args.keep_finished or args.resume else {}
    todo = [stem for stem in stems if kept.get(stem) is None]
    check_free([results_dir / f"{stem}{ext}" for stem in todo for ext in (".json", ".md")]
               + [Path(args.runs) / stem / name for stem in todo
                  for name in ("model.npz", STATE_NAME, *map(ema_model_name, args.ema))]
               + ([results_dir / f"{study_stem(args)}.md"] if args.study else []),
               args.overwrite or args.keep_finished or args.resume)
    split = load_split(args.data, args.dataset)
    records = []
    for name in names:
        for seed in seeds:
            stem = run_stem(args.dataset, name, seed, args.tag)
            if kept.get(stem) is not None:
                print(f"{stem}: finished before, kept", flush=True)
                records.append(kept[stem])
                continue
            try:
                record = one_run(args, name, seed, split, results_dir)
            except Exception as error:  # keep the study going; the failure is recorded
                if not args.study:
                    raise
                traceback.print_exc()
                record = {"dataset": args.dataset, "recipe_name": name, "seed": seed,
                          "status": "failed", "error": f"{type(error).__name__}: {error}",
                          "machine": machine(), "started": "",
                          "data": data_label(args.data)}
            write_run(record, results_dir, stem)
            records.append(record)
            if args.study:  # rewritten after every run: a stopped study keeps its record
                write_study(records, results_dir, args)
    print(f"wrote {len(records)} run(s) to {results_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
