"""The course assignment: solution markers, the student copy, and the autograder.

CI proof: the student copy imports, its graded tests fail with NotImplementedError (not
collection errors), a partly solved copy scores exactly the solved exercises, a wrong
answer is caught, and the repository itself (the solution) scores full marks.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from minimal_unet import assignment

REPO = Path(__file__).resolve().parents[1]
PACKAGE_MODULES = ["minimal_unet", "minimal_unet.ops", "minimal_unet.model",
                   "minimal_unet.gradcheck", "minimal_unet.weight_map", "minimal_unet.train",
                   "minimal_unet.bughunt", "minimal_unet.assignment", "minimal_unet.infer"]

SOURCE = textwrap.dedent('''\
    """Docs may quote a marker:
    # BEGIN SOLUTION
    without opening a region."""


    def square(x):
        """x squared."""
        if x is None:
            raise ValueError("x: expected a number, got None")
        # BEGIN SOLUTION
        # HINT: multiply x by itself
        y = x * x
        return y
        # END SOLUTION


    class Box:
        def area(self, a, b):
            # BEGIN SOLUTION
            return a * b
            # END SOLUTION
    ''')


def run_python(code, student_dir, cwd):
    env = dict(os.environ, PYTHONPATH=str(student_dir), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


# ----------------------------------------------------------------------- markers


def test_find_regions_names_hints_and_ignores_strings():
    regions = assignment.find_regions(SOURCE, "demo.py")
    assert [(r.name, r.hint) for r in regions] == [("square", "multiply x by itself"),
                                                   ("Box.area", "")]
    assert (regions[0].begin, regions[0].end, regions[0].indent) == (10, 14, "    ")
    assert regions[1].indent == " " * 8


def test_strip_solutions_raises_not_implemented_with_name_and_hint():
    stripped = assignment.strip_solutions(SOURCE, "demo.py")
    assert "x * x" not in stripped and "a * b" not in stripped
    assert '"""Docs may quote a marker:\n# BEGIN SOLUTION\n' in stripped  # docstring kept
    namespace = {}
    exec(compile(stripped, "demo.py", "exec"), namespace)
    with pytest.raises(ValueError, match="expected a number"):  # code before the region stays
        namespace["square"](None)
    with pytest.raises(NotImplementedError, match=r"^square: multiply x by itself$"):
        namespace["square"](3)
    with pytest.raises(NotImplementedError, match=r"^Box\.area: "):
        namespace["Box"]().area(2, 3)


@pytest.mark.parametrize("source, message", [
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n",
     "2: expected .# END SOLUTION. to close this region, got the end"),
    ("def f():\n    return 1\n    # END SOLUTION\n", "3: expected '# BEGIN SOLUTION'"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    # END SOLUTION\n",
     "3: expected '# END SOLUTION'.*another BEGIN"),
    ("def f():\n    if 1:\n        # BEGIN SOLUTION\n        pass\n    # END SOLUTION\n",
     "5: expected the END marker at the BEGIN marker's indentation 8, got 4"),
])
def test_bad_markers_are_value_errors_naming_the_line(source, message):
    with pytest.raises(ValueError, match=f"bad.py:{message}"):
        assignment.find_regions(source, "bad.py")


def test_notebook_cells_are_stripped_and_stay_valid(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# BEGIN SOLUTION is only text here"),
        nbformat.v4.new_code_cell("x = 2\n# BEGIN SOLUTION\n# HINT: square it\ny = x * x\n"
                                  "# END SOLUTION\n")])
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    assignment._strip_notebook(path)
    stripped = nbformat.read(path, as_version=4)
    nbformat.validate(stripped)
    assert stripped.cells[0].source == "# BEGIN SOLUTION is only text here"
    assert stripped.cells[1].source == ("x = 2\nraise NotImplementedError("
                                        "'nb cell 1: square it')\n")


def test_the_library_marks_every_graded_exercise_and_nothing_else():
    marked = {r.name for r in assignment.find_exercises(REPO)}
    graded = set(assignment.EXERCISE_ORDER)
    assert marked <= graded, f"marked but never graded: {sorted(marked - graded)}"
    assert graded <= marked, f"graded but not marked: {sorted(graded - marked)}"


# ----------------------------------------------------------------------- the student copy


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "hw"
    regions = assignment.make_student_copy(out)
    return out, regions


def test_make_refuses_a_non_empty_folder(student_copy):
    out, _ = student_copy
    with pytest.raises(FileExistsError, match="expected a new or empty folder"):
        assignment.make_student_copy(out)


