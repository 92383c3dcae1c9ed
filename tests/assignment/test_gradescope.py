"""Gradescope's autograder and GitHub Classroom's tests, end to end in a temporary folder.

The zip is unpacked into a folder laid out like Gradescope's (source/, submission/,
results/), run_autograder runs under AUTOGRADER_ROOT, and results.json is validated
against Gradescope's fields, for a correct, a broken and a loose-files submission.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from minimal_unet import __version__
from minimal_unet.assignment import make_student_copy
from minimal_unet.assignment.course import load_course
from minimal_unet.assignment.gradescope import write_autograder, write_classroom, write_submission

REPO = Path(__file__).resolve().parents[2]
PART = 1
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


@pytest.fixture(scope="module")
def solved_part(tmp_path_factory):
    """A part-1 student copy with the solutions put back."""
    root = tmp_path_factory.mktemp("gradescope")
    located = make_student_copy(root / "copy", part=PART)
    for path in {path for _, path, _ in located}:
        shutil.copy2(REPO / path, root / "copy" / path)
    return root / "copy", located


def _layout(tmp_path, submission_files):
    """A Gradescope-like folder: source/ from our zip, submission/ with the given files."""
    root = tmp_path / "autograder"
    write_autograder(tmp_path / "autograder.zip", part=PART)
    with zipfile.ZipFile(tmp_path / "autograder.zip") as z:
        names = set(z.namelist())
        z.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "course.json"} <= names
    with zipfile.ZipFile(tmp_path / "autograder.zip") as z:  # unzip keeps it from `nobody`
        assert z.getinfo("course.json").external_attr >> 16 & 0o777 == 0o600
    setup = (root / "source" / "setup.sh").read_text()
    assert f'pip install "minimal-unet[course]=={__version__}"' in setup
    (root / "submission").mkdir(parents=True)
    for name, path in submission_files.items():
        shutil.copy2(path, root / "submission" / name)
    return root


def _run_autograder(root):
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable,
               PYTHONPATH=str(REPO))
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert isinstance(results["score"], int | float) and isinstance(results["tests"], list)
    for test in results["tests"]:
        assert set(test) == {"name", "score", "max_score", "output", "visibility"}, test
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert 0 <= test["score"] <= test["max_score"] and test["visibility"] in VISIBILITY
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    return results


def _max_points():
    course = load_course()
    return sum(p for _, p, _ in course.graded_tests(course.exercises(part=PART)))


def test_correct_submission_zip_gets_full_marks(solved_part, tmp_path):
    copy, _ = solved_part
    zip_path = write_submission(tmp_path / "submission.zip", copy)
    with zipfile.ZipFile(zip_path) as z:
        assert "minimal_unet/ops/relu.py" in z.namelist()
    results = _run_autograder(_layout(tmp_path, {"submission.zip": zip_path}))
    assert results["score"] == _max_points()
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}


def test_broken_submission_still_writes_results(solved_part, tmp_path):
    copy, _ = solved_part
    broken = tmp_path / "broken"
    shutil.copytree(copy / "minimal_unet", broken / "minimal_unet")
    (broken / "minimal_unet" / "__init__.py").write_text("import this_module_does_not_exist\n")
    shutil.make_archive(str(tmp_path / "broken"), "zip", broken)
    results = _run_autograder(_layout(tmp_path, {"broken.zip": tmp_path / "broken.zip"}))
    assert results["score"] == 0 and results["tests"]
    assert all("does not import" in t["output"] for t in results["tests"])


def test_loose_files_are_laid_over_a_fresh_copy(solved_part, tmp_path):
    copy, _ = solved_part
    results = _run_autograder(_layout(tmp_path, {
        "relu.py": copy / "minimal_unet" / "ops" / "relu.py"}))
    by_exercise = {}
    for test in results["tests"]:
        exercise = test["name"].split(":")[0]
        by_exercise.setdefault(exercise, []).append(test["score"] == test["max_score"])
    assert all(by_exercise["relu_forward_naive"])
    assert not any(by_exercise["conv2d_forward_naive"])


def test_classroom_commands_exit_zero_only_at_full_marks(solved_part, tmp_path):
    copy, located = solved_part
    spec = json.loads(write_classroom(tmp_path / "autograding.json", part=PART).read_text())
    assert [t["name"] for t in spec["tests"]] == load_course().exercises(part=PART)
    run = spec["tests"][0]["run"].split()
    assert run[:3] == ["python", "-m", "minimal_unet.assignment.autograde"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    solved = subprocess.run([sys.executable, *run[1:]], cwd=copy, env=env,
                            capture_output=True, text=True, timeout=300)
    assert solved.returncode == 0, solved.stdout[-2000:]
    untouched = tmp_path / "untouched"
    make_student_copy(untouched, part=PART)
    failing = subprocess.run([sys.executable, *run[1:]], cwd=untouched, env=env,
                             capture_output=True, text=True, timeout=300)
    assert failing.returncode == 1 and "not implemented" in failing.stdout


def test_writers_refuse_to_overwrite(tmp_path):
    (tmp_path / "a.zip").write_text("keep me")
    with pytest.raises(FileExistsError, match="expected a new file"):
        write_autograder(tmp_path / "a.zip", part=PART)
    assert (tmp_path / "a.zip").read_text() == "keep me"


def test_bug_hunt_part_grades_the_answers_file(tmp_path):
    from minimal_unet import bughunt
    from minimal_unet.assignment.autograde import gradescope_results
    from minimal_unet.assignment.make import teacher_file

    copy = tmp_path / "copy"
    make_student_copy(copy, part=6)
    teacher = json.loads(teacher_file(copy).read_text())
    key = teacher["bughunt"]["key"]  # drawn for this copy; not in the copy
    assert "key" not in (copy / "minimal_unet" / "bughunt_suspects.json").read_text()
    # the notebook's suspects (the copy's table) agree with the teacher's key
    assert bughunt.answer_key(table=copy / "minimal_unet" / "bughunt_suspects.json") == key
    answers = dict(key, unet_backward="A" if key["unet_backward"] == "B" else "B")
    (copy / "bughunt_answers.json").write_text(json.dumps(answers))
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    write_submission(root / "submission" / "submission.zip", copy)
    results = gradescope_results(root, course=teacher_file(copy), part=6)
    scores = {t["name"]: t["score"] for t in results["tests"]}
    assert scores == {f"bug hunt: {layer}": float(layer != "unet_backward")
                      for layer in bughunt.LAYERS}
    assert json.loads((root / "results" / "results.json").read_text())["score"] == 3
    # without the teacher's course file there is no key: the bug hunt scores 0, says why
    other = tmp_path / "other"
    (other / "submission").mkdir(parents=True)
    write_submission(other / "submission" / "submission.zip", copy)
    results = gradescope_results(other, part=6)
    assert results["score"] == 0 and "teacher.json" in results["tests"][-1]["output"]
