"""Figures: written as real PNGs of the expected layout, without a display."""

import numpy as np
import pytest
from PIL import Image

from minimal_unet.plots import moving_average, plot_learning_curves, plot_panels


def test_moving_average_against_loop():
    values = [4.0, 2.0, 6.0, 1.0, 3.0]
    got = moving_average(values, 2)
    expected = [4.0, 3.0, 4.0, 3.5, 2.0]  # trailing mean of at most 2 points, by hand
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(moving_average(values, 1), values)
    assert moving_average([], 3).size == 0


def test_learning_curves_png(tmp_path):
    history = {
        "train": [{"step": s, "loss": 1.0 / s, "lr": 0.01, "seconds": 0.1} for s in range(1, 31)],
        "val": [{"step": s, "pixel_error": 0.5 / s, "foreground_iou": 1 - 0.5 / s}
                for s in (10, 20, 30)],
    }
    path = plot_learning_curves(history, tmp_path / "sub" / "curves.png")
    with Image.open(path) as im:
        assert im.format == "PNG"
        width, height = im.size
    assert width > 2 * height  # three panels side by side


def test_learning_curves_without_validation(tmp_path):
    history = {"train": [{"step": 1, "loss": 0.7, "lr": 0.1, "seconds": 0.1}], "val": []}
    with Image.open(plot_learning_curves(history, tmp_path / "c.png")) as im:
        assert im.format == "PNG"


def test_panels_png_grid(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"image": rng.random((16, 12)), "label": rng.integers(0, 2, (16, 12)),
             "weight": rng.random((16, 12)) * 10, "pred": rng.integers(0, 2, (16, 12)),
             "prob": rng.random((16, 12)), "name": f"img{i}"} for i in range(3)]
    with Image.open(plot_panels(rows, tmp_path / "p.png", title="t")) as im:
        five_cols = im.size
    # The same rows without weight and probability: two columns fewer, same rows.
    slim = [{k: v for k, v in r.items() if k not in ("weight", "prob")} for r in rows]
    with Image.open(plot_panels(slim, tmp_path / "q.png")) as im:
        three_cols = im.size
    assert five_cols[0] > three_cols[0] * 1.4
    assert abs(five_cols[1] - three_cols[1]) < 0.1 * five_cols[1]


def test_panels_need_rows(tmp_path):
    with pytest.raises(ValueError, match="at least one row"):
        plot_panels([], tmp_path / "x.png")
