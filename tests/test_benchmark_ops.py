"""benchmarks/ops.py's command line: settings that cannot be measured are refused before
any timing starts (and before the result folder is made)."""

import pytest


@pytest.mark.parametrize("argv, message", [
    (["--conv-thread-mib", "-1"], "--conv-thread-mib: expected a number >= 0, got -1.0"),
    (["--conv-block-mib", "0"], "--conv-block-mib: expected a number > 0, got 0.0"),
    (["--repeat", "0"], "--repeat: expected an int >= 1, got 0"),
])
def test_refuses_bad_settings_before_timing(load_benchmark, tmp_path, capsys, argv, message):
    ops_script = load_benchmark("ops")
    out = tmp_path / "results"
    with pytest.raises(SystemExit) as exit_info:
        ops_script.main([*argv, "--out", str(out)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
