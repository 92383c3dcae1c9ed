"""The summary of a recipe study: one row per run and the mean over seeds per recipe.

Used by benchmarks/real_data.py (`--study`, and `--summarize` for runs recorded by
parallel one-seed processes); it reads run records (the dicts real_data.py writes as
JSON) and writes study_<dataset>[_<tag>].md / .json. No training, no NumPy networks here.

    rows = summary_rows(records)     # [{"recipe", "seed", "status", "steps", metrics...}]
    means = mean_rows(rows)          # [{"recipe", "runs", "finished", mean metrics...}]
    print("\\n".join(table(means)))  # a markdown table
"""

import json

import numpy as np

# The final metrics a summary row carries (those the run recorded).
SUMMARY_METRICS = ("pixel_error", "foreground_iou", "adapted_rand_error", "warping_error",
                   "instance_rand_error")


def summary_rows(records):
    """One flat row per run: recipe, seed, status, steps and the final metrics, plus the
    paper-way scores (8-fold, threshold chosen on training slices) when the run has them."""
    rows = []
    for r in records:
        row = {"recipe": r["recipe_name"], "seed": r["seed"], "status": r["status"],
               "steps": r.get("steps")}
        final = r.get("final") or {}
        row.update({k: final[k] for k in SUMMARY_METRICS if k in final})
        paper = r.get("paper_way")
        if paper:
            row["paper_pixel_error"] = paper["pixel_error"]["validation"]
            if "pixel_f_error" in paper:  # records before it was scored lack it
                row["paper_pixel_f_error"] = paper["pixel_f_error"]["validation"]
            row["paper_rand_error"] = paper["adapted_rand_error"]["validation"]
        rows.append(row)
    return rows


def mean_rows(rows):
    """Mean over the finished seeds of each recipe (diverged runs counted, not averaged)."""
    means = []
    for recipe in dict.fromkeys(r["recipe"] for r in rows):
        mine = [r for r in rows if r["recipe"] == recipe]
        done = [r for r in mine if r["status"] == "finished"]
        row = {"recipe": recipe, "runs": len(mine), "finished": len(done)}
        for key in (k for k in done[0] if isinstance(done[0][k], float)) if done else ():
            row[key] = float(np.mean([r[key] for r in done]))
        means.append(row)
    return means


def table(rows):
    """Markdown lines of a table whose columns are every key of `rows` (floats to 4 places)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, ""))
                 for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_summary(records, stem_path, title, dataset, budget_words, budget, note, peers):
    """<stem_path>.json and .md of a study; returns the .md path.

    budget_words: "35 min" or "940 steps"; budget: {"minutes", "steps"} as the runs had it;
    note: a line for the reader ("" for none); peers: real_data.PEERS[dataset]."""
    rows = summary_rows(records)
    means = mean_rows(rows)
    json_path, md_path = (stem_path.with_name(stem_path.name + ext) for ext in (".json", ".md"))
    json_path.write_text(json.dumps({"budget": budget, "note": note, "rows": rows,
                                     "means": means}, indent=1))
    lines = [f"# {title}", "",
             f"Budget per run: {budget_words} of training. Every "
             f"run is listed, diverged ones too; per-run curves in "
             f"real_data_{dataset}_<recipe>_seed<seed>*.md. Final metrics: validation, "
             f"threshold 0.5, no flips; paper_*: 8-fold, threshold chosen on training slices.",
             *(["", note] if note else []),
             "", "## Mean over seeds", "", *table(means), "", "## Every run", "", *table(rows),
             "", "Peers (PyTorch, benchmarks/results/peers.md): " + "; ".join(
                 f"{p['minutes']} min: pixel {p['pixel_error']}, IoU {p['foreground_iou']}, "
                 f"Rand {p['adapted_rand_error']}" for p in peers)]
    md_path.write_text("\n".join(lines) + "\n")
    return md_path
