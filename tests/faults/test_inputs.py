"""Silently wrong answers and crashes on legal-but-unusual or broken inputs."""

import json

import numpy as np
import pytest
import tifffile
from PIL import Image

from minimal_unet.data.readers import read_array, read_folder, to_float_image
from minimal_unet.metrics import (
    adapted_rand_error,
    dice,
    evaluate,
    foreground_iou,
    iou,
    pixel_f_error,
)

from .conftest import assert_error, assert_unchanged, run_cli, snapshot


def _float_tiff_with(path, value, where=(3, 5), size=40):
    image = np.random.default_rng(0).random((size, size)).astype(np.float32)
    image[where] = value
    tifffile.imwrite(path, image)
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_pixel_in_predict_input_is_named(model_file, tmp_path, value):
    # The issue: one NaN pixel made the whole mask background, exit 0.
    good = tmp_path / "in" / "a_good.tif"
    good.parent.mkdir()
    tifffile.imwrite(good, np.ones((40, 40), np.float32))
    bad = _float_tiff_with(tmp_path / "in" / "b_bad.tif", value)
    result = run_cli("predict", model_file, tmp_path / "in", "--out", tmp_path / "out")
    assert_error(result, 2, str(bad), "(3, 5)", "finite")
    assert not (tmp_path / "out").exists()  # checked before the first prediction


def test_non_finite_pixel_in_training_data_is_named(dataset, tmp_path):
    # The issue: it read as "loss became nan ... try a smaller learning rate".
    (dataset / "images" / "synthetic_001.png").unlink()
    bad = _float_tiff_with(dataset / "images" / "synthetic_001.tif", np.nan, (11, 13), 48)
    result = run_cli("train", dataset, "--preset", "tiny", "--steps", 2, "--out",
                     tmp_path / "run", "--no-progress")
    assert_error(result, 2, str(bad), "(11, 13)")


def test_palette_png_is_read_as_grey_values(model_file, tmp_path):
    # A grey ramp stored as palette indices that run the other way: index i -> grey 255 - i.
    grey = np.tile(np.arange(0, 250, 5, dtype=np.uint8), (50, 1))  # (50, 50)
    palette_image = Image.fromarray((255 - grey).astype(np.uint8), mode="P")
    palette_image.putpalette([v for i in range(256) for v in (255 - i,) * 3])
    (tmp_path / "p").mkdir()
    (tmp_path / "l").mkdir()
    palette_image.save(tmp_path / "p" / "x.png")
    Image.fromarray(grey).save(tmp_path / "l" / "x.png")
    assert Image.open(tmp_path / "p" / "x.png").mode == "P"
    np.testing.assert_array_equal(to_float_image(read_array(tmp_path / "p" / "x.png")),
                                  grey / np.float32(255))
    for sub in ("p", "l"):
        result = run_cli("predict", model_file, tmp_path / sub, "--out", tmp_path / f"o{sub}")
        assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "op" / "probabilities" / "x.tif"),
                                  tifffile.imread(tmp_path / "ol" / "probabilities" / "x.tif"))


@pytest.mark.parametrize("flag, value", [
    ("--threshold", "nan"), ("--threshold", "-3"), ("--threshold", "1.5"),
    ("--threshold", "inf"),
])
def test_predict_flags_must_be_finite_and_in_range(model_file, dataset, tmp_path, flag,
                                                    value):
    result = run_cli("predict", model_file, dataset / "images", "--out", tmp_path / "o",
                     flag, value)
    assert_error(result, 2, flag, value, "[0, 1]")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag, value", [
    ("--lr", "inf"), ("--lr", "nan"), ("--lr", "-1"), ("--lr", "0"),
    ("--val-every", "-1"), ("--checkpoint-every", "-5"), ("--n-val", "-1"),
])
def test_train_flags_must_be_finite_and_in_range(dataset, tmp_path, flag, value):
    result = run_cli("train", dataset, "--preset", "tiny", "--out", tmp_path / "run", flag,
                     value)
    assert_error(result, 2, flag, value)
    assert not (tmp_path / "run").exists()


