"""Every test runs under pytest-timeout: a hang becomes a failure that names the test."""

import subprocess
import sys
from pathlib import Path

import tomllib


def test_pytest_config_gives_every_test_a_timeout():
    config = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    options = config["tool"]["pytest"]["ini_options"]
    assert 0 < int(options["timeout"]) <= 900 and options["timeout_method"] == "thread"
    assert any(req.startswith("pytest-timeout") for req in
               config["project"]["optional-dependencies"]["test"])


def test_a_hanging_test_fails_with_its_name(tmp_path):
    (tmp_path / "test_hang.py").write_text(
        "import time\n\ndef test_hangs_forever():\n    time.sleep(600)\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "timeout=2",
         "-o", "timeout_method=thread", str(tmp_path / "test_hang.py")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "Timeout" in result.stdout + result.stderr
    assert "test_hangs_forever" in result.stdout + result.stderr
