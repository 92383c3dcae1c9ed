"""The autograder's entry point: Gradescope's run_autograder and GitHub Classroom's tests.

    python -m minimal_unet.assignment.autograde --gradescope ROOT [--course F] [--part N]
    python -m minimal_unet.assignment.autograde --exercise NAME STUDENT_DIR

--gradescope reads ROOT/submission (a zip of the student copy, the copy itself, or just
the edited .py files) and always writes ROOT/results/results.json in Gradescope's format:
{"score", "output", "tests": [{"name", "score", "max_score", "output", "visibility"}]};
public tests are "visible", hidden ones "after_published". Exit code 0 whenever the
results file was written. --exercise grades one exercise (public and hidden tests) and
exits 0 only at full marks: GitHub Classroom's command grader gives the points on exit 0.
"""

import argparse
import json
import shutil
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

from minimal_unet.assignment.course import load_course
from minimal_unet.assignment.grade import format_table, grade, grade_bughunt, write_results
from minimal_unet.assignment.make import make_student_copy, stubs

MAX_ZIP_BYTES = 200 * 1024 * 1024  # a submission unpacks to at most this much


def _unzip(archive, into):
    """Extract a submitted zip safely (no absolute paths, no '..', a size cap)."""
    with zipfile.ZipFile(archive) as z:
        total = 0
        for info in z.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise ValueError(f"submission zip: unsafe path {info.filename!r}")
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                raise ValueError("submission zip: expected at most 200 MB unpacked")
        z.extractall(into)


def find_student_copy(submission, workdir, course, part=None):
    """The folder holding the submitted minimal_unet/ package (built in `workdir` if needed).

    A zip is unpacked first. A submission with only loose files (e.g. relu.py, model.py)
    is laid over a fresh student copy of the part: each file replaces the copy's file of
    the same name that holds an exercise.
    """
    submission = Path(submission)
    unpacked = Path(workdir) / "unpacked"
    # links are copied as links: the grader (root on Gradescope) never reads through one
    shutil.copytree(submission, unpacked, ignore=shutil.ignore_patterns("__pycache__"),
                    symlinks=True)
    for archive in sorted(unpacked.rglob("*.zip")):
        if not archive.is_symlink():
            _unzip(archive, archive.parent / archive.stem)
    packages = sorted(unpacked.rglob("minimal_unet/__init__.py"), key=lambda p: len(p.parts))
    if packages:
        return packages[0].parent.parent
    loose = [p for p in unpacked.rglob("*.py") if p.is_file() and not p.is_symlink()]
    if not loose:
        raise FileNotFoundError("submission: expected a zip of your copy, its minimal_unet/ "
                                "folder, or your edited .py files; found no Python file")
    copy = Path(workdir) / "copy"
    make_student_copy(copy, part=part, course=course)
    with_stubs = {}
    for path in (copy / "minimal_unet").rglob("*.py"):
        if stubs(path.read_text()):
            with_stubs.setdefault(path.name, []).append(path)
    for path in loose:
        targets = with_stubs.get(path.name, [])
        if len(targets) == 1:
            shutil.copy2(path, targets[0])
    return copy


def _bughunt_tests(student_dir, course):
    result = grade_bughunt(student_dir, course)
    return [{"name": f"bug hunt: {row['layer']}", "score": float(row["correct"]),
             "max_score": float(course.bughunt.get("points_per_layer", 1)),
             "output": f"answer {row['answer']}: {'right' if row['correct'] else 'wrong'}",
             "visibility": "after_published"} for row in result["rows"]]


def gradescope_results(root, course=None, part=None):
    """Grade ROOT/submission; returns the results dict (also written to results.json)."""
    root = Path(root)
    plan = load_course(course)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    exercises = plan.exercises(part=part)
    tests = []
    with tempfile.TemporaryDirectory(prefix="minimal_unet_autograde_") as workdir:
        try:
            student = find_student_copy(root / "submission", workdir, plan, part)
            summary = grade(student, part=part, course=plan, verbose=True)
            for row in summary["exercises"]:
                for test in row["tests"]:
                    where = "".join(f"\n  {p}:{n} in {f}: {t}" for p, n, f, t in test["frames"])
                    tests.append({
                        "name": f"{row['exercise']}: {test['test'].split('::')[-1]}",
                        "score": test["points"] if test["passed"] else 0.0,
                        "max_score": test["points"],
                        "output": "passed" if test["passed"] else test["reason"] + where,
                        "visibility": "after_published" if test["hidden"] else "visible"})
            bughunt_part = plan.bughunt.get("part")
            if part is None or part == bughunt_part:
                try:
                    tests.extend(_bughunt_tests(student, plan))
                except (FileNotFoundError, ValueError, TypeError) as error:
                    tests.append({"name": "bug hunt", "score": 0.0,
                                  "max_score": 4.0 * plan.bughunt.get("points_per_layer", 1),
                                  "output": str(error), "visibility": "visible"})
            output = format_table(summary)
        except Exception as error:  # noqa: BLE001  (results.json must be written whatever)
            output = f"the submission could not be graded: {type(error).__name__}: {error}"
            for exercise in exercises:
                points = sum(p for _, p, _ in plan.graded_tests([exercise]))
                tests.append({"name": exercise, "score": 0.0, "max_score": points,
                              "output": output, "visibility": "visible"})
            traceback.print_exc()
    results = {"score": sum(t["score"] for t in tests), "output": output, "tests": tests}
    write_results(results_dir / "results.json", json.dumps(results, indent=2) + "\n")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minimal_unet.assignment.autograde")
    parser.add_argument("--gradescope", metavar="ROOT", help="Gradescope's folder layout root")
    parser.add_argument("--course", default=None, help="the course JSON file")
    parser.add_argument("--part", type=int, default=None)
    parser.add_argument("--exercise", help="grade this one exercise (GitHub Classroom)")
    parser.add_argument("student_dir", nargs="?", default=".")
    args = parser.parse_args(argv)
    course = args.course if args.course and Path(args.course).is_file() else None
    if args.gradescope:
        results = gradescope_results(args.gradescope, course, args.part)
        print(results["output"])
        return 0
    if not args.exercise:
        parser.error("expected --gradescope ROOT or --exercise NAME")
    summary = grade(args.student_dir, exercises=[args.exercise], course=course, verbose=True)
    print(format_table(summary, verbose=True))
    return 0 if summary["total"]["full_marks"] else 1


if __name__ == "__main__":
    sys.exit(main())
