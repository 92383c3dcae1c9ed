"""The record of one real-data run: its files, its markdown and its plot (benchmarks/real_data.py).

    run_stem(dataset, recipe, seed, tag)    the record's file name, without its extension
    machine()                               where a run ran: platform, CPU, NumPy, BLAS, load
    write_run(record, results_dir, stem)    <stem>.json, .md and (with a curve) .png
    finished_record, same_budget            a finished record of the same budget, or an error
    check_free, budget_words, data_label    refuse to overwrite; "35 min"; the data's name
    run_markdown(record) -> str             recipe, machine, budget, curve, the challenge's way
    plot_curve(record, path)                four panels against training minutes, peers as
                                            crosses

`record` is the JSON-able dict real_data.one_run writes (status "running" records, with
a partial curve, too).
"""

import json
import os
import platform
from pathlib import Path

import machine as bench_machine
import numpy as np

CURVE_METRICS = (("pixel_error", "pixel error"), ("foreground_iou", "foreground IoU"),
                 ("adapted_rand_error", "adapted Rand error"),
                 ("warping_error", "warping error"))


# ----- the records' files ----------------------------------------------------------------

def machine():
    """Where the run ran: platform, CPU model and count, NumPy, BLAS kernel and threads, load
    average. The run records' keys; the speed records use machine.machine_info()'s (the
    same facts under other names: both kept, so that every old record reads as it was)."""
    info = {"platform": platform.platform(), "cpu": bench_machine.cpu_model(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "load_average_at_start": list(os.getloadavg()),
            "openblas_env": {k: os.environ.get(k) for k in bench_machine.BLAS_VARIABLES}}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture",
                                               "num_threads")} for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def run_stem(dataset, recipe, seed, tag):
    return f"real_data_{dataset}_{recipe}_seed{seed}" + (f"_{tag}" if tag else "")


def check_free(paths, overwrite):
    """Refuse to overwrite result files (one-line error naming the first one)."""
    for path in paths:
        if path.exists() and not overwrite:
            raise SystemExit(f"real_data: error: {path} exists; pass --overwrite to replace it")


def finished_record(results_dir, stem, args):
    """The record of a finished run with this stem and the same budget, or None."""
    path = results_dir / f"{stem}.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record.get("status") != "finished":
        return None
    return same_budget(record, path, args, hint="; use another --tag")


def same_budget(record, path, args, hint=""):
    """The record, if it ran with this --minutes / --steps budget; else a one-line error."""
    budget = {"minutes": args.minutes, "steps": args.steps}
    if {k: record["budget"][k] for k in budget} != budget:
        raise SystemExit(f"real_data: error: {path} ran with budget {record['budget']}, "
                         f"not {budget}{hint}")
    return record


def budget_words(args):
    """"35 min" or "940 steps": the budget a run or study was given."""
    return f"{args.minutes:g} min" if args.minutes is not None else f"{args.steps} steps"


def data_label(path):
    """The data set's folder name (e.g. "isbi2012-em"): a committed record names the data
    set, never a path on the machine that ran it."""
    return Path(path).resolve().name


def write_run(record, results_dir, stem):
    """<stem>.json, .md and (when there is a curve) .png in results_dir."""
    (results_dir / f"{stem}.json").write_text(json.dumps(record, indent=1))
    (results_dir / f"{stem}.md").write_text(run_markdown(record))
    if record.get("curve"):
        plot_curve(record, results_dir / f"{stem}.png")


# ----- one record as markdown and as a plot -----------------------------------------------

