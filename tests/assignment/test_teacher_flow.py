"""The whole teacher flow in a temporary folder, with cheating copies.

make (full and --part 2) -> grade the untouched copy (0 %) -> restore the solutions
(100 %) -> grade a copy that cheats on several exercises at once, one trick each; every
cheated exercise must score 0 with a reason naming the trick, every other exercise full
marks, and the grader must finish and write the results itself. The same copy's package
forks a detached daemon (double fork, os.setsid) on import that waits for grading to end
and would then rewrite the results; the grader kills it first. As root, the child also
runs as `nobody`: a cheat that writes into the results folder and into the grader's
installed package is refused.
"""

import json
import os
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from minimal_unet.assignment import grade, make_student_copy
from minimal_unet.assignment.course import load_course

REPO = Path(__file__).resolve().parents[2]
SECONDS = 20  # per exercise: start-up (numpy, scipy) takes ~1-3 s on a loaded machine


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    path = tmp_path_factory.mktemp("course") / "course.json"
    path.write_text(json.dumps({"seconds_per_exercise": SECONDS}))
    return load_course(path)


@pytest.fixture(scope="module")
def copies(tmp_path_factory, course):
    root = tmp_path_factory.mktemp("flow")
    full = make_student_copy(root / "full", course=course)
    part2 = make_student_copy(root / "part2", part=2, course=course)
    return root, full, part2


def _restore(copy, files):
    """The copy with the teacher's source put back for `files` (the solutions restored)."""
    for relative in files:
        shutil.copy2(REPO / relative, copy / relative)


def _replace_function(path, name, body):
    """Replace the body of top-level function `name` in `path` by `body` (after the def)."""
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"def {name}("))
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].strip() and not lines[i].startswith((" ", "\t", ")"))), len(lines))
    signature_end = next(i for i in range(start, end) if lines[i].rstrip().endswith(":"))
    lines[signature_end + 1:end] = [textwrap.indent(textwrap.dedent(body), "    "), "\n\n"]
    path.write_text("".join(lines))


def test_make_lists_each_exercise_once_with_the_copy_line(copies, course):
    root, full, part2 = copies
    assert [name for name, _, _ in full] == course.order  # curriculum order
    assert [name for name, _, _ in part2] == course.exercises(part=2)
    for name, path, line in full:
        text = (root / "full" / path).read_text().splitlines()[line - 1]
        assert text.strip().startswith("raise NotImplementedError(") and f"{name}: " in text
    markdown = (root / "full" / "ASSIGNMENT.md").read_text()
    for name, path, line in full:
        assert f"`{name}` in `{path}`, line {line} " in markdown
    for section in ("## Setup", "Colab", "## Rules", "## Check your work", "## Submit"):
        assert section in markdown
    # part 2 strips only the backward layers: the forward naive twins keep their solution
    relu = (root / "part2" / "minimal_unet" / "ops" / "relu.py").read_text()
    assert "relu_forward_naive: " not in relu and "raise NotImplementedError('relu_backward" in relu


def test_untouched_copy_scores_zero_and_solution_full_marks(copies, course, tmp_path):
    root, full, part2 = copies
    summary = grade(root / "full", course=course, json_path=tmp_path / "scores.json")
    assert summary["total"]["points"] == 0 and summary["total"]["max_points"] > 0
    assert {row["status"] for row in summary["exercises"]} == {"not implemented"}
    assert json.loads((tmp_path / "scores.json").read_text())["total"]["points"] == 0
    part = grade(root / "part2", part=2, course=course)
    assert [r["exercise"] for r in part["exercises"]] == course.exercises(part=2)
    assert part["total"]["points"] == 0

    solved = tmp_path / "solved"
    shutil.copytree(root / "full", solved)
    _restore(solved, sorted({path for _, path, _ in full}))
    summary = grade(solved, course=course)
    failing = [(r["exercise"], r["reason"]) for r in summary["exercises"] if r["score"] != 1]
    assert not failing
    assert summary["total"]["full_marks"]


