"""The scripts behind `make test-versions` and `make release-check` (.ci/): what they pin and
what they say when something is missing. Running them for real is their own make target."""

import os
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_VERSIONS = REPO / ".ci" / "test_versions.sh"
RELEASE_CHECK = REPO / ".ci" / "release_check.sh"
TOOLS = ("bash", "sed", "grep", "seq", "tr", "dirname", "touch", "rm", "mktemp", "cat")


def _bare_path(tmp_path):
    """A PATH holding the shell tools the scripts use and no Python at all."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} not on this machine"
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_oldest_pins_every_floor_of_the_core_and_test_dependencies():
    result = subprocess.run(["bash", str(TEST_VERSIONS), "constraints"], capture_output=True,
                            text=True, check=True)
    pins = set(result.stdout.split())
    text = (REPO / "pyproject.toml").read_text()
    core = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    floors = re.findall(r'"([a-z-]+)>=([0-9.]+)"', core)
    assert len(floors) >= 6
    for name, floor in floors + [("pytest", None), ("jupytext", None)]:
        matching = [p for p in pins if p.startswith(f"{name}==")]
        assert matching, f"{name} is not pinned to its floor: {sorted(pins)}"
        if floor is not None:
            assert matching == [f"{name}=={floor}.*"]
    assert not [p for p in pins if p.startswith(("torch", "cupy", "numba"))]


def test_a_missing_interpreter_is_named_and_fails(tmp_path):
    env = {"PATH": _bare_path(tmp_path), "HOME": str(tmp_path),
           "PYENV_ROOT": str(tmp_path / "no-pyenv")}
    result = subprocess.run(["bash", str(TEST_VERSIONS), "oldest"], capture_output=True,
                            text=True, env=env)
    oldest = re.search(r'requires-python = ">=([0-9.]+)"',
                       (REPO / "pyproject.toml").read_text()).group(1)
    assert result.returncode == 1
    assert f"Python {oldest} not found" in result.stderr and "NOT TESTED" in result.stderr


def test_release_check_without_a_build_says_to_run_make_dist(tmp_path):
    # A copy of the scripts beside a pyproject.toml of an unbuilt version.
    (tmp_path / ".ci").mkdir()
    shutil.copy2(RELEASE_CHECK, tmp_path / ".ci" / RELEASE_CHECK.name)
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "9.9.9"\n')
    result = subprocess.run(["bash", str(tmp_path / ".ci" / RELEASE_CHECK.name)],
                            capture_output=True, text=True, env={**os.environ})
    assert result.returncode == 1
    assert "minimal_unet-9.9.9-py3-none-any.whl (run make dist first)" in result.stderr


def test_every_core_test_path_exists():
    """A renamed test file must not silently drop out of `make test-versions`."""
    text = TEST_VERSIONS.read_text()
    block = re.search(r"^CORE_TESTS=\((.*?)\)", text, re.S | re.M).group(1)
    paths = [p.strip('"').split("::")[0] for p in block.split()]
    assert len(paths) >= 6
    missing = [p for p in paths if not (REPO / p).exists()]
    assert not missing, f".ci/test_versions.sh CORE_TESTS names missing paths: {missing}"
