"""Make the documentation's figures into docs/figures/ (run by `make figures`).

    python docs/make_figures.py [--out docs/figures] [--runs runs/demo] [--steps 60]

    architecture_paper.png   the paper's net (572 -> 388), drawn from sizes.layer_table
    architecture_demo.png    the demo's net (depth 2, 16 channels, 92 px tiles)
    demo_predictions.png     image | label | weight map | prediction, from the demo run
    demo_learning_curves.png its loss and validation curves
    benchmarks.png           benchmarks/results/*.json as tables (only if there are any)

The demo figures are copied from `--runs` (what `make demo` writes) when it holds them;
otherwise a short training on synthetic cells makes them (`--steps` steps, ~1 min).
Everything is drawn off-screen with matplotlib's Agg canvas (no display needed).

`plot_architecture` belongs in minimal_unet/plots.py once that module's owner agrees; it
lives here until then.
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from minimal_unet import sizes
from minimal_unet.cli import DEMO
from minimal_unet.model import UNetConfig

REPO = Path(__file__).resolve().parents[1]
GAP = 0.25  # horizontal space between two boxes, in box-width units
COLOURS = {"conv": "#8fb8de", "pool": "#f4a261", "up": "#90be6d", "concat": "#c9ada7",
           "head": "#e76f51", "input": "#cccccc"}


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)
    return path


def _level_and_kind(name, depth):
    """The row of the U a layer's output sits on (0 = top) and its kind (for the colour)."""
    if name == "input":
        return 0, "input"
    if name == "head":
        return 0, "head"
    if name.startswith("bottom"):
        return depth, "conv"
    block, op = name.split(".")
    level = int(block[3:])
    if op == "pool":
        return level + 1, "pool"
    return level, {"up": "up", "concat": "concat"}.get(op, "conv")


def plot_architecture(config, input_size, ax=None):
    """Draw the U-Net of `config` for a tile of `input_size` px; returns the Axes.

    One box per row of `sizes.layer_table`: its width grows with log2(channels), its
    height with the spatial size, and it sits on the row of its resolution level, so the
    boxes trace the U. Skip connections are arrows from each encoder's output to its
    concatenation, labelled with the crop; a dashed rectangle inside the encoder's box
    marks the centre that survives the crop.
    """
    rows = sizes.layer_table(config, input_size)
    if ax is None:
        fig = Figure(figsize=(max(8.0, 0.42 * len(rows)), 1.6 + 1.1 * (config.depth + 1)))
        ax = fig.subplots()
    largest = max(row.shape[1] for row in rows)
    boxes, x = {}, 0.0
    for row in rows:
        channels, height, _ = row.shape
        level, kind = _level_and_kind(row.name, config.depth)
        width = 0.25 + 0.12 * np.log2(max(channels, 1))
        box_height = 0.2 + 0.6 * height / largest
        bottom = -level - box_height / 2
        ax.add_patch(Rectangle((x, bottom), width, box_height, facecolor=COLOURS[kind],
                               edgecolor="black", linewidth=0.6))
        ax.text(x + width / 2, bottom - 0.05, f"{channels}\n{height}", ha="center",
                va="top", fontsize=6)
        boxes[row.name] = (x, bottom, width, box_height, height)
        x += width + GAP
    # the flow from one layer to the next
    names = [row.name for row in rows]
    for a, b in zip(names[:-1], names[1:]):
        xa, ya, wa, ha, _ = boxes[a]
        xb, yb, _, hb, _ = boxes[b]
        ax.add_patch(FancyArrowPatch((xa + wa, ya + ha / 2), (xb, yb + hb / 2),
                                     arrowstyle="-|>", mutation_scale=6, linewidth=0.5))
    # copy and crop: enc{i}.conv2 -> dec{i}.concat
    for level, (crop_h, _) in sizes.skip_crops(config, input_size).items():
        xs, ys, ws, hs, size_s = boxes[f"enc{level}.conv2"]
        xc, yc, _, hc, _ = boxes[f"dec{level}.concat"]
        kept = hs * (size_s - 2 * crop_h) / size_s  # the part of the box that survives
        ax.add_patch(Rectangle((xs + 0.1 * ws, ys + (hs - kept) / 2), 0.8 * ws, kept,
                               fill=False, linestyle="--", edgecolor="#b00020", linewidth=0.8))
        bend = -0.5 / max(xc - xs, 1.0)  # a shallow arc whatever the distance
        ax.add_patch(FancyArrowPatch((xs + ws / 2, ys + hs), (xc + 0.05, yc + hc),
                                     connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
                                     mutation_scale=7, color="#b00020", linewidth=0.8))
        label = f"copy, crop {crop_h}/side" if crop_h else "copy (no crop)"
        ax.text((xs + xc) / 2, max(ys + hs, yc + hc) + 0.3, label, ha="center",
                fontsize=6.5, color="#b00020")
    output = rows[-1].shape
    ax.set_title(f"U-Net: depth {config.depth}, {config.base_channels} base channels, "
                 f"{config.padding} convs; {input_size} px tile -> {output[1]} px output "
                 "(box labels: channels / size)", fontsize=9)
    ax.set_xlim(-0.2, x)
    ax.set_ylim(-config.depth - 0.75, 0.95)
    ax.set_axis_off()
    for kind, colour in COLOURS.items():
        ax.plot([], [], "s", color=colour, label=kind)
    ax.legend(loc="lower right", fontsize=6.5, ncols=3, frameon=False)
    return ax


