"""Grading: each exercise's student code in its own sandbox, judged in this process.

    summary = grade("hw/")                       # every exercise of the course
    summary = grade("hw/", part=2)               # one part
    summary = check("relu_forward_naive")        # a student: public tests only

For each exercise a fresh child process (minimal_unet.assignment.sandbox) imports the
student's package, with the exercise's forbidden callables trapped and forbidden modules
blocked (minimal_unet.assignment.course). The graded tests (the GRADER's installed
minimal_unet.assignment_tests, never a submitted copy) send it inputs and judge what comes
back. An exercise scores its tests' points passed / points graded; a test fails on a
wrong answer, an exception, a forbidden call, the time limit, or the child's death, with a
one-line reason (and, with verbose, the student's own frames of the traceback).
The results file is written here, by the grader, after every child has exited.
"""

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from minimal_unet.assignment.course import (
    BLOCKED_IMPORTS,
    CHILD_MODULES,
    forbidden_for,
    load_course,
)
from minimal_unet.assignment.sandbox import Sandbox, StudentError

SEED = 20150518  # the tests' random inputs: fixed, so that a failure can be replayed


class GradingError(RuntimeError):
    """The graded tests could not be run (not a wrong answer: a broken setup)."""


def _check_student_dir(student_dir):
    student_dir = Path(student_dir).resolve()
    if not (student_dir / "minimal_unet" / "__init__.py").is_file():
        raise ValueError(f"student folder {student_dir}: expected a minimal_unet/ package "
                         "in it (made by `assignment make`), found none")
    return student_dir


def _reason(error):
    """(one-line reason, error type, [student frames]) of a failed test."""
    if isinstance(error, StudentError):
        return str(error), error.error_type, error.frames
    if isinstance(error, AssertionError):  # numpy's messages span lines: join them into one
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        return " ".join(lines)[:300] or "a check failed", "AssertionError", []
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return (f"the result could not be checked: {type(error).__name__}: {error} "
            f"(grader {Path(frame.filename).name}:{frame.lineno})"[:300], type(error).__name__, [])


def grade_exercise(student_dir, exercise, tests, course, verbose=False, shared=None):
    """One exercise in one sandbox: {'exercise', 'tests': [...], 'score', ...}.

    shared: a dict kept across the exercises of one grading run. When the student's
    package fails to import (or hangs, or exits, while importing) the failure is kept there
    and the next exercises reuse it without starting a child: the import, and the modules
    it may not import, are the same for every exercise (only the traps differ, and they
    are installed after it).
    """
    shared = {} if shared is None else shared
    setup = {"memory_mb": course.memory_mb, "blocked": list(BLOCKED_IMPORTS),
             "modules": list(CHILD_MODULES), "forbidden": forbidden_for(exercise)}
    rows = []
    start = time.monotonic()
    box = Sandbox(student_dir, setup, timeout_s=course.seconds)
    startup_error = shared.get("startup_error")
    if startup_error is None:
        try:
            box.__enter__()
        except StudentError as error:
            startup_error = shared["startup_error"] = error
    try:
        for index, (test, points, hidden) in enumerate(tests):
            row = {"test": test.id, "exercise": exercise, "points": points, "hidden": hidden,
                   "passed": False, "reason": "", "error_type": "", "frames": []}
            try:
                if startup_error is not None:
                    raise startup_error
                test.func(box, np.random.default_rng(SEED + index))
                row["passed"] = True
            except (Exception, StudentError) as error:  # noqa: BLE001  (a test may fail anyhow)
                row["reason"], row["error_type"], frames = _reason(error)
                if verbose:
                    row["frames"] = [list(f) for f in frames]
            rows.append(row)
    finally:
        box.close()
    got = sum(r["points"] for r in rows if r["passed"])
    total = sum(r["points"] for r in rows)
    failing = [r for r in rows if not r["passed"]]
    status = ("ok" if rows and not failing else "no graded test" if not rows else
              "not implemented" if all(r["error_type"] == "NotImplementedError" for r in failing)
              and got == 0 else "failing")
    return {"exercise": exercise, "points": got, "max_points": total,
            "score": got / total if total else 0.0, "status": status,
            "reason": failing[0]["reason"] if failing else "",
            "seconds": round(time.monotonic() - start, 2), "tests": rows}


