"""The student copy: the package with one part's exercises stripped, and its ASSIGNMENT.md.

    make_student_copy("hw/")                      # every exercise of the course
    make_student_copy("hw/", part=2)              # part 2 only; all else keeps its solution
    make_student_copy("hw/", exercises=["weight_map"])

What the copy holds: minimal_unet/ (the assigned regions stripped), tests/ (without the
teacher's tests of the course tooling), notebooks/ (outputs cleared), docs/, kernels/,
pyproject.toml, README.md, and ASSIGNMENT.md written from the stripped copy itself (so its
line numbers are the copy's). What it does not hold: the graded tests marked hidden,
anything that gives an assigned exercise away (the Numba max-pool kernel while max-pool
is assigned) and the bug hunt's answer key: the letters of the bug hunt's suspects are
drawn for this copy with `secrets` (or taken from the course file's "bughunt.key"), the
copy gets only minimal_unet/bughunt_suspects.json (a token per suspect), and the key goes
to the teacher's course file written NEXT TO the copy, `<out>.teacher.json` (see
`teacher_file`): grade and build the autograder with `--course` that file.
Only the standard library is needed (a
notebook is JSON), and the copy is built in a temporary folder next to `out` and moved
into place at the end: a failure never leaves a half-stripped folder.
"""

import ast
import json
import re
import shutil
import tempfile
from pathlib import Path

from minimal_unet.assignment.course import BLOCKED_IMPORTS, load_course
from minimal_unet.assignment.regions import find_regions, strip_solutions

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CHECKOUT_EXTRAS = ("tests", "notebooks", "kernels", "docs", "benchmarks", "pyproject.toml",
                   "README.md", "Makefile")
TEACHER_ONLY = ("tests/test_assignment.py", "tests/test_bughunt.py", "tests/assignment")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info",
                                 ".pytest_cache")
STUB = re.compile(r"^\s*raise NotImplementedError\((['\"].*['\"])\)\s*$")
MAXPOOL_EXERCISES = {"maxpool2d_forward_naive", "maxpool2d_backward_naive"}
WITHHELD_KERNEL = '''"""Withheld from this course copy: max-pool is one of your exercises.

The Numba kernel of max-pool is the naive loop run by one GPU thread per output, so it
would give the exercise away. It comes back with the full package after the course.
"""

raise NotImplementedError("{exercise}: the Numba max-pool kernel is withheld while max-pool "
                          "is an exercise")
'''
CONFTEST_HOOK = '''

# ----- added by `minimal-unet assignment make` ----------------------------------------
# A test that reaches an exercise you have not written yet (its NotImplementedError stub,
# raised directly, while another error was handled, or printed by a notebook or script
# the test ran) is reported as skipped, with the exercise's name, instead of failed:
# `pytest tests` shows what is left to do.
import json as _json
import re as _re
from pathlib import Path as _Path

_PLAN = _Path(__file__).resolve().parents[1] / "course_copy.json"
_ASSIGNED = tuple(_json.loads(_PLAN.read_text())["exercises"]) if _PLAN.is_file() else ()


def _unwritten_exercise(error):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, NotImplementedError) and \\
                str(error).split(":", 1)[0] in _ASSIGNED:
            return str(error)
        error = error.__cause__ or error.__context__
    return None


def _unwritten_in_output(text):
    text = _re.sub(r"\\x1b\\[[0-9;]*m", "", text)  # a notebook's coloured traceback
    for match in _re.finditer(r"NotImplementedError: ([^:'\\"\\n]+):", text):
        if match.group(1).strip() in _ASSIGNED:
            return match.group(1).strip()
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.excinfo is not None:
        stub = _unwritten_exercise(call.excinfo.value) or \\
            _unwritten_in_output(str(report.longrepr))
        if stub is not None:
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0,
                               f"Skipped: exercise not written yet: {stub}")
'''


def _strip_notebook(path):
    """Clear the outputs of an .ipynb (JSON) in place; strip no region (none are marked)."""
    notebook = json.loads(path.read_text())
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def _drop_hidden_tests(path, hidden_names):
    """Remove the graded test functions named in `hidden_names` (decorators included)."""
    source = path.read_text()
    lines = source.splitlines(keepends=True)
    spans = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name in hidden_names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans.append((first, node.end_lineno))
    for first, last in sorted(spans, reverse=True):
        del lines[first - 1:last]
    path.write_text("".join(lines))


