"""Course assignments made from the library's own source: student copies, a fair grader.

    minimal-unet assignment make --out hw/ [--part N | --exercises a,b] [--course c.json]
    minimal-unet assignment grade hw/ [--part N] [--json scores.json] [--verbose] [--bughunt]
    minimal-unet assignment check relu_forward_naive       (a student, in the copy)
    minimal-unet assignment submit --out submission.zip    (a student, in the copy)
    minimal-unet assignment autograder --part N --out autograder.zip   (Gradescope)
    minimal-unet assignment classroom --part N --out autograding.json  (GitHub Classroom)
    minimal-unet assignment course --out course.json       (the default plan, to edit)
    (or `python -m minimal_unet.assignment ...`, the same commands)

Modules:
    regions     the `# BEGIN SOLUTION` / `# END SOLUTION` markers, found and stripped
    course      the course plan (parts, points, hidden tests) and the rules per exercise
    make        the student copy of one part, its ASSIGNMENT.md
    sandbox     one child process per exercise (time and memory limits), the grader's side
    _child      the child: imports the student's package, traps forbidden callables
    grade       grading and the students' `check`, judged in the grader's process
    gradescope  the Gradescope autograder zip, GitHub Classroom's tests, `submit`

The rules of fair grading are in docs/assignments.md (and each copy's ASSIGNMENT.md).
"""

import argparse
import sys
from pathlib import Path

from minimal_unet.assignment.course import load_course, write_default_course
from minimal_unet.assignment.grade import GradingError, check, format_table, grade  # noqa: F401
from minimal_unet.assignment.make import make_student_copy
from minimal_unet.assignment.regions import (  # noqa: F401
    BEGIN_MARKER,
    END_MARKER,
    HINT_PREFIX,
    Region,
    find_regions,
    strip_solutions,
)


def find_exercises(root=None):
    """Every marked region in the package under `root` (a checkout or a student copy)."""
    root = Path(__file__).resolve().parents[2] if root is None else Path(root)
    package = root / "minimal_unet"
    regions = []
    for path in sorted(package.rglob("*.py")):
        regions.extend(find_regions(path.read_text(), path.relative_to(root)))
    return regions


def _exercise_list(text):
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


def _run(args):
    from minimal_unet.assignment import gradescope

    command = args.assignment_command
    if command == "make":
        located = make_student_copy(args.out, force=args.force, part=args.part,
                                    exercises=_exercise_list(args.exercises), course=args.course)
        from minimal_unet.assignment.make import teacher_file

        print(f"student copy written to {Path(args.out).resolve()}: {len(located)} exercises")
        print(f"teacher's course file (the bug hunt's key; keep it, do not hand it out): "
              f"{teacher_file(args.out)}")
        for name, path, line in located:
            print(f"  {name:<34} {path}:{line}")
        return 0
    if command == "course":
        print(f"course plan written to {write_default_course(args.out)}")
        return 0
    if command == "autograder":
        print(f"Gradescope autograder written to "
              f"{gradescope.write_autograder(args.out, part=args.part, course=args.course)}")
        return 0
    if command == "classroom":
        print(f"GitHub Classroom tests written to "
              f"{gradescope.write_classroom(args.out, part=args.part, course=args.course)}")
        return 0
    if command == "submit":
        print(f"submission written to {gradescope.write_submission(args.out, args.dir)}")
        return 0
    if command == "check":
        names = None if args.all else [args.exercise] if args.exercise else None
        if names is None and not args.all:
            raise ValueError("check: expected an exercise name or --all, got neither")
        summary = check(names[0] if names else None, args.dir, verbose=not args.brief)
        return 0 if summary["total"]["full_marks"] else 1
    try:
        summary = grade(args.student_dir, json_path=args.json, part=args.part,
                        exercises=_exercise_list(args.exercises), course=args.course,
                        verbose=args.verbose, bughunt=args.bughunt)
    except GradingError as error:
        print(f"grading failed: {error}", file=sys.stderr)
        return 2
    print(format_table(summary, verbose=args.verbose))
    if args.bughunt:
        from minimal_unet.bughunt import format_answers

        print(format_answers(summary["bughunt"]))
    return 0


def _configure(parser):
    """Give `parser` the assignment commands (see the module docstring)."""
    commands = parser.add_subparsers(dest="assignment_command", required=True)
    make = commands.add_parser("make", help="write the student copy of the package")
    make.add_argument("--out", required=True, help="folder to write (new or empty)")
    make.add_argument("--force", action="store_true", help="replace a non-empty --out")
    grade_parser = commands.add_parser("grade", help="grade a student copy (sandboxed)")
    grade_parser.add_argument("student_dir", help="the student copy's root folder")
    grade_parser.add_argument("--json", help="also write the scores to this JSON file")
    grade_parser.add_argument("--verbose", action="store_true",
                              help="every failing test, with the student's file and line")
    grade_parser.add_argument("--bughunt", action="store_true",
                              help="also grade <student_dir>/bughunt_answers.json (the key: "
                              "--course DIR.teacher.json, written by make)")
    for sub in (make, grade_parser):
        sub.add_argument("--part", type=int, default=None, help="only this part of the course")
        sub.add_argument("--exercises", default=None, help="only these exercises, a,b,c")
    for sub in (make, grade_parser):
        sub.add_argument("--course", default=None, help="course JSON file (default: shipped)")
    check_parser = commands.add_parser("check", help="check your exercise (public tests)")
    check_parser.add_argument("exercise", nargs="?", help="e.g. relu_forward_naive")
    check_parser.add_argument("--all", action="store_true", help="every exercise of the copy")
    check_parser.add_argument("--dir", default=".", help="the student copy (default: here)")
    check_parser.add_argument("--brief", action="store_true", help="no tracebacks")
    submit = commands.add_parser("submit", help="zip your work for Gradescope")
    submit.add_argument("--out", default="submission.zip", help="zip to write (new file)")
    submit.add_argument("--dir", default=".", help="the student copy (default: here)")
    auto = commands.add_parser("autograder", help="write a Gradescope autograder zip")
    classroom = commands.add_parser("classroom", help="write GitHub Classroom's autograding.json")
    for sub in (auto, classroom):
        sub.add_argument("--part", type=int, default=None, help="only this part of the course")
        sub.add_argument("--out", required=True, help="file to write (new)")
        sub.add_argument("--course", default=None, help="course JSON file (default: shipped)")
    course = commands.add_parser("course", help="write the default course plan to edit")
    course.add_argument("--out", required=True, help="JSON file to write (new)")
    parser.set_defaults(func=_run)
    return parser


def add_assignment_parser(subparsers):
    """Add the `assignment` commands to the CLI's argparse subparsers."""
    return _configure(subparsers.add_parser(
        "assignment", help="course assignments: make, grade, check, submit, autograder"))


def main(argv=None):
    """`python -m minimal_unet.assignment ...`; returns the exit code."""
    parser = _configure(argparse.ArgumentParser(prog="python -m minimal_unet.assignment"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


__all__ = ["check", "grade", "make_student_copy", "load_course", "find_regions",
           "strip_solutions", "format_table", "main", "add_assignment_parser"]
