"""benchmarks/real_data.py end to end on a tiny synthetic data set in the DSB layout."""

import json

import numpy as np
import pytest


def test_study_records_every_run_and_a_summary_and_never_overwrites(real_data, dsb_like,
                                                                   tmp_path, load_benchmark):
    results, runs = tmp_path / "results", tmp_path / "runs"
    argv = ["--data", str(dsb_like), "--dataset", "dsb2018", "--study", "--recipes", "smoke",
            "--seeds", "0,1", "--steps", "2", "--eval-every", "0", "--results", str(results),
            "--runs", str(runs)]
    assert real_data.main(argv) == 0
    for seed in (0, 1):
        stem = f"real_data_dsb2018_smoke_seed{seed}"
        record = json.loads((results / f"{stem}.json").read_text())
        assert record["status"] == "finished" and record["steps"] == 2
        assert record["seed"] == seed and record["recipe"]["name"] == "smoke"
        assert record["curve"][-1]["step"] == 2 and "instance_rand_error" in record["final"]
        assert record["ours"] == record["final"]
        assert record["data"] == dsb_like.name  # the folder's name, never the path
        assert record["machine"]["cpu"] == load_benchmark("machine").cpu_model()  # the model
        for ext in (".json", ".md"):
            assert str(dsb_like) not in (results / f"{stem}{ext}").read_text()
        assert (results / f"{stem}.md").is_file() and (results / f"{stem}.png").is_file()
        assert (runs / stem / "model.npz").is_file()
    summary = json.loads((results / "study_dsb2018.json").read_text())
    assert [(r["recipe"], r["seed"]) for r in summary["rows"]] == [("smoke", 0), ("smoke", 1)]
    mean = summary["means"][0]
    assert mean["finished"] == 2
    assert "Budget per run: 2 steps of training" in (results / "study_dsb2018.md").read_text()
    assert mean["pixel_error"] == pytest.approx(np.mean([r["pixel_error"]
                                                         for r in summary["rows"]]))
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        real_data.main(argv)
    for seed in (0, 1):  # results moved away: the models are still there, still refused
        (results / f"real_data_dsb2018_smoke_seed{seed}.json").unlink()
        (results / f"real_data_dsb2018_smoke_seed{seed}.md").unlink()
    (results / "study_dsb2018.md").unlink()
    with pytest.raises(SystemExit, match="model.npz exists"):
        real_data.main(argv)


def test_bad_arguments_are_one_line_errors(real_data, tmp_path, capsys):
    with pytest.raises(SystemExit):
        real_data.main(["--data", str(tmp_path / "nope"), "--recipe", "smoke", "--steps", "1"])
    assert "--data: expected the data set's folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        real_data.main(["--data", str(tmp_path), "--recipe", "nope", "--steps", "1"])
    assert "recipe: expected one of" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        real_data.main(["--data", str(tmp_path), "--recipe", "smoke"])
    assert "expected a budget" in capsys.readouterr().err
    assert real_data.main(["--list"]) == 0
    assert "isbi-peers" in capsys.readouterr().out


def test_floors_score_the_labels_themselves(real_data, dsb_like, tmp_path):
    argv = ["--data", str(dsb_like), "--dataset", "dsb2018", "--floors", "--results",
            str(tmp_path)]
    assert real_data.main(argv) == 0
    text = (tmp_path / "floors_dsb2018.md").read_text()
    assert "| the mask itself | 0.0000 | 0.0000 | 1.0000 | 0.0000 | 0.0000 |" in text
    assert "separate_touching, 1 px" in text
    with pytest.raises(SystemExit, match="exists"):
        real_data.main(argv)


