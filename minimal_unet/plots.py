"""Figures of a training run, drawn off-screen (Agg) and written to PNG files.

    plot_learning_curves(history, path)        training loss (raw and smoothed), learning
                                               rate, and every validation metric vs. step
    plot_panels(rows, path)                    one row per image: image | label |
                                               weight map | prediction (| probability)

Figures are built with `matplotlib.figure.Figure` and its Agg canvas directly, never with
`pyplot`: no display is needed, and no global figure state is left behind.
"""

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)  # attaches an off-screen canvas to the figure
    fig.savefig(path, dpi=100)
    return path


def moving_average(values, window):
    """Trailing moving average of a 1-D sequence (first points average what exists)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    window = max(1, min(int(window), v.size))
    csum = np.cumsum(np.concatenate([[0.0], v]))
    idx = np.arange(1, v.size + 1)
    start = np.maximum(idx - window, 0)
    return (csum[idx] - csum[start]) / (idx - start)


def plot_learning_curves(history, path, title="training"):
    """Loss and validation metrics against the step; returns the written path.

    history: {"train": [{"step", "loss", "lr", ...}, ...],
              "val":   [{"step", <metric>: float, ...}, ...]}  (as returned by train()).
    """
    train = history.get("train", [])
    val = history.get("val", [])
    fig = Figure(figsize=(11, 3.6))
    ax_loss, ax_lr, ax_val = fig.subplots(1, 3)

    steps = [r["step"] for r in train]
    losses = [r["loss"] for r in train]
    ax_loss.plot(steps, losses, color="0.7", lw=0.8, label="loss per step")
    if losses:
        ax_loss.plot(steps, moving_average(losses, max(1, len(losses) // 20)),
                     color="C0", lw=1.5, label="moving average")
    ax_loss.set(xlabel="step", ylabel="weighted cross-entropy", title=f"{title}: loss")
    ax_loss.legend(loc="upper right", fontsize=8)

    ax_lr.plot(steps, [r["lr"] for r in train], color="C1")
    ax_lr.set(xlabel="step", ylabel="learning rate", title="learning rate")

    metric_names = [k for k in (val[0] if val else {}) if k != "step"]
    for i, name in enumerate(metric_names):
        ax_val.plot([r["step"] for r in val], [r[name] for r in val], "o-", ms=3,
                    color=f"C{i + 2}", label=name)
    ax_val.set(xlabel="step", title="validation (overlap-tile)")
    if metric_names:
        ax_val.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_panels(rows, path, title=None):
    """Panels image | label | weight map | prediction [| foreground probability].

    rows: list of dicts with keys "image" (H, W), "label" (H, W) ints, and optionally
    "weight" (H, W), "pred" (H, W) ints, "prob" (H, W) in [0, 1], "name" str.
    Missing keys leave their panel out. Returns the written path.
    """
    if not rows:
        raise ValueError("plot_panels: expected at least one row, got none")
    columns = [("image", "image", "gray"), ("label", "label", "gray"),
               ("weight", "weight map", "viridis"), ("pred", "prediction", "gray"),
               ("prob", "P(foreground)", "magma")]
    columns = [c for c in columns if any(c[0] in r and r[c[0]] is not None for r in rows)]
    fig = Figure(figsize=(2.6 * len(columns), 2.6 * len(rows)))
    axes = np.asarray(fig.subplots(len(rows), len(columns), squeeze=False))
    for i, row in enumerate(rows):
        for j, (key, label, cmap) in enumerate(columns):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if row.get(key) is None:
                ax.set_axis_off()
                continue
            data = np.asarray(row[key])
            vmin, vmax = (0.0, 1.0) if key == "prob" else (None, None)
            im = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            if key == "weight":
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            if i == 0:
                ax.set_title(label, fontsize=9)
            if j == 0 and row.get("name"):
                ax.set_ylabel(str(row["name"]), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
