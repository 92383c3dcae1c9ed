"""Training a U-Net the paper's way: one large tile per step, SGD with momentum 0.99.

    net = UNet(UNetConfig(depth=3, base_channels=16), seed=0)
    history = train(net, train_samples, val_samples, TrainConfig(steps=500, tile_size=124))

Per image, once (`targets.prepare_sample`):
    image  -> normalised to zero mean, unit std (`infer.normalize_image`, shared with
              inference so the net sees the same statistics at both times); with
              cfg.align_labels first resampled by the offset the labels have from their
              images (data/offset.py, measured on the training pairs; kept as
              net.input_offset, which inference applies too: infer.prepare_image)
    labels -> the paper's weight map w(x) (`weight_map`), from the instance ids when the
              data set has them, else from the connected components of the mask; the
              other loss weights and the odds of picking each image are in targets.py.
Per step (`sample_batch`, all randomness from ONE sampler Generator seeded by cfg.seed):
    pick an image -> augment image, mask and weight together (flips/rot90, elastic,
    grey values) -> cut a random tile with mirrored context (`random_training_tile`)
    -> forward -> weighted softmax cross-entropy -> backward -> optimiser step.
Every `val_every` steps: overlap-tile prediction of the validation images and metrics
(`validation.evaluate_samples`; the logs and figures are written by validation.py too).
Every `checkpoint_every` steps: an atomic checkpoint (see checkpoint.py) holding the
parameters, optimiser state, step, every RNG state, both configs and the history, so that
`train(..., resume=True)` continues to the very same parameters as an uninterrupted run.

Divergence is detected every step, BEFORE any checkpoint of that step is written: a NaN
or Inf loss or parameter, a loss above `diverge_loss_factor` times the run's first loss,
or a parameter norm (the L2 norm over all parameters) above `diverge_norm_factor` times
the initial one. It raises `TrainingDiverged` naming the step, the newest checkpoint
(all of whose steps passed these checks) and how to resume from it with a smaller lr.

Before the first step `train` checks everything it can: the tile size against every
image (each must hold one output window), a writable output folder, and it deletes the
stale temporary files of killed checkpoint writes there.
"""

import dataclasses
import math
import numbers
import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from minimal_unet import checkpoint, optim
from minimal_unet.data.augment import AugmentConfig, augment
from minimal_unet.data.offset import label_offset
from minimal_unet.data.tiles import random_training_tile
from minimal_unet.infer import prepare_image
from minimal_unet.memory import keep_freed_memory
from minimal_unet.sizes import output_size
from minimal_unet.targets import dataset_class_weights, prepare_sample, sampling_odds
from minimal_unet.validation import (  # all re-exported: `from minimal_unet.train import` them
    evaluate_held_out,  # noqa: F401 (read here by cli.demo)
    evaluate_samples,
    mean_metrics,  # noqa: F401 (read here by cli.evaluate)
    validation_metrics,  # noqa: F401 (read here by the notebooks)
    validation_tile,  # noqa: F401 (re-exported with the others)
    write_figures,
    write_logs,
)

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "cosine", "poly")
WEIGHT_MAPS = ("paper", "freiburg", "balanced", "none")
BALANCE_OVER = ("image", "dataset")