CHEATS = {
    # exercise: (file, function, body, words the reason must contain)
    "relu_forward_naive": ("minimal_unet/ops/relu.py", "relu_forward_naive",
                           "return relu_forward(x)\n", "minimal_unet.ops.relu.relu_forward"),
    "conv2d_forward_naive": ("minimal_unet/ops/conv2d.py", "conv2d_forward_naive", """\
        import torch
        y = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                       torch.from_numpy(b), padding=pad).numpy()
        return y, (x, w, b, pad)
        """, "import torch"),
    "relu_backward_naive": ("minimal_unet/ops/relu.py", "relu_backward_naive",
                            "while True:\n    pass\n", "time limit"),
    "maxpool2d_forward_naive": ("minimal_unet/ops/maxpool2d.py", "maxpool2d_forward_naive", """\
        hog = np.ones(30 * 2**30 // 8)  # 30 GB
        return maxpool2d_forward(x) if hog.size else None
        """, "MemoryError"),
    "upconv2d_forward_naive": ("minimal_unet/ops/upconv2d.py", "upconv2d_forward_naive",
                               "import os\nos._exit(0)\n", "exited (exit code 0)"),
    # the module reloaded: its fresh fast twin is a new function object, not the trap
    "maxpool2d_backward_naive": ("minimal_unet/ops/maxpool2d.py", "maxpool2d_backward_naive",
                                 """\
        import importlib, sys
        fresh = importlib.reload(sys.modules[__name__])
        return fresh.maxpool2d_backward(dy, cache)
        """, "minimal_unet.ops.maxpool2d.maxpool2d_backward"),
    # a wrong answer, with numpy.testing and np.allclose made no-ops on import (below)
    "crop_and_concat_forward_naive": ("minimal_unet/ops/crop_concat.py",
                                      "crop_and_concat_forward_naive",
                                      "return np.zeros((1, 1, 1, 1)), (skip.shape, 0, 0)\n",
                                      "expected"),
}
# As root the child runs as `nobody`: it may not write the results folder nor the grader's
# package (both are root's, not world-writable); the cheat reports what was refused.
WRITE_CHEAT = ("minimal_unet/ops/crop_concat.py", "crop_and_concat_backward_naive", """\
    import os
    refused = []
    for folder in ({results_dir!r}, {package_dir!r}):
        try:
            with open(os.path.join(folder, "forged_by_student.txt"), "w") as f:
                f.write("forged")
        except OSError as error:
            refused.append(type(error).__name__)
    link = os.path.join(os.path.dirname(os.path.dirname(__file__)), "teacher_secret.txt")
    try:
        open(link).read()
    except OSError as error:
        refused.append(type(error).__name__)
    raise RuntimeError("refused: " + ", ".join(refused))
    """, "refused: PermissionError, PermissionError, PermissionError")
ON_IMPORT = """
import atexit as _atexit, json as _json, os as _os, time as _time
import numpy as _np, numpy.testing as _npt
_npt.assert_allclose = _npt.assert_array_equal = lambda *a, **k: None
_np.allclose = lambda *a, **k: True
def _forge():
    path = _os.environ.get("FORGE_RESULTS") or "{results}"
    try:
        with open(path, "w") as f:
            _json.dump({{"total": {{"points": 999, "full_marks": True}}}}, f)
    except OSError:
        pass
_atexit.register(_forge)
_forge()
def _daemon():  # double fork + setsid: a daemon that waits for grading to end, then forges
    if _os.fork() == 0:
        _os.setsid()
        if _os.fork() == 0:
            for _ in range(1200):
                _time.sleep(0.05)
                if _os.path.exists(_os.path.join("{witness}", "go")):
                    break
            with open(_os.path.join("{witness}", "daemon_%d" % _os.getpid()), "w") as f:
                f.write("alive")
            _forge()
        _os._exit(0)
_daemon()
"""