def architecture_figure(config, input_size, path):
    """plot_architecture into its own PNG at `path`; returns the path."""
    ax = plot_architecture(config, input_size)
    ax.figure.tight_layout()
    return _save(ax.figure, path)


def demo_figures(out_dir, runs_dir=REPO / "runs" / "demo", steps=60, seed=0):
    """demo_predictions.png and demo_learning_curves.png into `out_dir`; returns the paths.

    Copied from `runs_dir` when it holds a demo run, else made by a short training
    (`steps` steps of the tiny net on synthetic cells) in a temporary folder.
    """
    names = {"predictions.png": "demo_predictions.png",
             "learning_curves.png": "demo_learning_curves.png"}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(runs_dir) if runs_dir is not None else None
    if runs_dir is not None and all((runs_dir / name).is_file() for name in names):
        return [Path(shutil.copy2(runs_dir / src, out_dir / dst)) for src, dst in names.items()]
    from minimal_unet.data.synthetic import make_synthetic
    from minimal_unet.model import UNet
    from minimal_unet.train import TrainConfig, train

    samples = make_synthetic(4, size=(96, 96), seed=seed)
    net = UNet(UNetConfig(depth=2, base_channels=8), seed=seed, dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(steps=steps, lr=0.01, schedule="cosine", tile_size=60, seed=seed,
                          val_every=max(1, steps // 3), checkpoint_every=0, out_dir=tmp,
                          progress=False)
        train(net, samples[0:3], samples[3:4], cfg)
        return [Path(shutil.copy2(Path(tmp) / src, out_dir / dst)) for src, dst in names.items()]


def _table_rows(data):
    """A benchmark JSON as a list of flat dicts, one per table row.

    Knows the three shapes benchmarks/ writes ({"rows": [...]} from ops.py and gpu.py,
    {"results": [...]} from step.py, {"ours": ..., "peers": ...} from real_data.py) and
    falls back to the scalar fields of any other dict or list of dicts.
    """
    if isinstance(data, dict) and isinstance(data.get("results"), list):  # step.py
        return [{"config": r["config"], "dtype": r["dtype"], "ours s": r["ours"]["median"],
                 "torch s": r["torch"]["median"], "time ours/torch": r["ratio"],
                 "peak memory ours/torch": r["peak_ratio"]} for r in data["results"]]
    if isinstance(data, dict) and isinstance(data.get("ours"), dict) and "peers" in data:
        metrics = ("pixel_error", "foreground_iou", "adapted_rand_error")  # real_data.py
        ours = {"who": "ours", "steps": data.get("steps"), **{m: data["ours"][m] for m in metrics}}
        peers = {"who": "peers (peers.md)", "steps": data["peers"].get("steps"),
                 **{m: data["peers"].get(m) for m in metrics}}
        return [ours, peers]
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if isinstance(data, dict):
        data = [data]
    return [{k: v for k, v in row.items() if not isinstance(v, dict | list)}
            for row in data if isinstance(row, dict)]


def _cell(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def benchmark_figure(results_dir, path):
    """Every benchmarks/results/*.json as a table, one panel per file; None if there are none."""
    tables = []
    for file in sorted(Path(results_dir).glob("*.json")):
        rows = _table_rows(json.loads(file.read_text()))
        if rows:
            tables.append((file.name, rows))
    if not tables:
        return None
    heights = [0.6 + 0.25 * min(len(rows), 40) for _, rows in tables]
    fig = Figure(figsize=(11, sum(heights) + 0.3))
    axes = np.atleast_1d(fig.subplots(len(tables), 1, height_ratios=heights))
    for ax, (name, rows) in zip(axes, tables):
        columns = list(dict.fromkeys(key for row in rows for key in row))
        cells = [[_cell(row.get(c, "")) for c in columns] for row in rows[0:40]]
        widths = [max(len(str(c)), *(len(row[k]) for row in cells)) for k, c in enumerate(columns)]
        table = ax.table(cellText=cells, colLabels=columns, loc="center", cellLoc="right",
                         colWidths=[w / sum(widths) for w in widths])
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return _save(fig, path)


def make_all(out_dir=REPO / "docs" / "figures", runs_dir=REPO / "runs" / "demo", steps=60,
             results_dir=REPO / "benchmarks" / "results"):
    """Every figure of the module docstring into `out_dir`; returns the written paths."""
    out_dir = Path(out_dir)
    demo_config = UNetConfig(depth=DEMO["depth"], base_channels=DEMO["base_channels"])
    paths = [architecture_figure(UNetConfig(), 572, out_dir / "architecture_paper.png"),
             architecture_figure(demo_config, DEMO["tile_size"],
                                 out_dir / "architecture_demo.png")]
    paths += demo_figures(out_dir, runs_dir, steps)
    bench = benchmark_figure(results_dir, out_dir / "benchmarks.png")
    return paths + ([bench] if bench is not None else [])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "figures"))
    parser.add_argument("--runs", default=str(REPO / "runs" / "demo"),
                        help="a demo run to copy the demo figures from")
    parser.add_argument("--steps", type=int, default=60,
                        help="training steps when there is no demo run to copy")
    args = parser.parse_args(argv)
    for path in make_all(args.out, args.runs, args.steps):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