def test_peer_numbers_in_the_script_are_those_of_peers_md(real_data):
    text = (real_data.REPO / "benchmarks" / "results" / "peers.md").read_text()
    rows = [line for line in text.splitlines() if " steps |" in line  # the quality rows
            and (line.startswith("| ISBI 2012 EM") or line.startswith("| DSB 2018 nuclei"))]
    for dataset, prefix in (("isbi2012", "| ISBI"), ("dsb2018", "| DSB")):
        mine = [r for r in rows if r.startswith(prefix)]
        assert len(mine) == len(real_data.PEERS[dataset])
        for row, peer in zip(mine, real_data.PEERS[dataset]):
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert f"{peer['minutes']} min, {peer['steps']} steps" == cells[1]
            assert float(cells[2]) == peer["pixel_error"]
            assert float(cells[3].split()[0]) == peer["foreground_iou"]
            assert float(cells[4]) == peer["adapted_rand_error"]


def test_keep_finished_continues_a_stopped_study(real_data, dsb_like, tmp_path):
    results = tmp_path / "results"
    argv = ["--data", str(dsb_like), "--dataset", "dsb2018", "--study", "--recipes", "smoke",
            "--seeds", "0,1", "--steps", "1", "--eval-every", "0", "--results", str(results),
            "--runs", str(tmp_path / "runs"), "--tag", "t"]
    assert real_data.main(argv) == 0
    first = json.loads((results / "real_data_dsb2018_smoke_seed0_t.json").read_text())
    # Seed 1 as if the study had been killed during it: a partial record.
    path = results / "real_data_dsb2018_smoke_seed1_t.json"
    partial = json.loads(path.read_text())
    path.write_text(json.dumps({**partial, "status": "running", "started": "killed"}))
    assert real_data.main(argv + ["--keep-finished"]) == 0
    assert json.loads((results / "real_data_dsb2018_smoke_seed0_t.json").read_text()) == first
    rerun = json.loads(path.read_text())
    assert rerun["status"] == "finished" and rerun["started"] != "killed"
    summary = json.loads((results / "study_dsb2018_t.json").read_text())
    assert [r["seed"] for r in summary["rows"]] == [0, 1]
    with pytest.raises(SystemExit, match="ran with budget"):  # another budget: refused
        real_data.main([a if a != "1" else "2" for a in argv] + ["--keep-finished"])


def test_summarize_joins_studies_run_in_parallel_without_training(real_data, dsb_like,
                                                                  tmp_path):
    results = tmp_path / "results"
    common = ["--data", str(dsb_like), "--dataset", "dsb2018", "--study", "--recipes",
              "smoke", "--steps", "1", "--eval-every", "0", "--results", str(results),
              "--runs", str(tmp_path / "runs")]
    assert real_data.main(common + ["--seeds", "0"]) == 0  # one process per seed
    assert real_data.main(common + ["--seeds", "1", "--overwrite"]) == 0
    before = {p.name: p.read_bytes() for p in results.glob("real_data_*.json")}
    with pytest.raises(SystemExit, match="study_dsb2018.md exists"):  # never overwritten
        real_data.main(common + ["--seeds", "0,1,2", "--summarize"])
    assert real_data.main(common + ["--seeds", "0,1,2", "--summarize", "--overwrite",
                                    "--note", "1 step = 1 step"]) == 0
    assert {p.name: p.read_bytes() for p in results.glob("real_data_*.json")} == before
    summary = json.loads((results / "study_dsb2018.json").read_text())
    assert [(r["seed"], r["status"]) for r in summary["rows"]] == [
        (0, "finished"), (1, "finished"), (2, "missing")]
    assert summary["means"][0]["finished"] == 2 and summary["note"] == "1 step = 1 step"
    assert "1 step = 1 step" in (results / "study_dsb2018.md").read_text()
    with pytest.raises(SystemExit, match="ran with budget"):
        real_data.main([a if a != "1" else "5" for a in common] + [
            "--seeds", "0", "--summarize", "--overwrite"])


