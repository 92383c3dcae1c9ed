"""Train a named recipe on real data for a step or wall-clock budget, with a curve.

    train_s, val_s = load_split(path, "isbi2012")
    run = run_recipe(RECIPES["isbi-peers"], train_s, val_s, seed=0, minutes=35,
                     eval_every_minutes=5)
    run["curve"]   # [{"step", "minutes", "pixel_error", "foreground_iou", ...}, ...]
    run["final"]   # the same metrics at the end; run["paper_way"] if asked for

The loop is train.train's, step for step (same sampler Generator, batch, loss and
update; a test checks both give the same parameters), plus what a recipe study needs
and train.train lacks (recipes.TRAINER_EXTRAS):
- the clock: only training steps count against `minutes`; evaluations are not timed in,
  so a slow evaluation does not eat the budget. An evaluation runs after the first step
  whose training time passes each multiple of `eval_every_minutes`, and at the end.
- the schedules of `recipes.scheduled_lr` / `scheduled_momentum` over a wall-clock budget
  (set on the optimiser before every step) and "dataset" normalisation.
- stopping and resuming: with `state_path`, every evaluation saves the whole run
  (`save_run_state`), and `resume=True` continues it, step for step, as if never stopped.
- weight averages (`ema_decays`): beside the trained weights w, exponential moving averages
  a <- a + (1 - d) (w - a) after every step, one per decay d, started from the initial
  weights (Polyak averaging; the horizon is about 1 / (1 - d) steps). They never feed
  back into training; at the end each is scored as the last weights are (and the
  challenge's way too), so one run compares them with the last weights on the same
  trajectory. Not saved in the run state: a resumed run cannot have them.

Resolution (`recipe.upscale` k > 1, data/resolution.py): the net trains on every
training image at k times its resolution (`upscale_sample`: the image interpolated
linearly over pixel areas, masks and instance ids repeated k x k) and predicts on the
upscaled images; each k x k block of its probabilities is averaged back onto the original
pixel (`downscale_proba`), and everything is scored at the original resolution against
the original masks. The weight map's and augmentation's lengths (sigma, rim_sigma,
elastic_sigma) are the recipe's in original pixels, so the net sees them k times larger.

Evaluation (`evaluate`): overlap-tile probabilities of every validation image, class 1
where P >= 0.5, then pixel error, foreground IoU, adapted Rand error (4-connected
foreground components against those of the mask), warping error, and, when the data set
has instance ids, the adapted Rand error against the instances ("instance_rand_error":
touching nuclei count as separate objects there). `paper_way` adds the ISBI scoring:
8 flips/rotations averaged, thresholds chosen on the training images (thresholds.py).
"""

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from minimal_unet import checkpoint, metrics, thresholds
from minimal_unet.data.offset import label_offset, shift_image
from minimal_unet.data.readers import read_dataset, split_samples
from minimal_unet.data.resolution import downscale_proba, upscale_image, upscale_sample
from minimal_unet.infer import default_tile_size, normalize_image, predict_proba_tiled
from minimal_unet.memory import keep_freed_memory
from minimal_unet.model import UNet
from minimal_unet.recipes import (
    scheduled_lr,
    scheduled_momentum,
    train_config,
    unet_config,
    with_defaults,
)
from minimal_unet.sizes import output_size
from minimal_unet.targets import dataset_class_weights, prepare_sample, sampling_odds
from minimal_unet.train import (
    TrainingDiverged,
    make_optimizer,
    sampled_loss,
)

EVAL_MAX_TILE = 1024  # evaluation tiles up to this side (ISBI's 512 slices: one 700 tile)

# The fixed splits of the two data sets: the last n_val images by name are validation.
SPLITS = {"isbi2012": dict(layout="isbi2012", n_val=5),  # sections 25-29
          "dsb2018": dict(layout="folder", n_val=20)}  # the last 20 stems


def load_split(path, dataset):
    """(train, validation) Samples of `dataset` ("isbi2012" or "dsb2018") read from `path`."""
    if dataset not in SPLITS:
        raise ValueError(f"dataset: expected one of {sorted(SPLITS)}, got {dataset!r}")
    split = SPLITS[dataset]
    samples = read_dataset(path, layout=split["layout"])
    if len(samples) <= split["n_val"]:
        raise ValueError(f"{path}: expected more than {split['n_val']} labelled images for "
                         f"{dataset}, found {len(samples)}")
    return split_samples(samples, split["n_val"])


