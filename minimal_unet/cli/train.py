"""`minimal-unet train`: train on a data set on disk (folder / ISBI 2012 / TIFF stack)."""

import dataclasses
from pathlib import Path

from minimal_unet.backends import BACKENDS
from minimal_unet.cli._common import (
    CLIError,
    check_out_folder,
    fresh_default,
    is_nonempty_folder,
    non_negative_int,
    positive_float,
    positive_int,
    refuse_into_inputs,
)
from minimal_unet.cli.demo import format_metrics
from minimal_unet.recipes import cli_preset

# Presets: (UNetConfig fields, TrainConfig fields).
PRESETS = {
    # The paper's net and tile; lr from the peers' PyTorch recipe (benchmarks/results/peers.md).
    "paper": (dict(depth=4, base_channels=64), dict(tile_size=572, lr=0.003)),
    # A net that trains on a laptop CPU in minutes.
    "small": (dict(depth=3, base_channels=16), dict(tile_size=188, lr=0.003)),
    # Seconds per run: for tests, debugging and stepping through in a debugger.
    "tiny": (dict(depth=2, base_channels=4), dict(tile_size=60, lr=0.01)),
    # ISBI 2012 EM: the real-data recipe of minimal_unet/recipes.py (PRESET_RECIPES), the
    # one benchmarks/real_data.py measures; train with --layout isbi2012.
    "isbi2012": cli_preset("isbi2012"),
}
DEFAULT_OUT = "runs/train"


def add_train_parser(subparsers):
    p = subparsers.add_parser(
        "train", help="train on a data set on disk",
        description="Train a U-Net on labelled images; writes logs, figures, checkpoints "
                    "and model.npz to --out. An existing --out is refused unless --resume "
                    "(continue its checkpoint) or --overwrite (start afresh) is given.")
    p.add_argument("data", help="data folder (or TIFF stack with --layout tiff)")
    p.add_argument("--layout", choices=("folder", "isbi2012", "tiff"), default="folder",
                   help="folder: DATA/images + DATA/masks (+ DATA/instances); isbi2012: "
                        "DATA/train/images + labels; tiff: DATA is an image stack")
    p.add_argument("--labels", help="label TIFF stack (with --layout tiff)")
    p.add_argument("--preset", choices=tuple(PRESETS), default="small")
    p.add_argument("--steps", type=positive_int, default=1000)
    p.add_argument("--lr", type=positive_float, help="learning rate (default: the preset's)")
    p.add_argument("--optimizer", choices=("sgd", "adam"),
                   help="default: the preset's, else sgd (momentum 0.99)")
    p.add_argument("--schedule", choices=("constant", "step", "cosine", "poly"),
                   help="default: the preset's, else constant")
    p.add_argument("--tile-size", type=positive_int, help="input tile (default: preset's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-val", type=non_negative_int, default=0,
                   help="the last N images (by name) are held out for validation")
    p.add_argument("--val-every", type=non_negative_int, default=100)
    p.add_argument("--checkpoint-every", type=non_negative_int, default=100)
    p.add_argument("--checkpoint-dir", help="default: --out")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an existing --out, replacing its files")
    p.add_argument("--backend", choices=BACKENDS, default="numpy")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--momentum-warmup", type=non_negative_int, metavar="STEPS",
                   help="SGD momentum grows linearly from 0.9 to its value over STEPS steps "
                        "(default: the preset's, else 0: the paper's 0.99 from the start)")
    p.add_argument("--separate-touching", action="store_true",
                   help="cut a 1 px gap where two labelled instances touch before training "
                        "(needs instance ids: DATA/instances; the paper's weight map then "
                        "weighs those gaps, Sec. 3)")
    p.add_argument("--align-labels", action="store_true",
                   help="resample every image by the sub-pixel offset its labels have from it "
                        "(measured on the training pairs; ISBI 2012's sit ~0.6 px off), so "
                        "that flips and rotations keep the labels on their structures; the "
                        "model keeps the offset and predict applies it (default: the "
                        "preset's; isbi2012 has it)")
    p.add_argument("--out", help=f"output folder (default: {DEFAULT_OUT}, or {DEFAULT_OUT}-2, "
                                 f"... when it exists; with --resume: {DEFAULT_OUT})")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_train)


