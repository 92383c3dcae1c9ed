"""benchmarks/instances.py end to end: runs trained by real_data.py on a tiny synthetic data
set in the DSB layout, scored with thresholds chosen on the training images only."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def trained(real_data, dsb_like, tmp_path_factory):
    """Two finished smoke runs on the DSB-like data set (2 train, 20 validation images)."""
    root = tmp_path_factory.mktemp("instances")
    argv = ["--data", str(dsb_like), "--dataset", "dsb2018", "--study", "--recipes", "smoke",
            "--seeds", "0,1", "--steps", "3", "--eval-every", "0",
            "--results", str(root / "results"), "--runs", str(root / "runs")]
    assert real_data.main(argv) == 0
    return root


def test_scores_finished_runs_with_thresholds_from_training_images(trained, dsb_like,
                                                                   load_benchmark, capsys):
    instances_script = load_benchmark("instances")
    argv = ["--data", str(dsb_like), "--dataset", "dsb2018", "--recipe", "smoke",
            "--seeds", "0,1", "--results", str(trained / "results"),
            "--runs", str(trained / "runs")]
    assert instances_script.main(argv) == 0
    result = json.loads((trained / "results" / "instances_dsb2018_smoke.json").read_text())
    assert result["train_images"] == 2 and result["val_images"] == 20
    assert result["objects"].startswith("instance ids")
    for seed, row in zip((0, 1), result["seeds"]):
        record = json.loads(
            (trained / "results" / f"real_data_dsb2018_smoke_seed{seed}.json").read_text())
        # the same model and probabilities as the run's last evaluation: its instance Rand
        assert row["at_0.5"]["validation"] == pytest.approx(
            record["final"]["instance_rand_error"], abs=1e-12)
        train_sweep, val_sweep = row["train_sweep"], row["validation_sweep"]
        best = int(np.nanargmin(train_sweep["adapted_rand_error"]))  # training images only
        w = row["watershed"]
        assert [w["threshold"], w["seed_threshold"]] == train_sweep["pairs"][best]
        assert w["validation"] == val_sweep["adapted_rand_error"][best]
        assert 0 <= w["pixel_error"] <= 1 and 0 <= w["foreground_iou"] <= 1
        # over the 0.5 mask the objects' foreground is the run's own mask at 0.5
        on_mask = row["watershed_on_mask"]
        assert on_mask["threshold"] == 0.5
        assert on_mask["pixel_error"] == pytest.approx(record["final"]["pixel_error"])
        assert on_mask["foreground_iou"] == pytest.approx(record["final"]["foreground_iou"])
    mean = result["mean"]["watershed"]["validation"]
    assert mean == pytest.approx(np.mean([r["watershed"]["validation"] for r in result["seeds"]]))
    assert "| mean |" in (trained / "results" / "instances_dsb2018_smoke.md").read_text()
    with pytest.raises(SystemExit):  # an existing result is refused without --overwrite
        instances_script.main(argv)
    assert "exists" in capsys.readouterr().err
    assert instances_script.main([*argv, "--flips"]) == 0  # its own file, 8-fold maps
    flipped = json.loads(
        (trained / "results" / "instances_dsb2018_smoke_flips.json").read_text())
    assert flipped["flips"] and not result["flips"]
    assert flipped["seeds"][0]["validation_sweep"] != result["seeds"][0]["validation_sweep"]


def test_refuses_a_run_that_is_not_finished(trained, dsb_like, load_benchmark, tmp_path):
    instances_script = load_benchmark("instances")
    results = tmp_path / "results"
    results.mkdir()
    record = json.loads(
        (trained / "results" / "real_data_dsb2018_smoke_seed0.json").read_text())
    record["status"] = "running"
    (results / "real_data_dsb2018_smoke_seed0.json").write_text(json.dumps(record))
    argv = ["--data", str(dsb_like), "--dataset", "dsb2018", "--recipe", "smoke",
            "--seeds", "0", "--results", str(results), "--runs", str(trained / "runs")]
    with pytest.raises(SystemExit, match="expected status 'finished', got 'running'"):
        instances_script.main(argv)
    with pytest.raises(SystemExit, match="expected a finished run's record"):
        instances_script.main([*argv[:-4], "--seeds", "5", *argv[-4:]])
    assert not list(results.glob("instances_*"))  # nothing written