# ----- data --------------------------------------------------------------------------------

def make_normalizer(recipe, train_samples):
    """image (H, W) -> float64 normalised image, the same for training and inference.

    "image": each image to zero mean, unit std (infer.normalize_image); "dataset": the
    training images' pooled mean and std, x' = (x - mean) / std; "percentile": each image
    by its own percentiles, x' = (x - p_lo) / (p_hi - p_lo) with p_lo, p_hi the
    PERCENTILES below (CSBDeep's / StarDist's defaults for fluorescence): the same nucleus
    rim gets the same value in a crowded image as in a sparse one, where a mean and std
    move with the share of nuclei in the picture.
    With recipe.align_labels, each image is first resampled by the training pairs'
    label offset (data/offset.py: shift_image(image, label_offset(train_samples)), in the
    net's pixels when the recipe upscales), so its predictions come out in the labels' frame.
    """
    if recipe.normalization == "image":
        scale = lambda image: normalize_image(image, dtype=np.float64)  # noqa: E731
    elif recipe.normalization == "percentile":
        scale = normalize_percentile
    else:
        pooled = np.concatenate([np.asarray(s.image, np.float64).ravel() for s in train_samples])
        mean, std = float(pooled.mean()), float(max(pooled.std(), 1e-8))
        scale = lambda image: (np.asarray(image, np.float64) - mean) / std  # noqa: E731
    offset = input_offset(recipe, train_samples)
    if offset == (0.0, 0.0):
        return scale
    return lambda image: scale(shift_image(image, offset))


def input_offset(recipe, train_samples):
    """(dy, dx): with recipe.align_labels the training pairs' label offset (data/offset.py)
    in the net's pixels (times the recipe's upscale), else (0.0, 0.0)."""
    if not recipe.align_labels:
        return (0.0, 0.0)
    dy, dx = label_offset(train_samples)
    return (recipe.upscale * dy, recipe.upscale * dx)


PERCENTILES = (1.0, 99.8)  # "percentile" normalisation: these map to 0 and 1


def normalize_percentile(image, eps=1e-8):
    """(x - p_lo) / max(p_hi - p_lo, eps), float64; p_lo, p_hi: the image's PERCENTILES."""
    x = np.asarray(image, np.float64)
    lo, hi = np.percentile(x, PERCENTILES)
    return (x - lo) / max(hi - lo, eps)


def pixel_lengths(recipe):
    """The TrainConfig lengths (px) of a recipe at the net's resolution: the recipe's own
    (in the images' original pixels) times its upscale."""
    k = recipe.upscale
    return {"sigma": recipe.sigma * k, "rim_sigma": recipe.rim_sigma * k,
            "elastic_sigma": recipe.elastic_sigma * k}


def prepare(samples, recipe, cfg, normalize):
    """[(image float64, mask int64, weight float64)]: targets.prepare_sample of each sample
    with the recipe's `normalize` and, for cfg.balance_over "dataset", the pooled table."""
    table = dataset_class_weights(samples, cfg)  # None: the class term per image
    return [prepare_sample(s, cfg, 2, table, normalize) for s in samples]


# ----- evaluation ----------------------------------------------------------------------------

def covering_tile(config, shape):
    """The smallest legal input tile whose output covers an image of `shape` (H, W), up to
    EVAL_MAX_TILE: one tile per image where memory allows. The tiles sit on the pooling
    grid, so any legal tile gives the same probabilities (infer._predict_tiles); a
    covering tile computes no overlap twice (ISBI: one 700 tile, not four 572 ones)."""
    return default_tile_size(config, shape[0], shape[1], max_tile=EVAL_MAX_TILE)