def test_hidden_files_are_skipped_by_every_reader(model_file, dataset, tmp_path):
    # macOS droppings: not images at all. They stopped the whole predict batch.
    for sub in ("images", "masks"):
        (dataset / sub / "._synthetic_000.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
        (dataset / sub / ".DS_Store").write_bytes(b"Bud1 junk")
    assert [s.name for s in read_folder(dataset)] == [
        "synthetic_000", "synthetic_001", "synthetic_002"]
    before = snapshot(dataset)
    result = run_cli("predict", model_file, dataset / "images", "--out", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "o" / "masks").iterdir()) == [
        "synthetic_000.png", "synthetic_001.png", "synthetic_002.png"]
    result = run_cli("evaluate", dataset / "masks", dataset / "masks", "--out",
                     tmp_path / "m.json", "--no-warping")
    assert result.returncode == 0, result.stderr
    result = run_cli("train", dataset, "--preset", "tiny", "--steps", 1, "--out",
                     tmp_path / "run", "--no-progress", "--checkpoint-every", 0)
    assert result.returncode == 0, result.stderr
    assert_unchanged(before)


# ----- empty masks -------------------------------------------------------------------

def test_empty_masks_evaluate_and_train(dataset, tmp_path):
    # The issue: a mask without foreground crashed evaluate and killed train at its first
    # validation ("cannot infer dimensions from zero sized index arrays").
    empty = np.zeros((48, 48), np.uint8)
    Image.fromarray(empty).save(dataset / "masks" / "synthetic_002.png")
    (tmp_path / "pred").mkdir()
    Image.fromarray(empty).save(tmp_path / "pred" / "synthetic_002.png")
    result = run_cli("evaluate", tmp_path / "pred", dataset / "masks", "--out",
                     tmp_path / "m.json")
    assert result.returncode == 0, result.stderr
    def strict(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    metrics = json.loads((tmp_path / "m.json").read_text(), parse_constant=strict)
    per = metrics["per_image"]["synthetic_002"]
    assert per["foreground_iou"] == 1.0 and per["iou"] == [1.0, 1.0]
    assert per["dice"] == [1.0, 1.0] and per["pixel_error"] == 0.0
    assert per["warping_error"] == 0.0 and per["adapted_rand_error"] is None  # undefined
    # Training with the empty image held out for validation (--n-val 1: the last name).
    result = run_cli("train", dataset, "--preset", "tiny", "--steps", 2, "--n-val", 1,
                     "--val-every", 1, "--out", tmp_path / "run", "--no-progress")
    assert result.returncode == 0, result.stderr
    history = json.loads((tmp_path / "run" / "history.json").read_text(),
                         parse_constant=float)
    assert len(history["val"]) == 2


def test_empty_set_conventions_and_skimage_where_it_defines_them():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    zero = np.zeros((12, 12), np.int64)
    blob = zero.copy()
    blob[2:6, 3:9] = 1
    two = blob.copy()
    two[8:11, 1:4] = 2
    # Two empty sets: IoU and Dice 1 (exactly right); one empty: 0.
    assert foreground_iou(zero, zero) == 1.0 and foreground_iou(blob, zero) == 0.0
    np.testing.assert_array_equal(iou(zero, zero), [1.0, 1.0])
    np.testing.assert_array_equal(dice(zero, zero), [1.0, 1.0])
    np.testing.assert_array_equal(iou(blob, zero), [1 - 24 / 144, 0.0])
    # Rand error: as scikit-image (its error is ours; NaN where it gives NaN).
    for seg, gt in ((zero, zero), (blob, zero), (zero, blob), (two, blob), (blob, two)):
        with np.errstate(all="ignore"):
            expected = skimage_metrics.adapted_rand_error(gt, seg)[0]
        got = adapted_rand_error(seg, gt)[0]
        if np.isnan(expected):
            assert np.isnan(got)
        else:
            assert abs(got - expected) < 1e-12
    result = evaluate(zero, zero)
    assert result["pixel_error"] == 0.0 and result["warping_error"] == 0.0
    # F-score pixel error: no foreground anywhere is exactly right; in one only, all wrong.
    assert result["pixel_f_error"] == 0.0
    assert pixel_f_error(blob, zero) == 1.0 and pixel_f_error(zero, blob) == 1.0