def run_markdown(record):
    lines = [f"# Real data: {record['dataset']}, recipe {record['recipe_name']}, "
             f"seed {record['seed']}", ""]
    recipe = record.get("recipe", {})
    lines += [f"Recipe: {recipe.get('note', '')}", "", "`" + json.dumps(
        {k: v for k, v in recipe.items() if k not in ("name", "note")}) + "`", ""]
    m = record["machine"]
    blas = m["blas"] if isinstance(m["blas"], str) else ", ".join(
        f"{b['internal_api']} {b['architecture']} x{b['num_threads']}" for b in m["blas"])
    lines += [f"Started {record['started']} on {m['platform']}, {m['cpus']} CPUs, NumPy "
              f"{m['numpy']} ({blas}), load average at start "
              f"{m['load_average_at_start'][0]:.1f}. Data: {record['data']}.", ""]
    for part in record.get("resumed", []):  # real_data.py --resume: the later sittings
        lines += [f"Resumed {part['at']} at step {part['step']} on "
                  f"{part['machine'].get('cpu', '?')}, load average at start "
                  f"{part['machine']['load_average_at_start'][0]:.1f}.", ""]
    if record["status"] != "finished":
        lines += [f"**{record['status']}** {record.get('error', '')}", ""]
    else:
        lines += [f"Budget: {record['budget']}. Trained {record['steps']} steps in "
                  f"{record['train_seconds'] / 60:.1f} min ({record['seconds_per_step']:.2f} "
                  f"s/step); evaluations took {record['eval_seconds'] / 60:.1f} min more.", ""]
    if not record.get("curve"):
        return "\n".join(lines) + "\n"
    instances = "instance_rand_error" in record["curve"][-1]
    lines += ["## Curve (validation, threshold 0.5, no flips)", "",
              "| step | minutes | pixel error | foreground IoU | adapted Rand | warping |"
              + (" instance Rand |" if instances else ""),
              "|---|---|---|---|---|---|" + ("---|" if instances else "")]
    for row in record["curve"]:
        cells = [f"{row[k]:.4f}" for k, _ in CURVE_METRICS]
        if "instance_rand_error" in row:
            cells.append(f"{row['instance_rand_error']:.4f}")
        lines.append(f"| {row['step']} | {row['minutes']:.1f} | " + " | ".join(cells) + " |")
    lines.append("")
    for peer in record["peer_curve"]:
        lines.append(f"Peers (PyTorch, benchmarks/results/peers.md), {peer['minutes']} min, "
                     f"{peer['steps']} steps: pixel error {peer['pixel_error']}, IoU "
                     f"{peer['foreground_iou']}, adapted Rand {peer['adapted_rand_error']}.")
    paper = record.get("paper_way")
    if paper:
        lines += ["", "## The challenge's way (8 flips/rotations averaged; threshold chosen "
                  "on the training slices, applied to validation)", "", *paper_way_table(paper)]
        lines.append(f"\n8-fold at 0.5: foreground IoU {paper['at_0.5']['foreground_iou']:.4f}"
                     f", warping error {paper['at_0.5']['warping_error']:.4f}.")
        if "pixel_f_error" in paper:
            lines.append("\npixel_error: the fraction of pixels called wrong (mean over "
                         "slices); pixel_f_error: 1 - F-score of the cell pixels, counts "
                         "added over the slices, as the challenge organizers' script "
                         "scores a stack (minimal_unet/thresholds.py).")
    if record.get("ema"):
        lines += ["", "## Weight averages (exponential moving averages of the weights, "
                  "scored at the end like the last weights; recipe_run.py)", "",
                  "| weights | pixel error | foreground IoU | adapted Rand | warping |"
                  + (" pixel error, challenge's way | adapted Rand, challenge's way |"
                     if paper else ""),
                  "|---|---|---|---|---|" + ("---|---|" if paper else "")]
        for label, final, way in [("last", record["final"], paper)] + [
                (f"average, decay {e['decay']}", e["final"], e.get("paper_way"))
                for e in record["ema"]]:
            cells = [f"{final[k]:.4f}" for k, _ in CURVE_METRICS]
            if paper:
                cells += [f"{way[m]['validation']:.4f} (threshold {way[m]['threshold']:.2f})"
                          for m in ("pixel_error", "adapted_rand_error")]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paper_way_table(paper):
    """The challenge's way as table lines: each metric's threshold, training, validation."""
    lines = ["| metric | threshold (from training) | training | validation | "
             "validation at 0.5 |", "|---|---|---|---|---|"]
    for metric in (m for m in ("pixel_error", "pixel_f_error", "adapted_rand_error")
                   if m in paper):  # records before pixel_f_error lack it
        p = paper[metric]
        lines.append(f"| {metric} | {p['threshold']:.2f} | {p['train']:.4f} | "
                     f"{p['validation']:.4f} | {paper['at_0.5'][metric]:.4f} |")
    return lines


def plot_curve(record, path):
    """Four panels against training minutes; the peers' points as crosses."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.2))
    axes = fig.subplots(1, len(CURVE_METRICS))
    minutes = [r["minutes"] for r in record["curve"]]
    for ax, (key, label) in zip(axes, CURVE_METRICS):
        ax.plot(minutes, [r[key] for r in record["curve"]], "o-", label="ours")
        peers = [p for p in record["peer_curve"] if key in p]
        if peers:
            ax.plot([p["minutes"] for p in peers], [p[key] for p in peers], "kx", ms=9,
                    label="peers (PyTorch)")
        paper = record.get("paper_way")
        if paper and key in ("pixel_error", "adapted_rand_error"):
            ax.plot([minutes[-1]], [paper[key]["validation"]], "r*", ms=11,
                    label="ours, 8-fold, threshold from training")
        ax.set_title(label)
        ax.set_xlabel("training minutes")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{record['dataset']}: {record['recipe_name']}, seed {record['seed']}")
    fig.tight_layout()
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=90)