def test_study_means_average_finished_runs_only(real_data):
    study = real_data.study  # benchmarks/study.py, as real_data.py imports it
    records = [{"recipe_name": "a", "seed": 0, "status": "finished", "steps": 9,
                "final": {"pixel_error": 0.1, "foreground_iou": 0.8}},
               {"recipe_name": "a", "seed": 1, "status": "finished", "steps": 9,
                "final": {"pixel_error": 0.3, "foreground_iou": 0.6},
                "paper_way": {"pixel_error": {"validation": 0.2},
                              "pixel_f_error": {"validation": 0.15},
                              "adapted_rand_error": {"validation": 0.4}}},
               {"recipe_name": "a", "seed": 2, "status": "diverged"},
               {"recipe_name": "b", "seed": 0, "status": "running", "steps": 3,
                "final": {"pixel_error": 0.5}}]
    rows = study.summary_rows(records)
    assert rows[1]["paper_pixel_error"] == 0.2 and "paper_pixel_error" not in rows[0]
    assert rows[1]["paper_pixel_f_error"] == 0.15 and "paper_pixel_f_error" not in rows[0]
    means = study.mean_rows(rows)
    assert means[0]["runs"] == 3 and means[0]["finished"] == 2
    assert means[0]["pixel_error"] == pytest.approx(0.2)  # (0.1 + 0.3) / 2, seed 2 left out
    assert means[0]["foreground_iou"] == pytest.approx(0.7)
    assert means[1] == {"recipe": "b", "runs": 1, "finished": 0}  # nothing finished: no mean
    lines = study.table(means)
    assert lines[0] == "| recipe | runs | finished | pixel_error | foreground_iou |"
    assert lines[2].startswith("| a | 3 | 2 | 0.2000 | 0.7000 |")


def test_resume_continues_a_killed_run_to_the_model_of_one_never_stopped(real_data, dsb_like,
                                                                        tmp_path, monkeypatch):
    def argv(where):
        return ["--data", str(dsb_like), "--dataset", "dsb2018", "--recipe", "smoke",
                "--steps", "4", "--eval-every", "1e-9", "--no-paper-way",
                "--results", str(where / "results"), "--runs", str(where / "runs")]
    assert real_data.main(argv(tmp_path / "whole")) == 0
    stem = "real_data_dsb2018_smoke_seed0"
    write_run = real_data.write_run

    def killed_at_step_three(record, results_dir, stem):
        if record.get("steps") == 3:
            raise KeyboardInterrupt
        write_run(record, results_dir, stem)
    monkeypatch.setattr(real_data, "write_run", killed_at_step_three)
    with pytest.raises(KeyboardInterrupt):
        real_data.main(argv(tmp_path / "parts"))
    monkeypatch.setattr(real_data, "write_run", write_run)
    path = tmp_path / "parts" / "results" / f"{stem}.json"
    first = json.loads(path.read_text())
    assert first["status"] == "running" and first["steps"] == 2
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):  # never silently
        real_data.main(argv(tmp_path / "parts"))
    assert real_data.main(argv(tmp_path / "parts") + ["--resume"]) == 0
    record = json.loads(path.read_text())
    assert record["status"] == "finished" and record["steps"] == 4
    assert [row["step"] for row in record["curve"]] == [1, 2, 3, 4]
    assert record["started"] == first["started"] and record["resumed"][0]["step"] == 2
    assert "at step 2 on" in (path.parent / f"{stem}.md").read_text()
    whole = np.load(tmp_path / "whole" / "runs" / stem / "model.npz", allow_pickle=False)
    parts = np.load(tmp_path / "parts" / "runs" / stem / "model.npz", allow_pickle=False)
    assert sorted(whole.files) == sorted(parts.files)
    for name in whole.files:
        np.testing.assert_array_equal(parts[name], whole[name], err_msg=name)
    assert real_data.main(argv(tmp_path / "parts") + ["--resume"]) == 0  # finished: kept
    assert json.loads(path.read_text()) == record