def predict(net, samples, normalize, tile_size=None, flips=False, upscale=1):
    """[P(class 1) (H, W)] of each sample by overlap-tile prediction (8-fold with flips).

    tile_size: a legal input tile, or None for `covering_tile` of each image. upscale k:
    the net predicts on the image at k times its resolution (`upscale_image`) and each
    k x k block of its probabilities is averaged back (`downscale_proba`)."""
    probs = []
    for s in samples:
        image = normalize(upscale_image(s.image, upscale))
        prob = predict_proba_tiled(net, image, flips=flips, normalize=False,
                                   tile_size=tile_size or covering_tile(net.config, image.shape)
                                   )[1]
        probs.append(downscale_proba(prob, upscale))
    return probs


def score(probs, samples, threshold=0.5, warping=True):
    """Mean metrics of foreground probabilities against the samples' masks (and instances)."""
    rows = []
    for prob, s in zip(probs, samples):
        pred = (prob >= threshold).astype(np.int64)  # (H, W) 0/1
        row = metrics.evaluate(pred, s.mask, warping=warping)
        row = {k: v for k, v in row.items() if isinstance(v, float | int)}
        if s.instances is not None:
            seg = thresholds.foreground_segments(pred)
            row["instance_rand_error"] = metrics.adapted_rand_error(seg, s.instances)[0]
        rows.append(row)
    with np.errstate(invalid="ignore"):
        return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}


def evaluate(net, val_samples, normalize, tile_size=None, warping=True, upscale=1):
    """Validation metrics at threshold 0.5, no flips (the curve's points)."""
    return score(predict(net, val_samples, normalize, tile_size, upscale=upscale),
                 val_samples, 0.5, warping)


def evaluate_paper_way(net, train_samples, val_samples, normalize, tile_size=None,
                       flips=True, upscale=1):
    """ISBI scoring: 8-fold averaged maps, each metric at the threshold that is best on the
    TRAINING images (thresholds.score_paper_way), plus the 8-fold maps at 0.5."""
    train_probs = predict(net, train_samples, normalize, tile_size, flips, upscale)
    val_probs = predict(net, val_samples, normalize, tile_size, flips, upscale)
    segments = ([s.instances for s in train_samples], [s.instances for s in val_samples])
    if any(s.instances is None for s in (*train_samples, *val_samples)):
        segments = (None, None)
    result = thresholds.score_paper_way(
        train_probs, [s.mask for s in train_samples], val_probs, [s.mask for s in val_samples],
        train_segments=segments[0], val_segments=segments[1])
    result["flips"] = flips
    result["at_0.5"] = score(val_probs, val_samples, 0.5, warping=True)
    return result


# ----- the loop ----------------------------------------------------------------------------