class TrainingDiverged(RuntimeError):
    """The loss or the parameters became non-finite or exploded; the message names the step,
    the newest (good) checkpoint and how to resume."""


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs besides the net and the data (all JSON-able)."""

    steps: int = 1000
    lr: float = 0.003  # the peers' PyTorch recipe: 0.003 (0.03 diverged)
    momentum: float = 0.99  # the paper's
    momentum_warmup_steps: int = 0  # > 0: momentum grows linearly from momentum_start
    momentum_start: float = 0.9  # ... to `momentum` over that many steps (SGD only)
    optimizer: str = "sgd"  # "sgd" (Caffe, the paper) or "adam"
    schedule: str = "constant"  # "constant", "step", "cosine" or "poly"
    step_every: int = 1000  # "step" schedule: lr *= step_drop every step_every steps
    step_drop: float = 0.1
    batch_size: int = 1  # tiles per step; the paper uses 1 large tile
    tile_size: int = 188  # input tile side; must be legal for the net
    seed: int = 0  # seeds the data sampler (image, augmentation, tile position)
    augment: bool = True
    elastic_sigma: float = 10.0  # px std of the coarse-grid displacements (paper: 10)
    elastic_grid: int = 3  # the paper's 3x3 grid
    gray_values: bool = True
    weight_map: str = "paper"  # "paper", "freiburg", "balanced" (class term only), "none"
    separate_touching: bool = False  # cut a 1 px gap where two training instances touch
    align_labels: bool = False  # resample every image by the labels' offset (data/offset.py)
    balance_power: float = 1.0  # class term of "paper"/"balanced" raised to it; 0: no balance
    balance_over: str = "image"  # class frequencies of the class term: "image" or "dataset"
    w0: float = 10.0  # paper
    sigma: float = 5.0  # paper, px
    rim_w: float = 0.0  # extra weight on object pixels at the object's edge (0: off)
    rim_sigma: float = 2.0  # px: rim_w exp(-(d - 1)^2 / (2 rim_sigma^2)), d to background
    rim_min_share: float = 0.0  # rim_w only on images with at least this object share
    halo_w: float = 0.0  # rim_term of the background: halo_w exp(-(d-1)^2/(2 rim_sigma^2))
    halo_max_share: float = 1.0  # halo_w only on images with less than this object share
    sample_power: float = 0.0  # pick images with odds (object share)^power; 0: uniform
    val_every: int = 100  # 0: only at the end
    checkpoint_every: int = 100  # 0: only at the end
    flips: bool = False  # validation: average over the 8 flips/rotations
    threshold: float = 0.5  # validation: foreground where P(1) >= threshold (2 classes)
    out_dir: str | None = None  # logs, figures, checkpoint; None writes nothing
    backend: str = "numpy"
    progress: bool = True  # tqdm progress bar
    max_seconds: float | None = None  # wall-clock budget: stop after the step that passes it
    diverge_loss_factor: float = 1e3  # diverged when loss > factor * the run's first loss
    diverge_norm_factor: float = 100.0  # ... or param norm > factor * the initial norm

    def __post_init__(self):
        choices = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "weight_map": WEIGHT_MAPS,
                   "balance_over": BALANCE_OVER}
        for field, allowed in choices.items():
            if getattr(self, field) not in allowed:
                raise ValueError(f"TrainConfig.{field}: expected one of {allowed}, "
                                 f"got {getattr(self, field)!r}")
        for field in ("steps", "batch_size", "tile_size"):
            if int(getattr(self, field)) < 1:
                raise ValueError(f"TrainConfig.{field}: expected >= 1, "
                                 f"got {getattr(self, field)}")
        positive = ("lr", "step_every", "sigma", "rim_sigma", "diverge_loss_factor",
                    "diverge_norm_factor")
        for field in positive:
            value = getattr(self, field)
            if not (_is_real(value) and math.isfinite(value) and value > 0):
                raise ValueError(f"TrainConfig.{field}: expected a finite number > 0, "
                                 f"got {value!r}")
        if int(self.momentum_warmup_steps) < 0:
            raise ValueError(f"TrainConfig.momentum_warmup_steps: expected >= 0, "
                             f"got {self.momentum_warmup_steps}")
        ranges = {"momentum": (0.0, 1.0, False), "momentum_start": (0.0, 1.0, False),
                  "step_drop": (0.0, 1.0, True),
                  "threshold": (0.0, 1.0, True), "rim_min_share": (0.0, 1.0, True),
                  "halo_max_share": (0.0, 1.0, True)}
        for field, (lo, hi, closed) in ranges.items():
            value = getattr(self, field)
            ok = (_is_real(value) and math.isfinite(value) and lo <= value
                  and (value <= hi if closed else value < hi))
            if not ok:
                bracket = "]" if closed else ")"
                raise ValueError(f"TrainConfig.{field}: expected a number in [{lo:g}, {hi:g}"
                                 f"{bracket}, got {value!r}")
        for field in ("w0", "elastic_sigma", "balance_power", "rim_w", "halo_w",
                      "sample_power"):
            value = getattr(self, field)
            if not (_is_real(value) and math.isfinite(value) and value >= 0):
                raise ValueError(f"TrainConfig.{field}: expected a finite number >= 0, "
                                 f"got {value!r}")
        if self.max_seconds is not None and not self.max_seconds >= 0:
            raise ValueError(f"TrainConfig.max_seconds: expected >= 0 or None, "
                             f"got {self.max_seconds!r}")


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# ----- data ----------------------------------------------------------------------------

def sample_batch(prepared, cfg, in_size, out_size, rng, dtype, odds=None):
    """One training batch from the prepared images, every random choice from `rng`.

    odds: `sampling_odds` (None: uniform, one rng.integers draw as always).
    Returns x (B, 1, in, in) in `dtype`, target (B, out, out) int64, weight (B, out, out).
    """
    aug = AugmentConfig(flip_rot90=True, elastic=True, elastic_grid=cfg.elastic_grid,
                        elastic_sigma=cfg.elastic_sigma, gray_values=cfg.gray_values)
    xs, ys, ws = [], [], []
    for _ in range(cfg.batch_size):
        pick = rng.integers(len(prepared)) if odds is None else rng.choice(len(prepared), p=odds)
        image, mask, weight = prepared[int(pick)]
        if cfg.augment:
            image, mask, weight = augment(image, mask, weight, rng=rng, config=aug)
        x, y, w = random_training_tile(image, mask, weight, in_size, out_size, rng)
        xs.append(x[None] if x.ndim == 2 else x)  # (1, in, in)
        ys.append(y)
        ws.append(w)
    x = np.stack(xs).astype(dtype)  # (B, 1, in, in)
    return x, np.stack(ys), np.stack(ws).astype(dtype)  # (B, out, out) each


def sampled_loss(net, prepared, cfg, in_size, out_size, rng, odds=None):
    """The first half of a step: a batch drawn by `sample_batch`, the net's forward pass
    (training mode) and the weighted softmax cross-entropy. Returns (loss as a float,
    dlogits), dlogits ready for net.backward."""
    x, target, weight = sample_batch(prepared, cfg, in_size, out_size, rng, net.dtype, odds)
    logits = net.forward(net.ops.asarray(x), train=True)
    loss, dlogits = net.ops.softmax_cross_entropy(logits, net.ops.asarray(target),
                                                  net.ops.asarray(weight))
    return float(loss), dlogits


def make_optimizer(net, cfg):
    """SGD (Caffe momentum) or Adam over net.params, with the lr schedule of cfg."""
    schedules = {
        "constant": lambda step: optim.constant(step, cfg.lr),
        "step": lambda step: optim.step_decay(step, cfg.lr, cfg.step_drop, cfg.step_every),
        "cosine": lambda step: optim.cosine(step, cfg.lr, cfg.steps),
        "poly": lambda step: optim.poly(step, cfg.lr, cfg.steps),
    }
    lr = schedules[cfg.schedule]
    if cfg.optimizer == "adam":
        return optim.Adam(net.params, lr=lr, backend=net.ops.name)
    return optim.SGD(net.params, lr=lr, momentum=cfg.momentum, backend=net.ops.name)


def parameter_norm(net):
    """The L2 norm over all parameters, as a float (inf or nan when they are)."""
    total = 0.0
    for p in net.params.values():
        total += float((p * p).sum())
    return math.sqrt(total) if math.isfinite(total) else total


def check_trainable(samples, out_size, tile_size):
    """Every training image must hold one labelled output window: H, W >= out_size."""
    for s in samples:
        H, W = s.image.shape[-2], s.image.shape[-1]
        if H < out_size or W < out_size:
            raise ValueError(
                f"image {s.name!r}: expected H, W >= {out_size} (the output window of tile "
                f"size {tile_size}), got {H}x{W}; use a smaller tile size or drop the image")


def check_writable_folder(folder, what="output folder"):
    """Create `folder` if needed and check that files can be written in it (before work)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder}: expected a {what}, got an existing file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"{folder}: cannot create the {what} ({error.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{folder}: expected a writable {what}, it is read-only")
    return folder