def _withhold_function(path, name, message):
    """Replace the body of top-level function `name` in `path` by `raise RuntimeError(...)`."""
    source = path.read_text()
    lines = source.splitlines(keepends=True)
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                first = node.body[1] if len(node.body) > 1 else None  # keep the docstring
            start = first.lineno if first is not None else node.body[0].end_lineno + 1
            lines[start - 1:node.end_lineno] = [f"    raise RuntimeError({message!r})\n"]
            path.write_text("".join(lines))
            return
    raise ValueError(f"{path}: expected a function {name}() to withhold, found none")


def _strip_tree(root, only):
    """Strip the regions of the exercises `only` from every .py under root/minimal_unet."""
    regions = []
    for path in sorted((root / "minimal_unet").rglob("*.py")):
        relative = path.relative_to(root)
        source = path.read_text()
        found = [r for r in find_regions(source, relative) if r.name in only]
        if found:
            stripped = strip_solutions(source, relative, only=only)
            ast.parse(stripped, filename=str(relative))  # the copy must stay valid Python
            path.write_text(stripped)
    # the stripped copy's own line numbers, for ASSIGNMENT.md
    for path in sorted((root / "minimal_unet").rglob("*.py")):
        for number, name, _ in stubs(path.read_text()):
            if name in only:
                regions.append((name, str(path.relative_to(root)), number))
    return regions


def stubs(source):
    """[(line, exercise, hint)] of the `raise NotImplementedError("name: hint")` stubs."""
    found = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = STUB.match(line)
        if match:
            try:
                text = ast.literal_eval(match.group(1))
            except (ValueError, SyntaxError):
                continue
            name, _, hint = str(text).partition(":")
            found.append((number, name.strip(), hint.strip()))
    return found


def _write_assignment_md(root, course, exercises, located, part):
    """ASSIGNMENT.md: setup, the exercises in curriculum order (copy's lines), rules, submit."""
    where = {name: (path, line) for name, path, line in located}
    hints = {name: hint for path in (root / "minimal_unet").rglob("*.py")
             for _, name, hint in stubs(path.read_text())}
    title = course.raw["title"] + (f", part {part}: {course.parts[part]['title']}"
                                   if part is not None else "")
    rows = []
    for number, name in enumerate(exercises, start=1):
        path, line = where.get(name, ("?", 0))
        tests = course.graded_tests([name])
        points = sum(p for _, p, _ in tests)
        public = sum(1 for _, _, hidden in tests if not hidden)
        rows.append(f"{number}. `{name}` in `{path}`, line {line} ({points:g} points, "
                    f"{public} public and {len(tests) - public} hidden tests): "
                    f"{hints.get(name, '')}")
    seconds, memory = course.seconds, course.memory_mb
    text = f"""# {title}

Fill in each `raise NotImplementedError(...)` listed below, in this order. Every other
function of the package is complete: the notebooks, the guide and `pytest tests` run
(tests that reach an exercise you have not written yet are reported as skipped).

## Setup

Locally (Python 3.10 or newer), from this folder:

    python -m venv .venv && . .venv/bin/activate
    pip install -e ".[course]"

In Google Colab: upload this folder as a zip, then in the first cell

    !unzip -q minimal_unet_assignment.zip -d /content/hw && pip install -q -e "/content/hw[course]"
    %cd /content/hw

## Exercises

{chr(10).join(rows)}

## Check your work

    minimal-unet assignment check relu_forward_naive      # one exercise, public tests
    minimal-unet assignment check --all                   # every exercise of this copy

or in a notebook: `from minimal_unet.assignment import check; check("relu_forward_naive")`.
The check runs your code exactly as the grader does (below), on the public tests only;
the grader also runs hidden tests.

## Rules

- Your code runs in a separate process, one per exercise, with at most {seconds:g} s and
  {memory} MB of memory per exercise; past either, the exercise scores 0.
  Processes your code starts are stopped when its exercise ends, and it may not write
  outside its own scratch folder: graded on Gradescope, it runs as an unprivileged user.
- A naive layer (`*_naive`) may not call any fast layer of `minimal_unet.ops` (its own
  fast twin included) nor their private helpers; the helpers already called in the code
  you were given (input checks, crop offsets) are fine. No exercise may call
  `weight_map_freiburg`, `numerical_gradient` (outside its own exercise),
  `check_gradients`, `directional_check`, or scipy.ndimage's convolutions and filters
  (`convolve`, `correlate`, `maximum_filter`, ...). These imports are blocked:
  {", ".join(f"`{m}`" for m in BLOCKED_IMPORTS)}.
  A forbidden call or import scores 0 on that exercise, with a message naming it.
- NumPy is yours: `np.pad`, `np.einsum`, slicing, loops. The point is to write the
  maths yourself.

## Submit

    minimal-unet assignment submit --out submission.zip

writes a zip of your `minimal_unet/` (and `bughunt_answers.json` if present): upload it to
Gradescope as is.
"""
    (root / "ASSIGNMENT.md").write_text(text)


