"""Course assignments made from the library's own source: a student copy and an autograder.

    minimal-unet assignment make --out hw/              # the student copy
    minimal-unet assignment grade hw/ --json hw.json    # score table (+ JSON for a gradebook)
    minimal-unet assignment grade hw/ --bughunt         # also grade hw/bughunt_answers.json
    (or `python -m minimal_unet.assignment make --out hw/`, the same commands)

Solution regions. The functions a course assigns carry two marker comment lines in the
library itself, around the part of the body a student writes, and an optional hint:

    def relu_forward_naive(x):
        check_float_array("x", x)            <- kept: the student gets the input checks
        # BEGIN SOLUTION
        # HINT: loop over np.ndindex(x.shape) ...
        y = np.empty_like(x)                 <- removed in the student copy
        ...
        # END SOLUTION

`make_student_copy` copies the package, tests/, notebooks/ and kernels/ and replaces every
region (markers included) with one line at the BEGIN marker's indentation,

        raise NotImplementedError("relu_forward_naive: loop over np.ndindex(x.shape) ...")

Markers are found with `tokenize`, so only real comment lines count (a marker quoted in a
docstring or a string is left alone). The exercises assigned this way are the naive twins
of the ops (the loops a student reads first; the fast paths stay in the copy so that the
network still runs), the numerical gradient, the weight map and the U-Net backward.

Grading. `grade` runs the graded tests of `minimal_unet/assignment_tests/` in a subprocess
whose sys.path starts with the student's folder, so `import minimal_unet` is the student's
package (the driver checks this before any test runs). The graded tests are independent
oracles: hand-computed values, the tests' own finite differences and reference forwards,
and PyTorch where it is installed. Each test names its exercise with
`@pytest.mark.exercise("...")`; an exercise's score is passed / graded tests (skipped
tests are reported and left out of the total, never counted as passed).
"""

import argparse
import ast
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

BEGIN_MARKER = "# BEGIN SOLUTION"
END_MARKER = "# END SOLUTION"
HINT_PREFIX = "# HINT:"

PACKAGE_DIR = Path(__file__).resolve().parent  # .../minimal_unet
GRADED_TESTS_DIR = PACKAGE_DIR / "assignment_tests"
CHECKOUT_EXTRAS = ("tests", "notebooks", "kernels", "pyproject.toml", "README.md")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info",
                                 ".pytest_cache")
# The order of the course (the score table's rows); exercises not listed come last.
EXERCISE_ORDER = (
    "relu_forward_naive", "relu_backward_naive", "conv2d_forward_naive",
    "conv2d_backward_naive", "maxpool2d_forward_naive", "maxpool2d_backward_naive",
    "upconv2d_forward_naive", "upconv2d_backward_naive", "crop_and_concat_forward_naive",
    "crop_and_concat_backward_naive", "softmax_cross_entropy_naive", "numerical_gradient",
    "weight_map", "UNet._block_backward", "UNet.backward",
)
SECONDS_PER_EXERCISE = 30  # the graded tests of one exercise must finish well within this


@dataclasses.dataclass(frozen=True)
class Region:
    """One marked solution region: lines begin..end (1-based, markers included)."""

    path: str  # file, relative to the copied tree
    name: str  # the exercise: qualified name of the enclosing function
    begin: int
    end: int
    indent: str
    hint: str


# ----------------------------------------------------------------------- finding regions


def _marker_comments(source):
    """[(line number, comment)] of the comments that fill a whole line (tokenize: no strings)."""
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT and tok.line.strip() == tok.string.strip():
                found.append((tok.start[0], tok.string.strip()))
    except (tokenize.TokenError, SyntaxError):  # e.g. a notebook cell with a shell escape
        found = [(i, line.strip()) for i, line in enumerate(source.splitlines(), start=1)
                 if line.strip().startswith("#")]
    return found