# ----- the loop ------------------------------------------------------------------------

def _input_of(net):
    """image -> the net's input as inference makes it (infer.prepare_image), in float64
    as targets.prepare_sample keeps it."""
    return lambda image: prepare_image(net, image, dtype=np.float64)


def train(net, train_samples, val_samples, cfg, resume=False, checkpoint_dir=None,
          overwrite=False):
    """Train `net` in place; returns the history {"train": [...], "val": [...]}.

    train_samples / val_samples: lists of data.readers.Sample (val may be empty).
    checkpoint_dir: where checkpoint.npz goes (default cfg.out_dir; None: no checkpoints).
    resume: continue from checkpoint_dir/checkpoint.npz (error if there is none).
    overwrite: without resume, replace an existing checkpoint (else that is an error).
    history["train"] rows: step (1-based count of completed steps), loss, lr, seconds;
    history["val"] rows: step and the `validation_metrics` means.
    """
    if not train_samples:
        raise ValueError("train_samples: expected at least one labelled sample, got none")
    if net.ops.name != cfg.backend:
        raise ValueError(f"cfg.backend is {cfg.backend!r} but the net runs on {net.ops.name!r}")
    in_size = cfg.tile_size
    out_size = output_size(net.config, in_size)  # ValueError naming legal sizes
    check_trainable(train_samples, out_size, in_size)
    ckpt_dir = checkpoint_dir if checkpoint_dir is not None else cfg.out_dir
    for folder in {cfg.out_dir, ckpt_dir} - {None}:
        check_writable_folder(folder)
        checkpoint.remove_stale_temporaries(folder)
    existing = checkpoint.latest_checkpoint(ckpt_dir) if ckpt_dir is not None else None
    if existing is not None and not resume and not overwrite:
        raise FileExistsError(f"{existing}: a checkpoint of an earlier run exists; continue "
                              f"it with --resume, or replace it with --overwrite")
    n_classes = net.config.n_classes
    table = dataset_class_weights(train_samples, cfg, n_classes)  # None: per image
    # The net's input: with align_labels each image resampled by the offset its labels have
    # (measured on the training pairs), kept on the net for inference (infer.prepare_image).
    net.input_offset = label_offset(train_samples) if cfg.align_labels else (0.0, 0.0)
    prepared = [prepare_sample(s, cfg, n_classes, table, normalize=_input_of(net))
                for s in train_samples]
    odds = sampling_odds(prepared, cfg)  # None: uniform
    prepared_val = [prepare_sample(s, cfg, n_classes, table, normalize=_input_of(net))
                    for s in val_samples]
    sampler_rng = np.random.default_rng(cfg.seed)
    optimizer = make_optimizer(net, cfg)
    step, history = 0, {"train": [], "val": []}
    initial_norm = parameter_norm(net)
    if resume:
        if existing is None:
            raise FileNotFoundError(f"resume: expected a checkpoint in {ckpt_dir}, found none")
        state = checkpoint.load_checkpoint(existing)
        step, history = checkpoint.restore_state(state, net, optimizer, sampler_rng, cfg,
                                                 source=str(existing))
        initial_norm = float(state.get("initial_param_norm") or parameter_norm(net))
    saved_step = step if resume else None
    keep_freed_memory()  # each step reuses the pages the last one freed (memory.py)
    first_loss = history["train"][0]["loss"] if history["train"] else None

    def save():
        nonlocal saved_step
        if ckpt_dir is not None:
            state = checkpoint.training_state(net, optimizer, sampler_rng, cfg, step, history)
            state["initial_param_norm"] = initial_norm
            checkpoint.save_checkpoint(Path(ckpt_dir) / checkpoint.CHECKPOINT_NAME, state)
            saved_step = step
        if cfg.out_dir is not None:
            write_logs(history, cfg.out_dir)

    def diverged(reason, lr):
        bar.close()
        if cfg.out_dir is not None:
            write_logs(history, cfg.out_dir)
        if saved_step is not None:
            kept = (f"the newest checkpoint, {Path(ckpt_dir) / checkpoint.CHECKPOINT_NAME} "
                    f"at step {saved_step}, was taken before and is kept; resume from it with "
                    f"a smaller learning rate than {lr:g} (CLI: --resume --lr SMALLER)")
        else:
            kept = f"no checkpoint was written; restart with a learning rate below {lr:g}"
        return TrainingDiverged(f"training diverged at step {step + 1}: {reason}; {kept}")

    predictions = []
    running = None
    started = time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=step, disable=not cfg.progress, desc="train",
               dynamic_ncols=True)
    while step < cfg.steps:
        t0 = time.perf_counter()
        lr = float(optimizer.lr(optimizer.step_count))  # the schedule, at this step
        if isinstance(optimizer, optim.SGD):  # the momentum warm-up, at this step
            optimizer.momentum = optim.momentum_warmup(step, cfg.momentum, cfg.momentum_start,
                                                       cfg.momentum_warmup_steps)
        loss, dlogits = sampled_loss(net, prepared, cfg, in_size, out_size, sampler_rng, odds)
        if not math.isfinite(loss):
            raise diverged(f"the loss became {loss} (lr {lr:g})", lr)
        if first_loss is None:
            first_loss = loss
        if loss > cfg.diverge_loss_factor * max(first_loss, 1e-12):
            raise diverged(f"the loss {loss:.4g} exploded past {cfg.diverge_loss_factor:g} "
                           f"times the first loss {first_loss:.4g} (lr {lr:g})", lr)
        grads = net.backward(dlogits)
        optimizer.step(grads)
        norm = parameter_norm(net)
        if not norm <= cfg.diverge_norm_factor * initial_norm:  # also catches NaN / Inf
            what = "non-finite" if not math.isfinite(norm) else "exploding"
            raise diverged(f"the parameters became {what} (norm {norm:.4g}, initially "
                           f"{initial_norm:.4g}; lr {lr:g})", lr)
        step += 1
        running = loss if running is None else 0.95 * running + 0.05 * loss
        history["train"].append({"step": step, "loss": loss, "lr": lr,
                                 "seconds": time.perf_counter() - t0})
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}", lr=f"{lr:.2g}")

        out_of_time = (cfg.max_seconds is not None
                       and time.perf_counter() - started >= cfg.max_seconds)
        last = step == cfg.steps or out_of_time
        if val_samples and ((cfg.val_every and step % cfg.val_every == 0) or last):
            mean, predictions = evaluate_samples(net, val_samples, cfg)
            history["val"].append({"step": step, **mean})
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in mean.items()))
        if (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or last:
            save()
        if out_of_time:
            bar.write(f"stopped after step {step}: the budget of {cfg.max_seconds:g} s is spent")
            break
    bar.close()
    if cfg.out_dir is not None:
        write_logs(history, cfg.out_dir)
        if history["train"]:
            write_figures(net, history, val_samples, predictions, prepared_val, cfg.out_dir)
    return history