def teacher_file(out):
    """The teacher's course file (with the bug hunt's key) written next to the copy `out`."""
    out = Path(out).resolve()
    return out.parent / f"{out.name}.teacher.json"


def make_student_copy(out, source_root=PACKAGE_DIR.parent, force=False, part=None,
                      exercises=None, course=None):
    """Write the student copy into `out`; returns [(exercise, path, line)] in the copy.

    part / exercises: which exercises to strip (default: all of the course). `out` must
    not exist or be empty, unless `force` (then it is replaced once the copy is built).
    """
    out, source_root = Path(out).resolve(), Path(source_root).resolve()
    course = course if course is not None and not isinstance(course, str | Path) \
        else load_course(course)
    assigned = course.exercises(part=part, exercises=exercises)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise FileExistsError(f"--out {out}: expected a new or empty folder, got one with "
                              "files in it (pass --force to replace it)")
    teacher = teacher_file(out)
    if teacher.exists() and not force:
        raise FileExistsError(f"{teacher}: expected a new file for the teacher's course file "
                              "(the bug hunt's key), got an existing one (pass --force)")
    from minimal_unet import bughunt as hunt

    key = course.bughunt.get("key")
    key = hunt.check_key(key, "course file: bughunt.key") if key else hunt.draw_key()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        shutil.copytree(source_root / "minimal_unet", staging / "minimal_unet", ignore=IGNORED)
        # From an installed wheel source_root is site-packages, whose tests/ or README.md (if
        # any) belong to other packages: the extras come from a checkout only.
        in_checkout = (source_root / "pyproject.toml").is_file()
        for extra in CHECKOUT_EXTRAS if in_checkout else ():
            src = source_root / extra
            if src.is_dir():
                shutil.copytree(src, staging / extra, ignore=IGNORED)
            elif src.is_file():
                shutil.copy2(src, staging / extra)
        for teacher_only in TEACHER_ONLY:
            path = staging / teacher_only
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        located = _strip_tree(staging, set(assigned))
        hidden = {}
        for test, _, is_hidden in course.graded_tests(course.order):
            if is_hidden or test.exercise not in assigned:
                module, name = test.id.split("::")
                hidden.setdefault(module, set()).add(name)
        for module, names in hidden.items():
            _drop_hidden_tests(staging / "minimal_unet" / "assignment_tests" / f"{module}.py",
                               names)
        bughunt, copy_id = staging / "minimal_unet" / "bughunt.py", None
        if bughunt.is_file():
            _withhold_function(bughunt, "answer_key", "answer_key: the bug hunt's answer key "
                               "is the grader's; find the broken suspects with the checks")
            copy_id = hunt.write_table(staging / "minimal_unet" / "bughunt_suspects.json", key)
        if MAXPOOL_EXERCISES & set(assigned):
            kernel = staging / "kernels" / "numba" / "maxpool2d.py"
            if kernel.is_file():
                exercise = min(MAXPOOL_EXERCISES & set(assigned))
                kernel.write_text(WITHHELD_KERNEL.format(exercise=exercise))
        for notebook in sorted((staging / "notebooks").glob("*.ipynb")):
            _strip_notebook(notebook)
        conftest = staging / "tests" / "conftest.py"
        if conftest.is_file():
            text = conftest.read_text()
            if "import pytest" not in text:
                text = "import pytest\n" + text
            conftest.write_text(text + CONFTEST_HOOK)
        _write_assignment_md(staging, course, assigned, located, part)
        (staging / "course_copy.json").write_text(json.dumps(
            {"part": part, "exercises": assigned}, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        staging.rename(out)
        raw = json.loads(json.dumps(course.raw))
        raw["bughunt"] = dict(raw["bughunt"], key=key, copy=copy_id)
        teacher.write_text(json.dumps(raw, indent=2) + "\n")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return sorted(located, key=lambda row: assigned.index(row[0]))