def _enclosing_functions(source):
    """[(first line, last line, qualified name)] of every def, or [] if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    spans = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno, name))
                visit(child, name + ".")

    visit(tree, "")
    return spans


def _indent(line):
    return line[: len(line) - len(line.lstrip())]


def find_regions(source, path="<source>", default_name=None):
    """Every solution region of `source`, in order. Bad markers are a ValueError naming the line.

    The exercise name is the innermost function around the region, else `default_name`
    (e.g. "notebook cell 3"), else "<path>:<line>".
    """
    lines = source.splitlines()
    functions = _enclosing_functions(source)
    regions, begin, hint = [], None, None
    for number, comment in _marker_comments(source):
        if comment == BEGIN_MARKER:
            if begin is not None:
                raise ValueError(f"{path}:{number}: expected {END_MARKER!r} to close the "
                                 f"region opened at line {begin}, got another BEGIN")
            begin, hint = number, None
        elif comment.startswith(HINT_PREFIX) and begin is not None:
            hint = comment[len(HINT_PREFIX):].strip()
        elif comment == END_MARKER:
            if begin is None:
                raise ValueError(f"{path}:{number}: expected {BEGIN_MARKER!r} before "
                                 f"{END_MARKER!r}, got none")
            indent, end_indent = _indent(lines[begin - 1]), _indent(lines[number - 1])
            if end_indent != indent:
                raise ValueError(f"{path}:{number}: expected the END marker at the BEGIN "
                                 f"marker's indentation {len(indent)}, got {len(end_indent)}")
            # (an END marker after a function's last statement lies past its end_lineno)
            inside = [name for first, last, name in functions if first <= begin <= last]
            name = inside[-1] if inside else default_name or f"{path}:{begin}"
            regions.append(Region(str(path), name, begin, number, indent, hint or ""))
            begin = None
    if begin is not None:
        raise ValueError(f"{path}:{begin}: expected {END_MARKER!r} to close this region, "
                         "got the end of the file")
    return regions


def strip_solutions(source, path="<source>", default_name=None):
    """`source` with every region replaced by `raise NotImplementedError("<name>: <hint>")`."""
    lines = source.splitlines(keepends=True)
    for region in reversed(find_regions(source, path, default_name)):
        hint = region.hint or "write this part (see the docstring)"
        stub = f"{region.indent}raise NotImplementedError({f'{region.name}: {hint}'!r})\n"
        lines[region.begin - 1:region.end] = [stub]
    return "".join(lines)


# ----------------------------------------------------------------------- the student copy


def _strip_notebook(path):
    """Strip the solution regions of every code cell of an .ipynb in place; validate it."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{path}[cell {index}]",
                                          default_name=f"{path.stem} cell {index}")
    nbformat.validate(notebook)
    nbformat.write(notebook, path)


def _strip_tree(root):
    """Strip every .py and .ipynb under `root` in place; return the regions found."""
    regions = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.suffix == ".py":
            source = path.read_text()
            found = find_regions(source, relative)
            if found:
                stripped = strip_solutions(source, relative)
                ast.parse(stripped, filename=str(relative))  # the copy must stay valid Python
                path.write_text(stripped)
                regions.extend(found)
        elif path.suffix == ".ipynb":
            _strip_notebook(path)
    return regions


def find_exercises(root=PACKAGE_DIR.parent):
    """Every region in the package under `root` (a checkout or a student copy)."""
    package = Path(root) / "minimal_unet"
    regions = []
    for path in sorted(package.rglob("*.py")):
        regions.extend(find_regions(path.read_text(), path.relative_to(root)))
    return regions


