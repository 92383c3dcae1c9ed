"""Data loss: outputs never overwrite, never land in the inputs, never collide."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from .conftest import assert_error, assert_unchanged, run_cli, snapshot


def test_predict_into_the_data_folder_keeps_the_ground_truth(model_file, dataset):
    # The issue: `predict MODEL data/images --out data` overwrote data/masks, exit 0.
    before = snapshot(dataset)
    result = run_cli("predict", model_file, dataset / "images", "--out", dataset)
    assert_error(result, 2, str(dataset / "masks" / "synthetic_000.png"), "--overwrite")
    assert_unchanged(before)
    assert not (dataset / "probabilities").exists()  # nothing written before the refusal


def test_predict_output_resolving_into_an_input_folder_is_refused(model_file, dataset):
    before = snapshot(dataset)
    # Even with --overwrite, and through '..': the masks would land inside images/.
    sneaky = dataset / "masks" / ".." / "images"
    result = run_cli("predict", model_file, dataset / "images", "--out", sneaky, "--overwrite")
    assert_error(result, 2, "resolves into the input", "images")
    assert_unchanged(before)
    assert sorted(p.name for p in (dataset / "images").iterdir()) == [
        "synthetic_000.png", "synthetic_001.png", "synthetic_002.png"]


def test_predict_output_onto_an_input_file_is_refused(model_file, tmp_path):
    # Input file out/masks/a.png itself: writing out/masks/a.png would replace it.
    (tmp_path / "out" / "masks").mkdir(parents=True)
    image = tmp_path / "out" / "masks" / "a.png"
    Image.fromarray(np.full((20, 20), 7, np.uint8)).save(image)
    before = snapshot(tmp_path)
    result = run_cli("predict", model_file, image, "--out", tmp_path / "out", "--overwrite")
    assert_error(result, 2, "resolves into the input", "a.png")
    assert_unchanged(before)


@pytest.mark.parametrize("names", [("a.png", "a.tif"), ("d1/x.png", "d2/x.png")])
def test_stem_collisions_are_refused_naming_both(model_file, tmp_path, names):
    inputs = []
    for name in names:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((20, 20), 9, np.uint8)).save(path)
        inputs.append(path if "/" not in name else path.parent)
    before = snapshot(tmp_path)
    result = run_cli("predict", model_file, *inputs, "--out", tmp_path / "out")
    assert_error(result, 2, names[0].split("/")[-1], names[1].split("/")[-1], "unique")
    assert_unchanged(before)
    assert not (tmp_path / "out").exists()


def test_predict_existing_outputs_need_overwrite(model_file, dataset, tmp_path):
    out = tmp_path / "pred"
    assert run_cli("predict", model_file, dataset / "images", "--out", out).returncode == 0
    before = snapshot(out)
    result = run_cli("predict", model_file, dataset / "images", "--out", out)
    assert_error(result, 2, str(out / "masks" / "synthetic_000.png"), "--overwrite")
    assert_unchanged(before)
    ok = run_cli("predict", model_file, dataset / "images", "--out", out, "--overwrite")
    assert ok.returncode == 0, ok.stderr


def test_train_into_an_existing_run_is_refused(trained_run, tmp_path):
    data, run = trained_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = snapshot(copy)
    # Forgetting --resume after a crash must not lose the run.
    result = run_cli("train", data, "--preset", "tiny", "--steps", 3, "--out", copy,
                     "--no-progress")
    assert_error(result, 2, str(copy), "--resume", "--overwrite")
    assert_unchanged(before)
    both = run_cli("train", data, "--resume", "--overwrite", "--out", copy)
    assert_error(both, 2, "--resume and --overwrite")
    assert_unchanged(before)


def test_train_output_inside_the_data_is_refused(dataset):
    before = snapshot(dataset)
    result = run_cli("train", dataset, "--preset", "tiny", "--steps", 1, "--out",
                     dataset / "images" / "run", "--no-progress")
    assert_error(result, 2, "resolves into the input")
    assert_unchanged(before)
    assert not (dataset / "images" / "run").exists()


def test_train_out_that_is_a_file_fails_before_work(dataset, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("precious")
    before = snapshot(tmp_path)
    result = run_cli("train", dataset, "--preset", "tiny", "--steps", 1, "--out", blocker,
                     "--no-progress")
    assert_error(result, 2, str(blocker), "existing file")
    result = run_cli("train", dataset, "--preset", "tiny", "--steps", 1, "--out",
                     blocker / "sub", "--no-progress")
    assert_error(result, 2, "is a file")
    assert_unchanged(before)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_train_read_only_out_fails_before_work(dataset, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_cli("train", dataset, "--preset", "tiny", "--steps", 1, "--out",
                         locked / "run", "--no-progress")
        assert_error(result, 2, "read-only")
    finally:
        locked.chmod(0o755)


def test_too_small_training_image_fails_before_the_first_step(dataset, tmp_path):
    # The tiny preset's tile 60 has a 20 px output window; a 16 px image cannot hold it.
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(dataset / "images" / "zz_small.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(dataset / "masks" / "zz_small.png")
    out = tmp_path / "run"
    result = run_cli("train", dataset, "--preset", "tiny", "--steps", 200, "--out", out,
                     "--no-progress")
    assert_error(result, 2, "zz_small", "16x16", "20")
    assert not (out / "checkpoint.npz").exists() and not (out / "train_log.csv").exists()


def test_evaluate_never_writes_into_its_inputs(dataset, tmp_path):
    before = snapshot(dataset)
    result = run_cli("evaluate", dataset / "masks", dataset / "masks", "--out",
                     dataset / "masks" / "metrics.json")
    assert_error(result, 2, "resolves into the input")
    assert_unchanged(before)
    # The default lands beside the predictions folder, not in it; a second run is refused.
    ok = run_cli("evaluate", dataset / "masks", dataset / "masks", "--no-warping")
    assert ok.returncode == 0, ok.stderr
    assert (dataset / "metrics.json").is_file()
    assert_unchanged(before)
    again = run_cli("evaluate", dataset / "masks", dataset / "masks", "--no-warping")
    assert_error(again, 2, "metrics.json", "--overwrite")


def test_default_output_folders_are_fresh(model_file, dataset, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for _ in range(2):
        result = run_cli("predict", model_file, dataset / "images", cwd=work)
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (work / "runs").iterdir()) == ["predict", "predict-2"]


def test_model_file_has_the_checkpoints_permissions(trained_run):
    _, run = trained_run
    mode = (run / "checkpoint.npz").stat().st_mode & 0o777
    assert (run / "model.npz").stat().st_mode & 0o777 == mode
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # the usual mode of a new file, not private 0600