def grade(student_dir, json_path=None, part=None, exercises=None, course=None, public_only=False,
          verbose=False, bughunt=False, progress=None):
    """Grade a student copy; returns the summary, written as JSON to `json_path` if given.

    summary = {"student_dir", "exercises": [{"exercise", "points", "max_points", "score",
    "status", "reason", "tests": [{"test", "passed", "points", "hidden", "reason",
    "error_type", "frames"}]}], "total": {"points", "max_points", "score", "full_marks"},
    "bughunt": {...} when bughunt}.
    """
    student_dir = _check_student_dir(student_dir)
    course = course if course is not None and not isinstance(course, str | Path) \
        else load_course(course)
    names = course.exercises(part=part, exercises=exercises)
    rows, shared = [], {}
    for exercise in names:
        tests = [t for t in course.graded_tests([exercise]) if not (public_only and t[2])]
        if progress:
            progress(exercise)
        rows.append(grade_exercise(student_dir, exercise, tests, course, verbose, shared))
    got, total = sum(r["points"] for r in rows), sum(r["max_points"] for r in rows)
    summary = {"student_dir": str(student_dir), "exercises": rows,
               "total": {"points": got, "max_points": total,
                         "score": got / total if total else 0.0,
                         "full_marks": total > 0 and got == total}}
    if bughunt:
        summary["bughunt"] = grade_bughunt(student_dir, course)
    if json_path is not None:
        write_results(json_path, json.dumps(summary, indent=2) + "\n")
    return summary


def write_results(path, text):
    """Write `text` to `path` atomically: a new file in the same folder, then os.replace.

    A link the student's code may have put at `path` (when the child runs as the grader's
    own user) is replaced, never written through.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def grade_bughunt(student_dir, course):
    """Score <student_dir>/bughunt_answers.json with the key of the teacher's course file.

    The key (course.bughunt["key"]) is written by `assignment make` to the teacher's
    course file next to the copy; the submission's own files are never asked for it.
    """
    from minimal_unet import bughunt as hunt

    key = course.bughunt.get("key")
    if not key:
        raise ValueError("--bughunt: expected the bug hunt's key in the course file (`assignment"
                         " make --out DIR` writes it to DIR.teacher.json: pass --course that "
                         "file), got a course file without one")

    path = Path(student_dir) / "bughunt_answers.json"
    if not path.is_file():
        raise FileNotFoundError(f"--bughunt: expected the answers at {path} "
                                f"(e.g. {json.dumps(hunt.ANSWER_EXAMPLE)}), found none")
    try:
        answers = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: expected JSON, got an error: {error}") from None
    return hunt.grade_answers(answers, hunt.check_key(key, "course file: bughunt.key"))


def format_table(summary, verbose=False):
    """The score table: one row per exercise with the first failing test's reason."""
    width = max([len("exercise")] + [len(r["exercise"]) for r in summary["exercises"]])
    lines = [f"{'exercise':<{width}}  points  score  status / first failing reason"]
    for r in summary["exercises"]:
        why = r["status"] if not r["reason"] else f"{r['status']}: {r['reason']}"
        lines.append(f"{r['exercise']:<{width}}  {r['points']:>3g}/{r['max_points']:<3g} "
                     f"{r['score']:>5.0%}  {why}")
        if verbose:
            for test in r["tests"]:
                if not test["passed"]:
                    lines.append(f"    {test['test']}: {test['reason']}")
                    for path, line, func, text in test["frames"]:
                        lines.append(f"        {path}:{line} in {func}: {text}")
    t = summary["total"]
    lines.append(f"{'total':<{width}}  {t['points']:>3g}/{t['max_points']:<3g} {t['score']:>5.0%}")
    return "\n".join(lines)


def check(exercise=None, student_dir=".", verbose=True, course=None, file=None):
    """A student's check of one exercise (public tests only, same sandbox); prints, returns.

    In a notebook: `from minimal_unet.assignment import check; check("relu_forward_naive")`
    (student_dir: the student copy's root, found from the current folder upwards).
    """
    root = Path(student_dir).resolve()
    for candidate in (root, *root.parents):
        if (candidate / "minimal_unet" / "__init__.py").is_file():
            root = candidate
            break
    if exercise is None:  # every exercise assigned in this copy (written by `make`)
        plan = root / "course_copy.json"
        names = json.loads(plan.read_text())["exercises"] if plan.is_file() else None
    else:
        names = [exercise]
    summary = grade(root, exercises=names, course=course, public_only=True, verbose=True)
    print(format_table(summary, verbose=verbose), file=file or sys.stdout)
    return summary
