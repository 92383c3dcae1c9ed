"""docs/make_figures.py: each figure function writes a real, non-trivial PNG."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from minimal_unet.model import UNetConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def make_figures():
    spec = importlib.util.spec_from_file_location("make_figures", REPO / "docs" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_real_png(path, min_size=(200, 150)):
    path = Path(path)
    assert path.is_file() and path.stat().st_size > 5000, path
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        pixels = np.asarray(image.convert("RGB"))
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 20, f"{path}: only {len(colours)} colours, looks blank"


@pytest.mark.parametrize("config, size, n_crops", [
    (UNetConfig(depth=2, base_channels=4), 60, 2),
    (UNetConfig(depth=1, base_channels=2, padding="same"), 16, 1),
])
def test_architecture_figure(make_figures, tmp_path, config, size, n_crops):
    path = make_figures.architecture_figure(config, size, tmp_path / "arch.png")
    assert_real_png(path)
    ax = make_figures.plot_architecture(config, size)
    texts = [t.get_text() for t in ax.texts]
    crops = [t for t in texts if t.startswith("copy")]
    assert len(crops) == n_crops
    # one labelled box per layer-table row, labelled "channels\nsize"
    from minimal_unet import sizes

    rows = sizes.layer_table(config, size)
    assert [t for t in texts if "\n" in t] == [f"{r.shape[0]}\n{r.shape[1]}" for r in rows]


def test_architecture_marks_the_paper_crops(make_figures):
    ax = make_figures.plot_architecture(UNetConfig(), 572, ax=Figure().subplots())
    crops = [t.get_text() for t in ax.texts if t.get_text().startswith("copy")]
    # arXiv:1505.04597, Fig. 1: the skips are cropped by 4, 16, 40 and 88 px per side
    assert sorted(crops) == sorted(f"copy, crop {c}/side" for c in (4, 16, 40, 88))


def test_benchmark_figure_from_json(make_figures, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    assert make_figures.benchmark_figure(results, tmp_path / "none.png") is None
    (results / "ops.json").write_text(json.dumps(
        {"rows": [{"op": "conv2d_forward", "backend": "numpy", "ms": 12.5},
                  {"op": "conv2d_backward", "backend": "numpy", "ms": 30.25}]}))
    (results / "step.json").write_text(json.dumps({"device": "cpu", "seconds": 1.5}))
    path = make_figures.benchmark_figure(results, tmp_path / "bench.png")
    assert_real_png(path)


def test_demo_figures_copied_from_a_run(make_figures, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("predictions.png", "learning_curves.png"):
        make_figures.architecture_figure(UNetConfig(depth=1, base_channels=2), 18, run / name)
    paths = make_figures.demo_figures(tmp_path / "out", runs_dir=run)
    assert [p.name for p in paths] == ["demo_predictions.png", "demo_learning_curves.png"]
    assert paths[0].read_bytes() == (run / "predictions.png").read_bytes()


def test_demo_figures_from_a_tiny_training(make_figures, tmp_path):
    paths = make_figures.demo_figures(tmp_path / "out", runs_dir=tmp_path / "missing", steps=2)
    assert [p.name for p in paths] == ["demo_predictions.png", "demo_learning_curves.png"]
    for path in paths:
        assert_real_png(path)


def test_benchmark_tables_read_each_script_s_json(make_figures):
    step = {"results": [{"config": "paper32", "dtype": "float32", "ratio": 1.4,
                         "peak_ratio": 0.7, "ours": {"median": 9.0}, "torch": {"median": 6.4}}]}
    assert make_figures._table_rows(step) == [
        {"config": "paper32", "dtype": "float32", "ours s": 9.0, "torch s": 6.4,
         "time ours/torch": 1.4, "peak memory ours/torch": 0.7}]
    real = {"steps": 10, "ours": {"pixel_error": 0.1, "foreground_iou": 0.8,
                                  "adapted_rand_error": 0.2, "warping_error": 0.0},
            "peers": {"steps": 30, "pixel_error": 0.07, "foreground_iou": 0.55,
                      "adapted_rand_error": 0.25}}
    rows = make_figures._table_rows(real)
    assert [r["who"] for r in rows] == ["ours", "peers (PyTorch)"]
    assert rows[0]["foreground_iou"] == 0.8 and rows[1]["steps"] == 30