def run_recipe(recipe, train_samples, val_samples, seed=0, steps=None, minutes=None,
               eval_every_minutes=5.0, paper_way=False, paper_train_samples=None,
               eval_tile_size=None, dtype=np.float32, on_eval=None, log=print,
               state_path=None, resume=False, ema_decays=()):
    """Train a fresh net with `recipe` for `steps` or `minutes` of training; returns a dict.

    Exactly one of steps / minutes. on_eval(net, row) is called after each evaluation
    (e.g. to save the model). paper_train_samples: the training images the paper-way
    thresholds are chosen on (default: all of train_samples). eval_tile_size: the
    evaluations' tile (default: `covering_tile`; the probabilities do not depend on it).
    Returns {"recipe", "seed", "steps", "train_seconds", "eval_seconds", "curve": [rows],
    "final": row, "paper_way": dict or None, "losses", "lr", "momentum": [one per step],
    "net": the trained UNet}.
    A NaN/Inf loss raises train.TrainingDiverged naming the step.
    state_path: after every evaluation the whole run (net, optimiser, random generators,
    clock, curve, per-step logs) is saved there, atomically (`save_run_state`);
    resume=True continues from that file instead of starting afresh. A resumed step
    budget ends with the very parameters of a run never stopped (tested); the clock adds
    the training time of every part, so a minutes budget counts them all.
    ema_decays: decays d in (0, 1) of weight averages scored at the end (module docstring);
    the result's "ema" is then [{"decay", "final", "paper_way", "net": a UNet holding the
    average}, ...].
    """
    ema_decays = tuple(ema_decays)
    bad = [d for d in ema_decays if not 0.0 < d < 1.0]
    if bad:
        raise ValueError(f"ema_decays: expected numbers in (0, 1), got {bad[0]!r}")
    if len(set(ema_decays)) != len(ema_decays):
        raise ValueError(f"ema_decays: expected distinct decays, got {ema_decays}")
    if resume and ema_decays:
        raise ValueError("resume: the weight averages (ema_decays) are not in the saved run "
                         "state; resume without them or start the run afresh")
    if (steps is None) == (minutes is None):
        raise ValueError(f"expected exactly one budget, got steps={steps}, minutes={minutes}")
    if (steps is not None and steps < 1) or (minutes is not None and not minutes > 0):
        raise ValueError(f"budget: expected steps >= 1 or minutes > 0, got {steps}, {minutes}")
    net = UNet(unet_config(recipe), seed=seed, dtype=dtype)
    cfg = train_config(recipe, seed=seed, steps=steps or 10**9, progress=False,
                       **pixel_lengths(recipe))
    in_size = recipe.tile_size
    out_size = output_size(net.config, in_size)
    normalize = make_normalizer(recipe, train_samples)
    net.input_offset = input_offset(recipe, train_samples)  # saved with it (model.npz)
    upscale = recipe.upscale
    prepared = prepare([upscale_sample(s, upscale) for s in train_samples], recipe, cfg,
                       normalize)
    odds = sampling_odds(prepared, cfg)  # None: uniform
    sampler_rng = np.random.default_rng(seed)  # as train.train: the one sampler Generator
    optimizer = make_optimizer(net, cfg)
    budget_seconds = None if minutes is None else 60.0 * minutes
    interval = 60.0 * eval_every_minutes if eval_every_minutes else math.inf
    next_eval = interval
    step, train_seconds, eval_seconds = 0, 0.0, 0.0
    curve, losses, lrs, momenta = [], [], [], []
    budget = {"recipe": recipe.to_dict(), "seed": seed, "steps": steps, "minutes": minutes,
              "eval_every_minutes": eval_every_minutes}
    if resume:
        clock = load_run_state(state_path, budget, net, optimizer, sampler_rng, cfg)
        step, train_seconds, eval_seconds = clock["step"], clock["train_seconds"], \
            clock["eval_seconds"]
        next_eval, curve, losses = clock["next_eval"], clock["curve"], clock["losses"]
        lrs, momenta = clock["lr"], clock["momentum"]
        while next_eval <= train_seconds:  # states saved before this was kept up to date
            next_eval += interval
        log(f"resumed from {state_path} at step {step}, {train_seconds / 60:.1f} min")
    keep_freed_memory()  # as train.train: each step reuses the pages the last one freed
    averages = {d: {name: p.copy() for name, p in net.params.items()} for d in ema_decays}

    def evaluation_row():
        nonlocal eval_seconds
        t0 = time.perf_counter()
        row = {"step": step, "minutes": train_seconds / 60.0,
               **evaluate(net, val_samples, normalize, eval_tile_size, upscale=upscale)}
        eval_seconds += time.perf_counter() - t0
        curve.append(row)
        log(f"step {step}, {row['minutes']:.1f} min: " + ", ".join(
            f"{k} {v:.4f}" for k, v in row.items() if k not in ("step", "minutes")))
        if on_eval is not None:
            on_eval(net, row)
        if state_path is not None:
            save_run_state(state_path, budget, net, optimizer, sampler_rng, cfg, {
                "step": step, "train_seconds": train_seconds, "eval_seconds": eval_seconds,
                "next_eval": next_eval, "curve": curve, "losses": losses, "lr": lrs,
                "momentum": momenta})
        return row

    while True:
        progress = step / steps if steps is not None else train_seconds / budget_seconds
        if progress >= 1.0:
            break
        t0 = time.perf_counter()
        optimizer.lr = scheduled_lr(recipe, step, progress)  # a number: this step's lr
        if hasattr(optimizer, "momentum"):
            optimizer.momentum = scheduled_momentum(recipe, step)
        loss, dlogits = sampled_loss(net, prepared, cfg, in_size, out_size, sampler_rng, odds)
        if not math.isfinite(loss):
            raise TrainingDiverged(f"recipe {recipe.name!r}, seed {seed}: loss became {loss} "
                                   f"at step {step + 1} (lr {optimizer.lr:g})")
        optimizer.step(net.backward(dlogits))
        for decay, average in averages.items():  # a <- a + (1 - d) (w - a), in place
            for name, w in net.params.items():
                average[name] += (w - average[name]) * (1.0 - decay)
        step += 1
        train_seconds += time.perf_counter() - t0
        losses.append(loss)
        lrs.append(optimizer.lr)
        momenta.append(getattr(optimizer, "momentum", None))
        if train_seconds >= next_eval:
            while next_eval <= train_seconds:  # before the row: its saved state has it
                next_eval += interval
            evaluation_row()
    final = curve[-1] if curve and curve[-1]["step"] == step else evaluation_row()
    chosen_on = train_samples if paper_train_samples is None else paper_train_samples

    def paper_score(scored):
        nonlocal eval_seconds
        if not paper_way:
            return None
        t0 = time.perf_counter()
        result = evaluate_paper_way(scored, chosen_on, val_samples, normalize, eval_tile_size,
                                    upscale=upscale)
        eval_seconds += time.perf_counter() - t0
        return result

    paper = paper_score(net)
    ema = []
    for decay, average in averages.items():
        t0 = time.perf_counter()
        averaged = UNet(net.config, seed=seed, dtype=dtype)
        averaged.input_offset = net.input_offset
        averaged.load_state_dict({name: net.ops.asnumpy(a) for name, a in average.items()})
        row = {"step": step, "minutes": train_seconds / 60.0,
               **evaluate(averaged, val_samples, normalize, eval_tile_size,
                          upscale=upscale)}
        eval_seconds += time.perf_counter() - t0
        log(f"weight average, decay {decay}: " + ", ".join(
            f"{k} {v:.4f}" for k, v in row.items() if k not in ("step", "minutes")))
        ema.append({"decay": decay, "final": row, "paper_way": paper_score(averaged),
                    "net": averaged})
    return {"recipe": recipe.to_dict(), "seed": seed, "steps": step,
            "train_seconds": train_seconds, "eval_seconds": eval_seconds,
            "seconds_per_step": train_seconds / max(step, 1),
            "train_config": dataclasses.asdict(cfg), "curve": curve, "final": final,
            "paper_way": paper, "losses": losses, "lr": lrs, "momentum": momenta,
            **({"ema": ema} if ema else {}), "net": net}


