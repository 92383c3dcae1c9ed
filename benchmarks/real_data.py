"""Segmentation quality on real data under a wall-clock budget, beside the peers' figures.

    python benchmarks/real_data.py --data DIR --dataset isbi2012 --minutes 35
    python benchmarks/real_data.py --data DIR --dataset dsb2018 --minutes 15
    python benchmarks/real_data.py --data DIR --dataset both --minutes 1 --preset small  # smoke

Data (--data DIR, laid out as the README's "Getting the data sets" says: DIR/isbi2012-em,
DIR/dsb2018-nuclei; fixed splits):
    isbi2012  train on sections 00-24, validate on 25-29 (512x512 EM, 0 = membrane, 1 = cell)
    dsb2018   train on the first 80 stems, validate on the last 20 (256x256 nuclei); the
              weight maps come from the instance ids, so nuclei close to each other get
              the paper's border term on the background between them. Nuclei that touch
              with no background pixel between them get none: the masks are used as the
              data set gives them, without `weight_map.separate_touching` gaps.
Recipe (the peers' PyTorch recipe of benchmarks/results/peers.md unless flags say
otherwise): depth 4, base 32, valid convs, He init, per-image normalisation, mirrored
context, elastic + flips/rot90 + grey values, class-balanced weight map with the paper's border term
(w0 10, sigma 5), SGD momentum 0.99, batch 1, lr constant (ISBI 0.003, DSB 0.001: see
DATA below); tiles 572 (ISBI) and
316 (DSB). Training stops when --minutes are spent (the final evaluation is extra).
Evaluation: overlap-tile prediction of every validation image, threshold 0.5; pixel error,
foreground IoU, adapted Rand error (on 4-connected foreground segments) and warping error,
averaged over the images.

Writes benchmarks/results/real_data_<dataset>.md and .json: recipe, steps, wall time,
machine, our numbers and the peers' (benchmarks/results/peers.md, measured on a machine
like this one).
"""

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from minimal_unet.data.readers import read_folder, read_isbi2012, split_samples  # noqa: E402
from minimal_unet.model import UNet, UNetConfig  # noqa: E402
from minimal_unet.train import TrainConfig, evaluate_held_out, train  # noqa: E402

# The peers' PyTorch U-Net with the same recipe, from benchmarks/results/peers.md (2-core
# x86-64, PyTorch 2.13.0 CPU, 2 threads). Foreground = cell (ISBI) / nucleus (DSB).
PEERS = {
    "isbi2012": dict(minutes=35, steps=1417, seconds_per_step=1.48, pixel_error=0.090,
                     foreground_iou=0.892, adapted_rand_error=0.151),
    "dsb2018": dict(minutes=15, steps=3106, seconds_per_step=0.29, pixel_error=0.073,
                    foreground_iou=0.553, adapted_rand_error=0.246),
}

# lr: the peers' 0.003 for ISBI; for DSB, SGD momentum 0.99 at lr 0.003 collapsed to
# all-background within 200 steps (recorded in results/real_data_dsb2018_lr0.003_collapsed.md;
# the class-balanced map weights the ~9 % nucleus pixels ~5x, so the effective step is
# larger than the peers'), and lr 0.001 trains.
DATA = {
    "isbi2012": dict(tile_size=572, n_val=5, minutes=35, lr=0.003),
    "dsb2018": dict(tile_size=316, n_val=20, minutes=15, lr=0.001),
}

PRESETS = {
    "peers": dict(depth=4, base_channels=32),  # the recipe of results/peers.md
    "paper": dict(depth=4, base_channels=64),
    "small": dict(depth=3, base_channels=16),  # for smoke runs
}


FOLDERS = {"isbi2012": "isbi2012-em", "dsb2018": "dsb2018-nuclei"}


def load(name, data_root):
    """(train, val) Samples of a data set under `data_root` with its fixed split."""
    folder = Path(data_root) / FOLDERS[name]
    if name == "isbi2012":
        samples = read_isbi2012(folder, split="train")
    else:
        samples = read_folder(folder)  # images, masks, instances
    return split_samples(samples, DATA[name]["n_val"])


def machine():
    blas = "unknown"
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]["name"]
    except Exception:  # older NumPy: no dict mode
        pass
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "blas": blas,
            "load_average_at_start": list(os.getloadavg())}


