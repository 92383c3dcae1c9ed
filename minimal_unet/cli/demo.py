"""`minimal-unet demo`: synthetic cells -> small U-Net on CPU -> held-out metrics."""

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from minimal_unet.cli._common import (
    CLIError,
    check_out_folder,
    fresh_default,
    is_nonempty_folder,
    positive_int,
)

# The demo: ~10 s of training on 2 quiet CPU cores (~30 s busy), robustly above IoU 0.85.
# Adam with a cosine decay, not the paper's SGD (momentum 0.99): on this tiny net and
# budget, SGD's held-out IoU swung between 0.80 and 0.95 from one evaluation to the next,
# while Adam ended at 0.93-0.95 for seeds 0-3 (seen while tuning, 250 steps; not recorded).
DEMO = dict(depth=2, base_channels=8, tile_size=92, optimizer="adam", lr=0.002,
            schedule="cosine", steps=250, n_train=16, n_val=4, size=160, target_iou=0.85)
DEFAULT_OUT = "runs/demo"


def add_demo_parser(subparsers):
    p = subparsers.add_parser(
        "demo", help="train on synthetic cells and report held-out metrics",
        description="The main job: synthetic data -> small U-Net on CPU -> overlap-tile "
                    "prediction of held-out images -> metrics, figures and model in --out.")
    p.add_argument("--out", help=f"output folder (default: {DEFAULT_OUT}, or {DEFAULT_OUT}-2, "
                                 f"-3, ... when it exists); an existing one is refused")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the files of an existing --out")
    p.add_argument("--steps", type=positive_int, default=DEMO["steps"],
                   help=f"training steps (default: {DEMO['steps']})")
    p.add_argument("--seed", type=int, default=0, help="seed of data, weights and sampler")
    p.add_argument("--n-train", type=positive_int, default=DEMO["n_train"])
    p.add_argument("--n-val", type=positive_int, default=DEMO["n_val"])
    p.add_argument("--size", type=positive_int, default=DEMO["size"],
                   help="side of the synthetic images in px")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_demo)


def run_demo(args):
    from minimal_unet.data.synthetic import make_synthetic
    from minimal_unet.model import UNet, UNetConfig
    from minimal_unet.train import TrainConfig, evaluate_held_out, train

    t0 = time.perf_counter()
    out = Path(args.out) if args.out else fresh_default(DEFAULT_OUT)
    check_out_folder(out)
    if is_nonempty_folder(out) and not args.overwrite:
        raise CLIError(f"{out}: an earlier run's folder exists; refusing to overwrite it "
                       f"(pass --overwrite to replace its files, or choose another --out)")
    samples = make_synthetic(args.n_train + args.n_val, size=(args.size, args.size),
                             seed=args.seed)
    train_samples, val_samples = samples[0:args.n_train], samples[args.n_train:]
    config = UNetConfig(depth=DEMO["depth"], base_channels=DEMO["base_channels"])
    net = UNet(config, seed=args.seed, dtype=np.float32)
    cfg = TrainConfig(steps=args.steps, optimizer=DEMO["optimizer"], lr=DEMO["lr"],
                      schedule=DEMO["schedule"],
                      tile_size=DEMO["tile_size"], seed=args.seed,
                      val_every=max(1, args.steps // 5), checkpoint_every=0,
                      out_dir=str(out), progress=not args.no_progress)
    print(f"demo: {len(train_samples)} training + {len(val_samples)} held-out synthetic "
          f"images {args.size}x{args.size}; {net!r}; {args.steps} steps of "
          f"{cfg.tile_size}px tiles", flush=True)
    train(net, train_samples, val_samples, cfg, overwrite=args.overwrite)
    net.save(out / "model.npz")
    summary = evaluate_held_out(net, val_samples, cfg.tile_size)
    seconds = time.perf_counter() - t0
    iou = summary["mean"]["foreground_iou"]
    ok = iou >= DEMO["target_iou"]
    summary.update(seconds=seconds, steps=args.steps, seed=args.seed,
                   model_config=config.to_dict(), train_config=dataclasses.asdict(cfg),
                   target_foreground_iou=DEMO["target_iou"], reached_target=bool(ok))
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    print(format_metrics(summary["mean"]))
    verdict = "reached" if ok else "MISSED"
    print(f"foreground IoU {iou:.3f} on {len(val_samples)} held-out images: {verdict} the "
          f"target of {DEMO['target_iou']:.2f}. Wall time {seconds:.0f} s.")
    print(f"wrote {out}/metrics.json, learning_curves.png, predictions.png, model.npz")
    return 0


def format_metrics(mean):
    return "  ".join(f"{k} {v:.4f}" for k, v in mean.items())