def test_student_copy_has_no_solution_left(student_copy):
    out, regions = student_copy
    assert {r.name for r in regions} == {r.name for r in assignment.find_exercises(REPO)}
    assert assignment.find_exercises(out) == []
    relu = (out / "minimal_unet" / "ops" / "relu.py").read_text()
    assert "for index in np.ndindex(x.shape)" not in relu
    assert 'raise NotImplementedError("relu_forward_naive: ' in relu.replace("'", '"')
    assert (out / "tests").is_dir() and (out / "ASSIGNMENT.md").is_file()
    for notebook in (out / "notebooks").glob("*.ipynb"):
        nbformat.validate(nbformat.read(notebook, as_version=4))
    jupytext = pytest.importorskip("jupytext")
    for notebook in (out / "notebooks").glob("*.py"):  # jupytext percent-format notebooks
        opened = jupytext.read(notebook)
        nbformat.validate(opened)
        assert any(cell.cell_type == "code" for cell in opened.cells), notebook


def test_student_copy_imports_and_its_fast_paths_run(student_copy, tmp_path):
    out, _ = student_copy
    code = (f"import importlib, numpy as np\n"
            f"for name in {PACKAGE_MODULES!r}:\n"
            f"    importlib.import_module(name)\n"
            "import minimal_unet\n"
            "from minimal_unet.ops import relu_forward, relu_forward_naive\n"
            "print(minimal_unet.__file__)\n"
            "print(relu_forward(np.array([-1.0, 2.0]))[0])\n"
            "try:\n"
            "    relu_forward_naive(np.array([-1.0, 2.0]))\n"
            "except NotImplementedError as e:\n"
            "    print('stub:', e)\n")
    done = run_python(code, out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert Path(lines[0]).resolve() == (out / "minimal_unet" / "__init__.py").resolve()
    assert lines[1] == "[0. 2.]"
    assert lines[2].startswith("stub: relu_forward_naive: loop over np.ndindex")


def test_cli_grades_a_student_copy_with_one_wrong_answer_and_the_bughunt(tmp_path):
    """A fresh copy in which the student solved relu (forward right, backward wrong) and
    answered the bug hunt with 3 of 4 right; every other exercise is still a stub."""
    out = tmp_path / "hw"
    regions = assignment.make_student_copy(out)
    relu_path = out / "minimal_unet" / "ops" / "relu.py"
    relu = (REPO / "minimal_unet" / "ops" / "relu.py").read_text()
    wrong = relu.replace("dx[index] = dy[index] if y[index] > 0 else 0",
                         "dx[index] = dy[index]")  # forgets the ReLU mask
    assert wrong != relu
    relu_path.write_text(wrong)
    from minimal_unet import bughunt

    answers = bughunt.answer_key()
    answers["conv2d_backward"] = "B" if answers["conv2d_backward"] == "A" else "A"
    (out / "bughunt_answers.json").write_text(json.dumps(answers))
    report = tmp_path / "grades.json"
    done = subprocess.run([sys.executable, "-m", "minimal_unet.assignment", "grade", str(out),
                           "--json", str(report), "--bughunt"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "relu_forward_naive                   3       3        0   100%  ok" in done.stdout
    assert "bug hunt total                   3/4" in done.stdout

    summary = json.loads(report.read_text())
    assert summary["collection_errors"] == []
    assert Path(summary["package"]).resolve() == (out / "minimal_unet").resolve()
    assert summary["bughunt"]["points"] == 3
    rows = {r["exercise"]: r for r in summary["exercises"]}
    assert set(rows) == set(assignment.EXERCISE_ORDER)
    assert rows["relu_forward_naive"]["score"] == 1.0
    assert rows["relu_backward_naive"]["status"] == "failing"  # the oracle caught the bug
    assert {f["error_type"] for f in rows["relu_backward_naive"]["failures"]} == {
        "AssertionError"}
    stubbed = {r.name for r in regions} - {"relu_forward_naive", "relu_backward_naive"}
    for name, row in rows.items():
        if name in stubbed:  # fails by NotImplementedError, not by a collection error
            assert row["passed"] == 0 and row["failed"] == row["graded"] > 0, name
            assert {f["error_type"] for f in row["failures"]} == {"NotImplementedError"}, name
            assert row["status"] == "not implemented"
        elif not name.startswith("relu_"):  # not marked yet: the copy holds the solution
            assert row["status"] == "ok", name


def test_the_solution_scores_full_marks():
    summary = assignment.grade(REPO)
    table = assignment.format_table(summary)
    assert summary["total"]["full_marks"], table
    for row in summary["exercises"]:
        assert row["score"] == 1.0 and row["graded"] >= 1, table
    assert summary["total"]["graded"] >= 40


def test_grade_rejects_a_folder_without_the_package(tmp_path):
    with pytest.raises(ValueError, match="expected a minimal_unet/ package"):
        assignment.grade(tmp_path)