def test_rescore_adds_what_a_record_lacks_and_refuses_a_model_that_disagrees(
        real_data, dsb_like, tmp_path):
    results = tmp_path / "results"
    argv = ["--data", str(dsb_like), "--dataset", "dsb2018", "--recipe", "smoke", "--steps",
            "1", "--eval-every", "0", "--paper-way", "--paper-train-slices", "2",
            "--results", str(results), "--runs", str(tmp_path / "runs")]
    assert real_data.main(argv) == 0
    path = results / "real_data_dsb2018_smoke_seed0.json"
    whole = json.loads(path.read_text())
    # A record from before pixel_f_error was scored: the metric missing, the rest as run,
    # and the knobs added to recipes since then absent (it ran with their defaults).
    old = json.loads(path.read_text())
    del old["paper_way"]["pixel_f_error"]
    for knob in ("upscale", "halo_w"):
        del old["recipe"][knob]
    path.write_text(json.dumps(old))
    with pytest.raises(SystemExit, match="--overwrite"):
        real_data.main(argv + ["--rescore"])
    assert real_data.main(argv + ["--rescore", "--overwrite"]) == 0
    rescored = json.loads(path.read_text())
    assert rescored["paper_way"]["pixel_f_error"] == whole["paper_way"]["pixel_f_error"]
    assert rescored["paper_way"]["pixel_error"] == whole["paper_way"]["pixel_error"]
    assert rescored["rescored"][0]["added"] == ["pixel_f_error"]
    assert whole["paper_train_slices"] == rescored["rescored"][0]["paper_train_slices"] == 2
    assert rescored["curve"] == whole["curve"]
    # A recorded score the saved model does not give: reported, the record left alone.
    tampered = {**rescored, "paper_way": {**rescored["paper_way"], "pixel_error": {
        **rescored["paper_way"]["pixel_error"], "validation": 0.5}}}
    path.write_text(json.dumps(tampered))
    assert real_data.main(argv + ["--rescore", "--overwrite"]) == 1
    assert json.loads(path.read_text()) == tampered
    # A knob the run set otherwise than recipes.py says now: refused, nothing scored.
    other = {**tampered, "recipe": {**tampered["recipe"], "upscale": 2}}
    path.write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="ran recipe"):
        real_data.main(argv + ["--rescore", "--overwrite"])


def test_weight_averages_are_saved_and_tabulated_beside_the_last_weights(real_data, dsb_like,
                                                                        tmp_path, capsys):
    from minimal_unet.model import UNet

    results, runs = tmp_path / "results", tmp_path / "runs"
    argv = ["--data", str(dsb_like), "--dataset", "dsb2018", "--recipe", "smoke",
            "--steps", "3", "--eval-every", "0", "--results", str(results), "--runs",
            str(runs), "--ema", "0.5,0.9"]
    assert real_data.main(argv) == 0
    stem = "real_data_dsb2018_smoke_seed0"
    record = json.loads((results / f"{stem}.json").read_text())
    assert [e["decay"] for e in record["ema"]] == [0.5, 0.9]
    assert all("net" not in e and e["final"]["step"] == 3 for e in record["ema"])
    average = UNet.load(runs / stem / "model_ema0.5.npz")
    last = UNet.load(runs / stem / "model.npz")
    assert any(not np.array_equal(average.params[k], last.params[k]) for k in last.params)
    md = (results / f"{stem}.md").read_text()
    assert "## Weight averages" in md
    assert f"| average, decay 0.5 | {record['ema'][0]['final']['pixel_error']:.4f} |" in md
    assert f"| last | {record['final']['pixel_error']:.4f} |" in md
    for bad, message in (("0.9,1", "--ema: expected decays in (0, 1)"),
                         ("x", "--ema: expected comma-separated numbers")):
        with pytest.raises(SystemExit):
            real_data.main([*argv[:-1], bad, "--tag", "bad"])
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        real_data.main([*argv, "--resume", "--tag", "resumed"])
    assert "not with --resume" in capsys.readouterr().err
