"""Every command of docs/step_through.md runs, in order, and prints what the guide says.

Each fenced ```bash or ```python block is one step: bash blocks run with `bash -e`,
python blocks as a script, both from the repository root with this interpreter's folder
first on PATH (so `python` is the project's). A ```text block right after a runnable block
lists lines that must appear in its output. Scratch files go to a temporary TMPDIR.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "step_through.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.S | re.M)


def guide_steps():
    """[(kind, code, expected lines)] for every runnable block, in the guide's order."""
    blocks = [(m.group(1), m.group(2)) for m in FENCE.finditer(GUIDE.read_text())]
    steps = []
    for index, (kind, code) in enumerate(blocks):
        if kind not in ("bash", "python"):
            continue
        expected = []
        if index + 1 < len(blocks) and blocks[index + 1][0] == "text":
            expected = [line for line in blocks[index + 1][1].splitlines() if line.strip()]
        steps.append((kind, code, expected))
    return steps


STEPS = guide_steps()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("step_through")


def test_the_guide_has_a_command_for_every_section():
    text = GUIDE.read_text()
    assert len(STEPS) >= 8
    for needle in ("python -m pdb", "Trace()", "NUMBA_ENABLE_CUDASIM=1", "get_kernel(",
                   "gdb -batch", "get_backend(", "conv2d_forward_naive"):
        assert needle in text, needle
    assert all(expected for _, _, expected in STEPS), "every command lists its output"


@pytest.mark.parametrize("index", range(len(STEPS)))
def test_guide_command(index, scratch):
    kind, code, expected = STEPS[index]
    if code.lstrip().startswith("STEP=") and "gdb -batch" in code and not shutil.which("gdb"):
        pytest.skip("gdb is not installed")
    if "get_kernel(" in code and not shutil.which("g++"):
        pytest.skip("g++ is not installed (the CUDA emulator compiles with it)")
    env = dict(os.environ, TMPDIR=str(scratch), PYTHONDONTWRITEBYTECODE="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("NUMBA_ENABLE_CUDASIM", None)  # each command sets what it needs
    if kind == "bash":
        command = ["bash", "-e", "-o", "pipefail", "-c", code]
    else:
        script = scratch / f"step_{index}.py"
        script.write_text(code)
        command = [sys.executable, str(script)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Traceback" not in output and "***" not in output, output[-4000:]
    for line in expected:
        assert line in output, f"expected {line!r} in the output of step {index}:\n{output}"