def test_cheating_copy_scores_zero_on_each_cheated_exercise(copies, course, tmp_path):
    root, full, _ = copies
    cheat = tmp_path / "cheat"
    shutil.copytree(root / "full", cheat)
    _restore(cheat, sorted({path for _, path, _ in full}))
    for path, function, body, _ in CHEATS.values():
        _replace_function(cheat / path, function, body)
    # a submitted conftest.py and graded tests that pass everything change nothing
    (cheat / "conftest.py").write_text("raise SystemExit('a conftest of the submission ran')\n")
    for graded in (cheat / "minimal_unet" / "assignment_tests").glob("*.py"):
        graded.write_text("TESTS = []\nMODULES = ()\n")
    cheats = dict(CHEATS)
    package_dir = REPO / "minimal_unet"
    if os.name == "posix" and os.geteuid() == 0:
        path, function, body, words = WRITE_CHEAT
        cheats[function] = (path, function, body.format(results_dir=str(tmp_path),
                                                        package_dir=str(package_dir)), words)
        _replace_function(cheat / path, function, cheats[function][2])
        # a link to a file only root may read: copied as a link, neither followed nor chmod-ed
        secret = Path(tempfile.mkdtemp(prefix="minimal_unet_secret_")) / "secret.txt"
        secret.parent.chmod(0o755)
        secret.write_text("the teacher's")
        secret.chmod(0o600)
        (cheat / "minimal_unet" / "teacher_secret.txt").symlink_to(secret)
    results = tmp_path / "results.json"
    witness = Path(tempfile.mkdtemp(prefix="minimal_unet_witness_"))
    witness.chmod(0o777)  # the daemons may write here whoever they run as: proof they lived
    init = cheat / "minimal_unet" / "__init__.py"
    init.write_text(init.read_text() + ON_IMPORT.format(results=results, witness=witness))

    summary = grade(cheat, course=course, json_path=results)
    written_at_end = results.read_text()
    (witness / "go").write_text("")  # a daemon still alive forges now
    time.sleep(2)
    alive = sorted(p.name for p in witness.iterdir() if p.name != "go")
    shutil.rmtree(witness)
    assert not alive, f"daemons forked by the student's code outlived grading: {alive}"
    assert results.read_text() == written_at_end
    assert not list(tmp_path.glob("forged_by_student.txt"))
    assert not (package_dir / "forged_by_student.txt").exists()
    if os.name == "posix" and os.geteuid() == 0:
        assert secret.stat().st_mode & 0o777 == 0o600
        shutil.rmtree(secret.parent)
    rows = {r["exercise"]: r for r in summary["exercises"]}
    for exercise, (_, _, _, words) in cheats.items():
        assert rows[exercise]["points"] == 0, (exercise, rows[exercise])
        assert words in rows[exercise]["reason"], (exercise, rows[exercise]["reason"])
    honest = [r for name, r in rows.items() if name not in cheats]
    assert honest and all(r["score"] == 1 for r in honest), [
        (r["exercise"], r["reason"]) for r in honest if r["score"] != 1]
    import sys

    leaked = [name for name, module in list(sys.modules.items())
              if str(getattr(module, "__file__", "") or "").startswith(str(cheat))]
    assert not leaked, f"the grader imported the student's code: {leaked}"
    written = json.loads(results.read_text())  # the grader's file, not the forged one
    assert written["total"]["points"] == summary["total"]["points"]
    assert not written["total"]["full_marks"]


def test_leftover_daemons_are_killed_without_the_privilege_drop(copies, course, tmp_path,
                                                               monkeypatch):
    # the path of a grader that is not root (the child runs as the grader's own user):
    # the daemons forked on import are still killed when each exercise ends
    from minimal_unet.assignment import sandbox

    monkeypatch.setattr(sandbox, "_drop_privileges", lambda: None)
    daemon = tmp_path / "daemon"
    shutil.copytree(copies[0] / "full", daemon)
    _restore(daemon, ["minimal_unet/ops/relu.py"])
    results = tmp_path / "results.json"
    witness = Path(tempfile.mkdtemp(prefix="minimal_unet_witness_"))
    init = daemon / "minimal_unet" / "__init__.py"
    init.write_text(init.read_text() + ON_IMPORT.format(results=results, witness=witness))
    summary = grade(daemon, exercises=["relu_forward_naive", "relu_backward_naive"],
                    course=course, json_path=results)
    written_at_end = results.read_text()
    (witness / "go").write_text("")
    time.sleep(2)
    alive = sorted(p.name for p in witness.iterdir() if p.name != "go")
    shutil.rmtree(witness)
    assert not alive, f"daemons forked by the student's code outlived grading: {alive}"
    assert results.read_text() == written_at_end
    assert summary["total"]["full_marks"], summary["exercises"]


def test_the_copy_gives_no_answer_away(copies):
    root = copies[0] / "full"
    bughunt = (root / "minimal_unet" / "bughunt.py").read_text()
    body = bughunt.split("def answer_key(")[1].split("\ndef ")[0]
    assert "raise RuntimeError(\"answer_key: the bug hunt's answer key is the grader's" in body
    assert "check(" not in body
    # the suspects' letters: drawn per copy, the key only in the teacher's file beside it
    from minimal_unet import bughunt as hunt
    from minimal_unet.assignment.make import teacher_file

    table = root / "minimal_unet" / "bughunt_suspects.json"
    key = json.loads(teacher_file(root).read_text())["bughunt"]["key"]
    assert hunt.answer_key(table=table) == key
    assert "broken" not in table.read_text() and "key" not in table.read_text()
    kernel = (root / "kernels" / "numba" / "maxpool2d.py").read_text()
    assert "withheld" in kernel and "cuda.jit" not in kernel
    oracles = (root / "minimal_unet" / "assignment_tests" / "_oracles.py").read_text()
    assert "np.ndindex" not in oracles  # no per-element finite differences to copy
    graded = (root / "minimal_unet" / "assignment_tests" / "relu.py").read_text()
    assert "forward_hand_values" in graded and "leaves_input_alone" not in graded  # hidden
    for notebook in (root / "notebooks").glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code")