def run(name, args):
    train_samples, val_samples = load(name, args.data)
    tile = args.tile_size or DATA[name]["tile_size"]
    minutes = args.minutes if args.minutes is not None else DATA[name]["minutes"]
    config = UNetConfig(**PRESETS[args.preset])
    net = UNet(config, seed=args.seed, dtype=np.float32)
    out_dir = Path(args.runs) / name
    lr = args.lr if args.lr is not None else DATA[name]["lr"]
    cfg = TrainConfig(steps=10**9, lr=lr, tile_size=tile, seed=args.seed,
                      val_every=args.val_every, checkpoint_every=args.checkpoint_every,
                      out_dir=str(out_dir), progress=not args.no_progress,
                      max_seconds=60.0 * minutes)
    print(f"{name}: {len(train_samples)} train / {len(val_samples)} val images; {net!r}; "
          f"tile {tile}; budget {minutes:g} min", flush=True)
    start = time.perf_counter()
    history = train(net, train_samples, val_samples if args.val_every else [], cfg)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = evaluate_held_out(net, val_samples, tile, flips=args.flips, warping=True)
    eval_seconds = time.perf_counter() - start
    steps = len(history["train"])
    record = {
        "dataset": name, "minutes_budget": minutes, "steps": steps,
        "train_seconds": train_seconds, "seconds_per_step": train_seconds / max(steps, 1),
        "eval_seconds": eval_seconds, "model_config": config.to_dict(),
        "train_config": dataclasses.asdict(cfg), "flips": args.flips,
        "machine": machine(), "ours": result["mean"], "per_image": result["per_image"],
        "peers": PEERS[name], "validation_curve": history["val"],
    }
    return record


def write(record, results_dir):
    results_dir.mkdir(parents=True, exist_ok=True)
    name = record["dataset"]
    (results_dir / f"real_data_{name}.json").write_text(json.dumps(record, indent=1))
    ours, peers = record["ours"], record["peers"]
    rows = [("pixel error", "pixel_error"), ("foreground IoU", "foreground_iou"),
            ("adapted Rand error", "adapted_rand_error"), ("warping error", "warping_error")]
    m = record["machine"]
    cfg = record["train_config"]
    flips = " (8 flips/rotations averaged)" if record["flips"] else ""
    lines = [
        f"# Real data: {name}",
        "",
        f"Budget {record['minutes_budget']:g} min of training: {record['steps']} steps, "
        f"{record['seconds_per_step']:.2f} s/step, final evaluation "
        f"{record['eval_seconds']:.0f} s{flips}.",
        f"Net: {record['model_config']}. Tile {cfg['tile_size']}, lr {cfg['lr']} "
        f"({cfg['schedule']}), {cfg['optimizer']} momentum {cfg['momentum']}, batch "
        f"{cfg['batch_size']}, weight map {cfg['weight_map']} (w0 {cfg['w0']}, sigma "
        f"{cfg['sigma']}), augmentation {'on' if cfg['augment'] else 'off'}, seed {cfg['seed']}.",
        f"Machine: {m['platform']}, {m['cpus']} CPUs, NumPy {m['numpy']} ({m['blas']}), "
        f"load average at start {m['load_average_at_start'][0]:.1f}.",
        "",
        "| metric | ours (NumPy) | peers (PyTorch, peers.md) |",
        "|---|---|---|",
    ]
    for label, key in rows:
        peer = peers.get(key)
        lines.append(f"| {label} | {ours.get(key, float('nan')):.4f} | "
                     f"{'' if peer is None else f'{peer:.3f}'} |")
    lines.append(f"| steps in budget | {record['steps']} | {peers['steps']} "
                 f"({peers['minutes']} min) |")
    lines += ["", "The peers' figures were measured on a machine like this one, not in this "
              "run (see benchmarks/results/peers.md)."]
    (results_dir / f"real_data_{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="folder holding isbi2012-em/ and/or dsb2018-nuclei/ "
                             "(README: Getting the data sets)")
    parser.add_argument("--dataset", choices=("isbi2012", "dsb2018", "both"), default="both")
    parser.add_argument("--minutes", type=float,
                        help="training budget per data set (default: ISBI 35, DSB 15)")
    parser.add_argument("--preset", choices=tuple(PRESETS), default="peers")
    parser.add_argument("--tile-size", type=int, help="default: ISBI 572, DSB 316")
    parser.add_argument("--lr", type=float, help="default: ISBI 0.003, DSB 0.001")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flips", action="store_true", help="evaluate with 8 flips/rotations")
    parser.add_argument("--val-every", type=int, default=0,
                        help="validate every N steps during training (0: only the final one)")
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--runs", default=str(REPO / "runs" / "real_data"),
                        help="logs, figures and checkpoints")
    parser.add_argument("--results", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    names = ("isbi2012", "dsb2018") if args.dataset == "both" else (args.dataset,)
    for name in names:
        folder = Path(args.data) / FOLDERS[name]
        if not folder.is_dir():
            parser.exit(2, f"real_data: error: --data: expected a folder {folder}, "
                           "not found\n")
    for name in names:
        write(run(name, args), Path(args.results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