def make_student_copy(out, source_root=PACKAGE_DIR.parent, force=False):
    """Write the student copy into the folder `out`; return the list of stripped regions.

    Copies minimal_unet/ and, where they exist, tests/, notebooks/, kernels/,
    pyproject.toml and README.md, strips every region, and writes ASSIGNMENT.md listing
    the exercises. `out` must not exist or be empty, unless `force` (then it is replaced).
    """
    out, source_root = Path(out).resolve(), Path(source_root).resolve()
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"--out {out}: expected a new or empty folder, got one with "
                                  "files in it (pass --force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source_root / "minimal_unet", out / "minimal_unet", ignore=IGNORED)
    # From an installed wheel source_root is site-packages, whose tests/ or README.md (if
    # any) belong to other packages: the extras come from a checkout only.
    in_checkout = (source_root / "pyproject.toml").is_file()
    for extra in CHECKOUT_EXTRAS if in_checkout else ():
        src = source_root / extra
        if src.is_dir():
            shutil.copytree(src, out / extra, ignore=IGNORED)
        elif src.is_file():
            shutil.copy2(src, out / extra)
    regions = _strip_tree(out)
    listing = "\n".join(f"- `{r.name}` in `{r.path}` (line {r.begin}): {r.hint}" for r in regions)
    (out / "ASSIGNMENT.md").write_text(
        "# minimal_unet assignment\n\nFill in every `raise NotImplementedError(...)`:\n\n"
        f"{listing}\n\nCheck your work with `minimal-unet assignment grade .` "
        "(or `python -m minimal_unet.assignment grade .`).\n")
    return regions


# ----------------------------------------------------------------------- grading


class GradingError(RuntimeError):
    """The graded tests could not be run (not a wrong answer: a broken setup)."""