# ----- stopping and resuming a run ----------------------------------------------------------

def save_run_state(path, budget, net, optimizer, sampler_rng, cfg, clock):
    """Write everything `run_recipe` needs to continue, atomically, to `path` (.npz).

    checkpoint.training_state's checkpoint (parameters, optimiser, both random generators,
    configs), with the run's budget and clock (steps, training and evaluation seconds, the
    next evaluation's time, the curve and the per-step logs) as its "history"."""
    history = {"budget": budget, **clock}
    state = checkpoint.training_state(net, optimizer, sampler_rng, cfg, clock["step"], history)
    checkpoint.save_checkpoint(path, state)


def load_run_state(path, budget, net, optimizer, sampler_rng, cfg):
    """Load a state written by `save_run_state` into net, optimiser and sampler; returns its
    clock. The state must come from the same recipe, seed and budget: else a ValueError
    naming both sides (nothing loaded)."""
    if path is None or not Path(path).is_file():
        raise FileNotFoundError(f"resume: expected a saved run state at {path}, found none")
    state = checkpoint.load_checkpoint(path)
    saved = (state.get("history") or {}).get("budget") if isinstance(state, dict) else None
    if isinstance(saved, dict) and isinstance(saved.get("recipe"), dict):
        saved = {**saved, "recipe": with_defaults(saved["recipe"])}  # knobs added since
    if saved != budget:
        raise ValueError(f"{path}: holds a run with {saved}, this run is {budget}; resume "
                         f"with the same recipe, seed and budget")
    step, clock = checkpoint.restore_state(state, net, optimizer, sampler_rng, cfg,
                                           source=str(path))
    return {**clock, "step": step}


def saved_curve(path):
    """The curve (evaluation rows) of the run state saved at `path`."""
    return checkpoint.load_checkpoint(path)["history"]["curve"]
