"""benchmarks/step.py: each framework timed in a process of its own, PyTorch twice (with
our allocator setting, and as installed), the ratios taken from the recorded times."""

import json
import statistics

import pytest

from minimal_unet import memory


def test_separate_processes_time_three_servers_with_their_own_allocators(load_benchmark,
                                                                         tmp_path):
    pytest.importorskip("torch")
    step_script = load_benchmark("step")
    out = tmp_path / "results"
    step_script.main(["--size", "252-b16", "--dtype", "float32", "--repeat", "2",
                      "--threads", "1", "--out", str(out)])
    record = json.loads((out / "step_cpu.json").read_text())
    assert record["processes"] == "separate"
    (row,) = record["results"]
    for key in ("ours", "torch", "torch_default"):
        times = row[key]["times"]
        assert len(times) == 2 and all(t > 0 for t in times)
        assert row[key]["median"] == statistics.median(times)
        assert len(row[key]["faults"]) == 2
    assert row["ratio"] == row["ours"]["median"] / row["torch"]["median"]
    assert row["ratio_default"] == row["ours"]["median"] / row["torch_default"]["median"]
    # ours and the conservative PyTorch keep freed memory, PyTorch as installed does not
    # (where the C library is glibc; elsewhere the setting is a no-op for all three)
    kept = memory._glibc() is not None
    assert [row[k]["keeps_freed_memory"] for k in ("ours", "torch", "torch_default")] == \
        [kept, kept, False]
    md = (out / "step_cpu.md").read_text()
    assert "PyTorch as installed" in md and "Minor page faults per step" in md
    # the CPU time other guests took during the timed steps, where Linux tells it
    steal = row["steal_s"]
    assert steal is None or (steal >= 0 and f", steal {steal:.2f} s |" in md)


def test_one_process_mode_has_no_installed_column(load_benchmark, tmp_path):
    pytest.importorskip("torch")
    step_script = load_benchmark("step")
    out = tmp_path / "results"
    step_script.main(["--size", "252-b16", "--dtype", "float32", "--repeat", "1",
                      "--threads", "1", "--processes", "one", "--out", str(out)])
    (row,) = json.loads((out / "step_cpu.json").read_text())["results"]
    assert "torch_default" not in row and "ratio_default" not in row
    assert row["ratio"] == row["ours"]["median"] / row["torch"]["median"]
    assert "| n/a | n/a |" in (out / "step_cpu.md").read_text()


def test_seconds_per_step_times_only_the_steps_after_the_warm_up(load_benchmark,
                                                                  monkeypatch):
    # the one-process A/Bs' timer: warm-up steps run but are not timed; median and fastest
    # of the timed ones, each timed step after the settling pause
    step_script = load_benchmark("step")
    durations = iter([9.0, 8.0, 3.0, 1.0, 2.0])  # two warm-up steps, then three timed
    clock = [0.0]
    settled = []
    monkeypatch.setattr(step_script.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(step_script.machine, "settle", lambda: settled.append(clock[0]))

    def run():
        clock[0] += next(durations)

    assert step_script.seconds_per_step(run, 3) == (2.0, 1.0)
    assert len(settled) == 5  # a pause before every step, warm-up included
    with pytest.raises(StopIteration):
        next(durations)  # exactly warm_up + steps steps ran