def run_graded_tests(student_dir, timeout_s=None, python=sys.executable):
    """Run the graded tests against `student_dir`'s package; return the driver's JSON dict."""
    student_dir = Path(student_dir).resolve()
    if not (student_dir / "minimal_unet" / "__init__.py").is_file():
        raise ValueError(f"student folder {student_dir}: expected a minimal_unet/ package "
                         "in it (made by `assignment make`), found none")
    with tempfile.TemporaryDirectory(prefix="minimal_unet_grade_") as tmp:
        tmp = Path(tmp)
        for path in GRADED_TESTS_DIR.glob("*.py"):
            if path.name != "__init__.py":
                shutil.copy2(path, tmp / path.name)
        n_files = len(list(tmp.glob("test_*.py")))
        results = tmp / "results.json"
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                   PYTHONPATH=os.pathsep.join(p for p in (str(student_dir),
                                                          os.environ.get("PYTHONPATH")) if p))
        limit = timeout_s or 60 + SECONDS_PER_EXERCISE * n_files
        try:
            done = subprocess.run([python, str(tmp / "_driver.py"), str(student_dir),
                                   str(results), str(SECONDS_PER_EXERCISE)],
                                  cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=limit)
        except subprocess.TimeoutExpired:
            raise GradingError(f"the graded tests ran past {limit} s and were stopped") from None
        if not results.is_file():
            raise GradingError(f"the grading driver wrote no results (exit code "
                               f"{done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        report = json.loads(results.read_text())
    report["pytest_output"] = done.stdout[-20000:]
    return report


def summarize(raw):
    """Per-exercise scores from the driver's raw results (see `grade`)."""
    exercises = {}
    for test in raw["tests"]:
        entry = exercises.setdefault(test["exercise"], {
            "exercise": test["exercise"], "passed": 0, "failed": 0, "skipped": 0,
            "failures": []})
        entry[test["outcome"]] += 1
        if test["outcome"] == "failed":
            entry["failures"].append({k: test[k] for k in ("test", "error_type", "message")})
    for entry in exercises.values():
        graded = entry["passed"] + entry["failed"]
        entry["graded"] = graded
        entry["score"] = entry["passed"] / graded if graded else 0.0
        types = {f["error_type"] for f in entry["failures"]}
        entry["status"] = ("ok" if graded and entry["failed"] == 0 else
                           "not implemented" if types == {"NotImplementedError"} and
                           entry["passed"] == 0 else "failing" if graded else "no graded test")
    order = {name: i for i, name in enumerate(EXERCISE_ORDER)}
    rows = sorted(exercises.values(), key=lambda r: order.get(r["exercise"], len(order)))
    passed = sum(r["passed"] for r in rows)
    graded = sum(r["graded"] for r in rows)
    return {"student_dir": raw["student_dir"], "package": raw["package"],
            "exercises": rows, "collection_errors": raw["collection_errors"],
            "total": {"passed": passed, "graded": graded,
                      "skipped": sum(r["skipped"] for r in rows),
                      "score": passed / graded if graded else 0.0,
                      "full_marks": graded > 0 and passed == graded
                      and not raw["collection_errors"]}}


def format_table(summary):
    """The score table as text: one row per exercise, then the total."""
    width = max([len("exercise")] + [len(r["exercise"]) for r in summary["exercises"]])
    lines = [f"{'exercise':<{width}}  passed  graded  skipped  score  status"]
    for r in summary["exercises"]:
        lines.append(f"{r['exercise']:<{width}}  {r['passed']:>6}  {r['graded']:>6}  "
                     f"{r['skipped']:>7}  {r['score']:>5.0%}  {r['status']}")
    t = summary["total"]
    lines.append(f"{'total':<{width}}  {t['passed']:>6}  {t['graded']:>6}  {t['skipped']:>7}  "
                 f"{t['score']:>5.0%}")
    for error in summary["collection_errors"]:
        lines.append(f"COLLECTION ERROR in {error['test']}: {error['message']}")
    return "\n".join(lines)


def grade(student_dir, json_path=None, bughunt=False, timeout_s=None):
    """Grade a student copy: returns the summary dict, writes it as JSON to `json_path`.

    summary = {"exercises": [{"exercise", "passed", "failed", "skipped", "graded", "score",
    "status", "failures": [{"test", "error_type", "message"}]}], "total": {...},
    "collection_errors": [...], "bughunt": {...} when bughunt is True}.
    bughunt: also score `<student_dir>/bughunt_answers.json` (see minimal_unet.bughunt).
    """
    summary = summarize(run_graded_tests(student_dir, timeout_s))
    if bughunt:
        from minimal_unet import bughunt as hunt

        answers_path = Path(student_dir) / "bughunt_answers.json"
        if not answers_path.is_file():
            raise FileNotFoundError(f"--bughunt: expected the answers at {answers_path} "
                                    f"(e.g. {json.dumps(hunt.ANSWER_EXAMPLE)}), found none")
        summary["bughunt"] = hunt.grade_answers(json.loads(answers_path.read_text()))
    if json_path is not None:
        Path(json_path).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# ----------------------------------------------------------------------- command line


def _run(args):
    if args.assignment_command == "make":
        regions = make_student_copy(args.out, force=args.force)
        print(f"student copy written to {Path(args.out).resolve()}: {len(regions)} exercises")
        for r in regions:
            print(f"  {r.name:<34} {r.path}:{r.begin}")
        return 0
    try:
        summary = grade(args.student_dir, json_path=args.json, bughunt=args.bughunt)
    except GradingError as error:
        print(f"grading failed: {error}", file=sys.stderr)
        return 2
    print(format_table(summary))
    if args.bughunt:
        from minimal_unet.bughunt import format_answers

        print(format_answers(summary["bughunt"]))
    return 2 if summary["collection_errors"] else 0


def _configure(parser):
    """Give `parser` the two commands `make` and `grade`."""
    commands = parser.add_subparsers(dest="assignment_command", required=True)
    make = commands.add_parser("make", help="write the student copy of the package")
    make.add_argument("--out", required=True, help="folder to write (new or empty)")
    make.add_argument("--force", action="store_true", help="replace a non-empty --out")
    grade_parser = commands.add_parser("grade", help="run the graded tests on a student copy")
    grade_parser.add_argument("student_dir", help="the student copy's root folder")
    grade_parser.add_argument("--json", help="also write the scores to this JSON file")
    grade_parser.add_argument("--bughunt", action="store_true",
                              help="also grade <student_dir>/bughunt_answers.json")
    parser.set_defaults(func=_run)
    return parser


def add_assignment_parser(subparsers):
    """Add `assignment make` / `assignment grade` to the CLI's argparse subparsers."""
    return _configure(subparsers.add_parser(
        "assignment", help="make a student copy of the package, or grade one"))


def main(argv=None):
    """`python -m minimal_unet.assignment make|grade ...`; returns the exit code."""
    parser = _configure(argparse.ArgumentParser(prog="python -m minimal_unet.assignment"))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
