"""The solution markers: found with tokenize, stripped into NotImplementedError stubs."""

import textwrap
from pathlib import Path

import pytest

from minimal_unet import assignment
from minimal_unet.assignment.course import load_course

REPO = Path(__file__).resolve().parents[2]

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


def test_only_strips_the_named_exercises():
    stripped = assignment.strip_solutions(SOURCE, "demo.py", only={"Box.area"})
    assert "x * x" in stripped and "a * b" not in stripped


def test_the_library_marks_every_course_exercise_and_nothing_else():
    marked = {r.name for r in assignment.find_exercises(REPO)}
    planned = set(load_course().order)
    assert marked == planned, (sorted(marked - planned), sorted(planned - marked))


def test_course_file_points_hidden_and_exercise_totals(tmp_path):
    path = tmp_path / "course.json"
    path.write_text('{"tests": {"relu::forward_hand_values": {"points": 3, "hidden": true}},'
                    ' "exercises": {"weight_map": {"points": 10}}}')
    course = load_course(path)
    relu = {t.id: (p, h) for t, p, h in course.graded_tests(["relu_forward_naive"])}
    assert relu["relu::forward_hand_values"] == (3.0, True)
    weight_map = course.graded_tests(["weight_map"])
    assert sum(p for _, p, _ in weight_map) == pytest.approx(10.0)
    path.write_text('{"exercises": {"relu": {"points": 1}}}')
    with pytest.raises(ValueError, match="unknown exercise 'relu'"):
        load_course(path)
    path.write_text('{"test": {}}')
    with pytest.raises(ValueError, match="expected keys from"):
        load_course(path)