def run_train(args):
    from minimal_unet.data.readers import read_dataset, split_samples
    from minimal_unet.model import UNet, UNetConfig
    from minimal_unet.train import TrainConfig, train

    if args.layout == "tiff" and args.labels is None:
        raise CLIError("--layout tiff needs --labels LABEL_STACK.tif")
    if args.resume and args.overwrite:
        raise CLIError("--resume and --overwrite: expected one of them, got both")
    if args.out:
        out = Path(args.out)
    else:
        out = Path(DEFAULT_OUT) if args.resume else fresh_default(DEFAULT_OUT)
    ckpt_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else out
    # Fail before work: the output places first, then every input.
    for folder in {out, ckpt_dir}:
        check_out_folder(folder)
    inputs = [p for p in (args.data, args.labels) if p is not None and Path(p).exists()]
    refuse_into_inputs([out, ckpt_dir], inputs)
    if not args.resume and not args.overwrite:
        for folder in {out, ckpt_dir}:
            if is_nonempty_folder(folder):
                raise CLIError(f"{folder}: an earlier run's folder exists; refusing to "
                               f"overwrite it (continue it with --resume, replace it with "
                               f"--overwrite, or choose another --out)")
    samples = read_dataset(args.data, layout=args.layout, labels=args.labels)
    if not samples:
        raise CLIError(f"{args.data}: no images found")
    if any(s.mask is None for s in samples):
        raise CLIError(f"{args.data}: expected labelled images, some have no mask")
    if not 0 <= args.n_val < len(samples):
        raise CLIError(f"--n-val: expected 0..{len(samples) - 1}, got {args.n_val}")
    train_samples, val_samples = split_samples(samples, args.n_val)
    net_fields, train_fields = PRESETS[args.preset]
    config = UNetConfig(**net_fields)
    net = UNet(config, seed=args.seed, dtype=args.dtype, backend=args.backend)
    cfg = TrainConfig(
        steps=args.steps, lr=args.lr or train_fields["lr"],
        optimizer=args.optimizer or train_fields.get("optimizer", "sgd"),
        schedule=args.schedule or train_fields.get("schedule", "constant"),
        tile_size=args.tile_size or train_fields["tile_size"],
        seed=args.seed,
        augment=not args.no_augment and train_fields.get("augment", True), val_every=args.val_every,
        checkpoint_every=args.checkpoint_every, out_dir=str(out), backend=args.backend,
        progress=not args.no_progress)
    # The rest of a recipe preset's knobs (weight map, momentum, ...): the flags above win.
    flagged = ("steps", "lr", "optimizer", "schedule", "tile_size", "seed", "augment")
    cfg = dataclasses.replace(cfg, **{k: v for k, v in train_fields.items() if k not in flagged})
    if args.momentum_warmup is not None:
        cfg = dataclasses.replace(cfg, momentum_warmup_steps=args.momentum_warmup)
    if args.separate_touching:
        if all(s.instances is None for s in train_samples):
            raise CLIError(f"--separate-touching: expected instance ids (DATA/instances), "
                           f"found none in {args.data}")
        cfg = dataclasses.replace(cfg, separate_touching=True)
    if args.align_labels:
        cfg = dataclasses.replace(cfg, align_labels=True)
    history = train(net, train_samples, val_samples, cfg, resume=args.resume,
                    checkpoint_dir=str(ckpt_dir), overwrite=args.overwrite)
    net.save(out / "model.npz")
    if cfg.align_labels:
        dy, dx = net.input_offset
        print(f"the labels sit ({dy:.2f}, {dx:.2f}) px off their images (training pairs); "
              f"every image was resampled by it, and prediction does the same")
    last = history["train"][-1] if history["train"] else None
    if last:
        print(f"step {last['step']}: loss {last['loss']:.4f}")
    if history["val"]:
        print(format_metrics({k: v for k, v in history["val"][-1].items() if k != "step"}))
    print(f"wrote {out}/model.npz")
    return 0