def test_feedback_names_the_students_line_and_check_runs_public_tests(copies, course, tmp_path):
    root, full, _ = copies
    buggy = tmp_path / "buggy"
    shutil.copytree(root / "full", buggy)
    _restore(buggy, ["minimal_unet/ops/conv2d.py"])
    _replace_function(buggy / "minimal_unet" / "ops" / "conv2d.py", "conv2d_forward_naive", """\
        y = np.zeros((x.shape[0], w.shape[0], x.shape[2], x.shape[3]), dtype=x.dtype)
        for index in np.ndindex(y.shape):
            y[index] = x[index[0], 0, index[2] + 5, index[3]]  # the padding forgotten
        return y, (x, w, b, pad)
        """)
    lines = (buggy / "minimal_unet" / "ops" / "conv2d.py").read_text().splitlines()
    bad_line = next(i for i, text in enumerate(lines, 1) if "the padding forgotten" in text)
    summary = grade(buggy, exercises=["conv2d_forward_naive"], course=course, verbose=True)
    (row,) = summary["exercises"]
    assert row["points"] == 0 and row["reason"].startswith("IndexError")
    assert f"(at minimal_unet/ops/conv2d.py:{bad_line})" in row["reason"]
    frames = row["tests"][0]["frames"]
    assert frames[-1][:3] == ["minimal_unet/ops/conv2d.py", bad_line, "conv2d_forward_naive"]
    assert all(not f[0].startswith("minimal_unet/assignment") for f in frames)

    from minimal_unet.assignment import check

    out = tmp_path / "check.txt"
    with out.open("w") as stream:
        checked = check("conv2d_forward_naive", buggy, course=course, file=stream)
    public = [t for t, _, hidden in course.graded_tests(["conv2d_forward_naive"]) if not hidden]
    assert len(checked["exercises"][0]["tests"]) == len(public) < len(row["tests"])
    assert f"minimal_unet/ops/conv2d.py:{bad_line} in conv2d_forward_naive" in out.read_text()


def test_make_needs_no_notebook_packages_and_grading_no_optional_ones(tmp_path):
    # nbformat (the notebooks extra) and torch made unimportable: make still works
    code = ("import sys; sys.modules['nbformat'] = None; sys.modules['torch'] = None\n"
            "from minimal_unet.assignment import make_student_copy\n"
            f"make_student_copy({str(tmp_path / 'copy')!r}, part=1)\n")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "copy" / "ASSIGNMENT.md").is_file()
    # the graded tests never use torch (it is blocked in the sandbox anyway): their number
    # cannot depend on what is installed
    graded = REPO / "minimal_unet" / "assignment_tests"
    assert not [p.name for p in graded.glob("*.py") if "torch" in p.read_text()]


def test_a_package_that_hangs_on_import_costs_one_time_limit(copies, tmp_path):
    import time

    course_file = tmp_path / "course.json"
    course_file.write_text(json.dumps({"seconds_per_exercise": 6}))
    hangs = tmp_path / "hangs"
    shutil.copytree(copies[0] / "full", hangs)
    init = hangs / "minimal_unet" / "__init__.py"
    init.write_text(init.read_text() + "\nwhile True:\n    pass\n")
    start = time.monotonic()
    summary = grade(hangs, part=1, course=course_file)
    elapsed = time.monotonic() - start
    rows = summary["exercises"]
    assert len(rows) == 5 and all(r["points"] == 0 and "time limit" in r["reason"] for r in rows)
    assert elapsed < 4 * 6, f"{elapsed:.0f} s: the hang was waited out more than once"


def test_the_results_file_replaces_a_link_never_writes_through_it(tmp_path):
    # a child running as the grader's own user could put a link where the results go
    from minimal_unet.assignment.grade import write_results

    victim = tmp_path / "teachers_file.txt"
    victim.write_text("keep me")
    results = tmp_path / "results.json"
    results.symlink_to(victim)
    write_results(results, '{"score": 1}\n')
    assert victim.read_text() == "keep me"
    assert not results.is_symlink() and results.read_text() == '{"score": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "teachers_file.txt"]
